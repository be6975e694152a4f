import { describe, expect, it } from 'vitest';
import { ConfigSchema, type Config } from '../config/schema.js';
import { Runaway } from './runaway.js';
import { GLOBAL, scopeId } from './scope.js';
import { newScope, type ScopeState } from './state.js';
import { EngineDriver } from './testing.js';

/**
 * The breakers' contract (SPEC §3) checked on `Runaway` itself with an injected clock: burn-rate
 * windows longer than 10 minutes, half-open trials, the user breaker's default, views that do
 * not write, `tick`, and the memory bound (`isQuiet`, `forget`).
 */

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const nano = (usd: number): number => Math.round(usd * 1e9);

function chainOf(agent = 'a', user = 'u'): ScopeState[] {
  const g = newScope(GLOBAL, null);
  const u = newScope(scopeId('user', user), g);
  const s = newScope(scopeId('session', 's'), u);
  const t = newScope(scopeId('task', 't'), s);
  return [g, u, s, t, newScope(scopeId('agent', agent), t)];
}

function runaway(config: unknown): { r: Runaway; alerts: string[] } {
  const alerts: string[] = [];
  const r = new Runaway(ConfigSchema.parse(config) as Config, (_level, kind, scope, message) => alerts.push(`${kind} ${scope}: ${message}`));
  return { r, alerts };
}

const frame = (): { cost_usd: number } => ({ cost_usd: 0.01 });
const gateAt = (r: Runaway, chain: ScopeState[], now: number, f: object = frame()) => r.gate(chain, f, () => 0.01, now, () => ({}));

/** Spend as the engine reports it: into each scope's BurnMeter, then `spent` for the chain. */
function spend(r: Runaway, chain: ScopeState[], now: number, usd: number): void {
  for (const s of chain) s.burn.add(now, nano(usd));
  r.spent(chain, now);
}

/** Spends `usd` every `everyMs` until the burn-rate breaker refuses; returns when and how much. */
function spendUntilOpen(r: Runaway, chain: ScopeState[], usd: number, everyMs: number, steps: number): { at: number; spent: number } | null {
  for (let i = 0; i < steps; i++) {
    const now = T0 + i * everyMs;
    const refusal = gateAt(r, chain, now);
    if (refusal) {
      expect(refusal).toMatchObject({ code: 'CIRCUIT_OPEN' });
      return { at: now - T0, spent: i * usd };
    }
    spend(r, chain, now, usd);
  }
  return null;
}

describe('burn-rate breaker windows longer than 10 minutes', () => {
  it('$0.50 every 2.5 min trips `$5 / 1h` once $5.50 is within the hour (the 10-min meter saw $2)', () => {
    const { r, alerts } = runaway({ breakers: { burn_rate: { window: '1h', cost_usd: 5, cooldown: '20m' } } });
    const chain = chainOf();
    const stop = spendUntilOpen(r, chain, 0.5, 2.5 * MIN, 24);
    // The 11th spend ($5.50, at 25 min) trips it; the 12th request is refused.
    expect(stop).toEqual({ at: 27.5 * MIN, spent: 5.5 });
    expect(alerts.find((a) => a.startsWith('breaker task:t'))).toMatch(/spent \$5\.50 within 1h \(limit \$5 per 1h\)/);
    expect(r.breakerState(chain[3] as ScopeState, T0 + 27.5 * MIN)).toBe('open');
  });

  it('$1 an hour trips `$5 / 24h` at the 6th dollar; spend older than the window no longer counts', () => {
    const { r } = runaway({ breakers: { burn_rate: { window: '24h', cost_usd: 5, cooldown: '2h' } } });
    expect(spendUntilOpen(r, chainOf(), 1, HOUR, 48)).toEqual({ at: 6 * HOUR, spent: 6 });
    // Sliding: $4 yesterday and $2 now (25 h apart) is $2 within the window, not $6.
    const slid = runaway({ breakers: { burn_rate: { window: '24h', cost_usd: 5 } } }).r;
    const chain = chainOf();
    spend(slid, chain, T0, 4);
    spend(slid, chain, T0 + 25 * HOUR, 2);
    expect(gateAt(slid, chain, T0 + 25 * HOUR + 1)).toBeUndefined();
    spend(slid, chain, T0 + 25 * HOUR + 2, 3.5);
    expect(gateAt(slid, chain, T0 + 25 * HOUR + 3)).toMatchObject({ code: 'CIRCUIT_OPEN', scope: { id: 'task:t' } });
  });

  it('a config reload to a longer window keeps the history: $4 then $2 within the hour trips `$5 / 1h`', () => {
    const { r } = runaway({ breakers: { burn_rate: { window: '10m', cost_usd: 5 } } });
    const chain = chainOf();
    r.spent(chain, T0, nano(4));
    r.setConfig(ConfigSchema.parse({ breakers: { burn_rate: { window: '1h', cost_usd: 5 } } }) as Config);
    r.spent(chain, T0 + 30 * MIN, nano(2));
    expect(gateAt(r, chain, T0 + 30 * MIN + 1)).toMatchObject({ code: 'CIRCUIT_OPEN' });
  });

  it('through the engine: $12 within an hour in $0.50 steps trips `$5 / 1h` at $5.50', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 100 } }, breakers: { burn_rate: { window: '1h', cost_usd: 5, cooldown: '20m' } } });
    const c = d.connect({ agent: 'slow', session: 's', task: 'hour' });
    let deny: ReturnType<typeof d.request> | undefined;
    for (let i = 0; i < 24 && !deny; i++) {
      const r = d.request(c, { type: 'spend', id: `s${i}`, key: `k${i}`, cost_usd: 0.5 });
      expect(r.type).toBe('ack');
      d.advance(2.5 * MIN);
      const probe = d.request(c, { type: 'reserve', id: `r${i}`, cost_usd: 0.001 });
      if (probe.type === 'deny') deny = probe;
      else if (probe.type === 'grant') d.request(c, { type: 'release', id: `l${i}`, reservation: probe.reservation });
    }
    expect(deny).toMatchObject({ code: 'CIRCUIT_OPEN', scope: 'task:hour' });
    expect(d.ledgerCostNano('task:hour')).toBe(nano(5.5));
  });
});

describe('half-open admits at most `half_open` trials', () => {
  /** Trips the agent's breaker with 5 budget denials at T0; it half-opens at T0 + 5 min. */
  function tripped(config: unknown = {}): { r: Runaway; chain: ScopeState[] } {
    const { r } = runaway({ breakers: { denials: { threshold: 5, reset: '5m', half_open: 3, user_threshold: 100 } }, ...(config as object) });
    const chain = chainOf();
    for (let i = 0; i < 5; i++) r.recordDenial(chain, 'BUDGET_EXCEEDED', T0);
    expect(gateAt(r, chain, T0 + 1)).toMatchObject({ code: 'CIRCUIT_OPEN', scope: { id: 'agent:a' } });
    return { r, chain };
  }

  it('10 requests while 3 trials are undecided (parked for the operator): 3 admitted, 7 refused CIRCUIT_OPEN', () => {
    const { r, chain } = tripped();
    const at = T0 + 5 * MIN;
    const outcomes = Array.from({ length: 10 }, () => gateAt(r, chain, at)?.code ?? 'admitted');
    expect(outcomes).toEqual([...Array(3).fill('admitted'), ...Array(7).fill('CIRCUIT_OPEN')]);
    expect(gateAt(r, chain, at)).toMatchObject({ code: 'CIRCUIT_OPEN', scope: { id: 'agent:a' }, retry_after_ms: 1_000 });
  });

  it('a parked trial re-gated when the operator answers keeps its slot; 3 granted trials close the breaker', () => {
    const { r, chain } = tripped();
    const at = T0 + 5 * MIN;
    const parked = [frame(), frame(), frame()];
    for (const f of parked) expect(gateAt(r, chain, at, f)).toBeUndefined();
    expect(gateAt(r, chain, at)?.code).toBe('CIRCUIT_OPEN');
    for (const [i, f] of parked.entries()) {
      expect(gateAt(r, chain, at + i + 1, f)).toBeUndefined();
      r.recordGrant(chain, at + i + 1);
    }
    expect(r.breakerState(chain[4] as ScopeState, at + 10)).toBe('closed');
  });

  it('a denied trial re-opens the breaker; undecided trials lapse after approvals.timeout', () => {
    const { r, chain } = tripped({ approvals: { timeout: '2m' } });
    const at = T0 + 5 * MIN;
    for (let i = 0; i < 3; i++) expect(gateAt(r, chain, at)).toBeUndefined();
    expect(gateAt(r, chain, at + 2 * MIN - 1)?.code).toBe('CIRCUIT_OPEN');
    expect(gateAt(r, chain, at + 2 * MIN)).toBeUndefined(); // the three lapsed: a new trial
    r.recordDenial(chain, 'BUDGET_EXCEEDED', at + 2 * MIN);
    expect(r.breakerState(chain[4] as ScopeState, at + 2 * MIN)).toBe('open');
  });

  it('a reload lowering half_open below the trials already granted closes the breaker instead of refusing for ever', () => {
    const { r, chain } = tripped();
    const at = T0 + 5 * MIN;
    for (let i = 0; i < 2; i++) {
      expect(gateAt(r, chain, at)).toBeUndefined();
      r.recordGrant(chain, at);
    }
    r.setConfig(ConfigSchema.parse({ breakers: { denials: { threshold: 5, reset: '5m', half_open: 1, user_threshold: 100 } } }) as Config);
    expect(r.breakerState(chain[4] as ScopeState, at)).toBe('closed');
    expect(gateAt(r, chain, at)).toBeUndefined();
  });

  it('through the engine: requests parked by an approval limit while half-open take the 3 trial slots', () => {
    const d = new EngineDriver({
      limits: { task: { cost_usd: 1, mode: 'approval' } },
      tools: { default: 'auto', rm_rf: 'deny' },
      breakers: { denials: { threshold: 5, reset: '5m', half_open: 3, user_threshold: 100 } },
    });
    const c = d.connect({ agent: 'parker', session: 's', task: 'p' });
    for (let i = 0; i < 5; i++) expect(d.request(c, { type: 'reserve', id: `rm${i}`, tool: 'rm_rf', cost_usd: 0.01 })).toMatchObject({ code: 'TOOL_DENIED' });
    expect(d.request(c, { type: 'reserve', id: 'early', cost_usd: 0.01 })).toMatchObject({ code: 'CIRCUIT_OPEN' });
    d.advance(5 * MIN);
    const replies = Array.from({ length: 10 }, (_, i) => d.request(c, { type: 'reserve', id: `big${i}`, cost_usd: 2 }));
    expect(replies.map((r) => (r.type === 'deny' ? r.code : r.type))).toEqual([...Array(3).fill('pending'), ...Array(7).fill('CIRCUIT_OPEN')]);
  });
});

describe('the user breaker follows `threshold` unless user_threshold is set (SPEC §3: N for agents and users)', () => {
  it('defaults: denials of 5 of a user\'s agents in a row (no grant between) open the user breaker', () => {
    const { r } = runaway({});
    const a = chainOf('a', 'carol');
    const agents = [0, 1, 2, 3, 4].map((i) => [...a.slice(0, 4), newScope(scopeId('agent', `fleet-${i}`), a[3] as ScopeState)]);
    for (let i = 0; i < 4; i++) r.recordDenial(agents[i] as ScopeState[], 'BUDGET_EXCEEDED', T0);
    expect(r.breakerState(a[1] as ScopeState, T0)).toBe('closed');
    r.recordDenial(agents[4] as ScopeState[], 'BUDGET_EXCEEDED', T0);
    expect(r.breakerState(a[1] as ScopeState, T0)).toBe('open');
  });

  it('one stubborn agent trips only its own breaker: its user\'s other agents go on', () => {
    const { r } = runaway({});
    const a = chainOf('a', 'carol');
    for (let i = 0; i < 20; i++) r.recordDenial(a, 'LOOP_DETECTED', T0);
    expect(r.breakerState(a[4] as ScopeState, T0)).toBe('open');
    expect(r.breakerState(a[1] as ScopeState, T0)).toBe('closed');
  });

  it('a grant to any agent of the user starts the count again', () => {
    const { r } = runaway({});
    const a = chainOf('a', 'carol');
    const agents = [0, 1, 2, 3, 4, 5].map((i) => [...a.slice(0, 4), newScope(scopeId('agent', `fleet-${i}`), a[3] as ScopeState)]);
    for (let i = 0; i < 4; i++) r.recordDenial(agents[i] as ScopeState[], 'BUDGET_EXCEEDED', T0);
    r.recordGrant(agents[5] as ScopeState[], T0);
    for (let i = 0; i < 4; i++) r.recordDenial(agents[i] as ScopeState[], 'BUDGET_EXCEEDED', T0);
    expect(r.breakerState(a[1] as ScopeState, T0)).toBe('closed');
  });
});

describe('views do not write; tick moves time-based state', () => {
  it('breakerState is pure; tick reports open → half-open once', () => {
    const { r } = runaway({ breakers: { denials: { threshold: 1, reset: '1m', user_threshold: 100 } } });
    const chain = chainOf();
    const agent = chain[4] as ScopeState;
    r.recordDenial(chain, 'BUDGET_EXCEEDED', T0);
    expect(r.breakerState(agent, T0 + MIN)).toBe('half-open');
    expect(r.breakerState(agent, T0)).toBe('open'); // asking about later changed nothing
    expect(r.tick(T0 + MIN - 1)).toEqual([]);
    expect(r.tick(T0 + MIN).map((s) => s.id)).toEqual(['agent:a']);
    expect(r.tick(T0 + MIN + 1)).toEqual([]);
    expect(r.breakerState(agent, T0 + MIN + 1)).toBe('half-open');
  });

  it('a burn-rate cooldown ends by time alone: pure view before, reported by tick at its end', () => {
    const { r } = runaway({ breakers: { burn_rate: { window: '10m', cost_usd: 1, cooldown: '2m' } } });
    const chain = chainOf();
    spend(r, chain, T0, 2);
    expect(r.breakerState(chain[3] as ScopeState, T0 + 2 * MIN)).toBe('closed');
    expect(r.breakerState(chain[3] as ScopeState, T0 + 2 * MIN - 1)).toBe('open');
    expect(r.tick(T0 + 2 * MIN - 1)).toEqual([]);
    expect(r.tick(T0 + 2 * MIN).map((s) => s.id)).toEqual(['task:t', 'agent:a']);
    expect(r.tick(T0 + 2 * MIN + 1)).toEqual([]);
  });

  it('without a tick, a request after the reset is a half-open trial', () => {
    const { r } = runaway({ breakers: { denials: { threshold: 1, reset: '1m', half_open: 1, user_threshold: 100 } } });
    const chain = chainOf();
    r.recordDenial(chain, 'BUDGET_EXCEEDED', T0);
    expect(gateAt(r, chain, T0 + MIN)).toBeUndefined();
    expect(gateAt(r, chain, T0 + MIN)?.code).toBe('CIRCUIT_OPEN'); // its one trial is taken
    r.recordGrant(chain, T0 + MIN);
    expect(r.breakerState(chain[4] as ScopeState, T0 + MIN)).toBe('closed');
  });
});

describe('memory: every scope can be forgotten once quiet', () => {
  it('isQuiet until in-flight, recent calls, children, breakers and burn windows have passed; forget drops it', () => {
    const { r } = runaway({ breakers: { denials: { threshold: 1, reset: '1m' }, burn_rate: { window: '1h', cost_usd: 100 } } });
    const chain = chainOf();
    const agent = chain[4] as ScopeState;
    const child = newScope(scopeId('agent', 'kid'), agent);
    expect(r.isQuiet(agent, T0)).toBe(true);
    r.granted(chain, T0);
    expect(r.isQuiet(agent, T0)).toBe(false); // in flight
    r.settled(chain);
    expect(r.isQuiet(agent, T0 + MIN - 1)).toBe(false); // a call within the last minute
    expect(r.isQuiet(agent, T0 + MIN)).toBe(true);
    r.adopt(agent, child);
    expect(r.isQuiet(agent, T0 + MIN)).toBe(false);
    r.release(child);
    expect(r.isQuiet(agent, T0 + MIN)).toBe(true);
    spend(r, chain, T0, 1);
    expect(r.isQuiet(agent, T0 + HOUR - 1)).toBe(false); // spend inside the burn window
    expect(r.isQuiet(agent, T0 + HOUR)).toBe(true);
    r.recordDenial(chain, 'BUDGET_EXCEEDED', T0 + HOUR);
    expect(r.isQuiet(agent, T0 + HOUR + MIN - 1)).toBe(false); // open
    expect(r.isQuiet(agent, T0 + HOUR + 2 * MIN - 1)).toBe(false); // half-open, waiting for a trial
    expect(r.isQuiet(agent, T0 + HOUR + 2 * MIN)).toBe(true);
    r.forget(agent);
    expect(r.breakerState(agent, T0 + HOUR + 2 * MIN)).toBe('closed');
  });

  it('forgetting a parent releases its children; tick sweeps stale call lists', () => {
    const { r } = runaway({ detectors: { fanout: { children: 1 } } });
    const chain = chainOf();
    const agent = chain[4] as ScopeState;
    const kid = newScope(scopeId('agent', 'kid'), agent);
    r.adopt(agent, kid);
    expect(r.fanout(chain, agent, newScope(scopeId('agent', 'kid2'), agent))?.code).toBe('FANOUT_LIMIT');
    r.forget(agent);
    expect(r.isQuiet(kid, T0)).toBe(true);
    expect(r.children.size).toBe(0);
    r.granted(chain, T0);
    r.settled(chain);
    r.tick(T0 + MIN);
    expect(chain.every((s) => r.isQuiet(s, T0 + MIN))).toBe(true);
  });
});
