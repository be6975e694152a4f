import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../config/schema.js';
import { promptsJson, scopeStatus } from './status.js';
import { EngineDriver } from './testing.js';

const hello = { agent: 'a1', session: 's1', task: 't1' };

describe('engine: limit rules', () => {
  it('soft mode allows and warns', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 0.1, mode: 'soft' } } });
    const c = d.connect(hello);
    const g = d.request(c, { type: 'reserve', id: 'r', cost_usd: 0.5 });
    expect(g).toMatchObject({ type: 'grant', pressure: 'exceeded' });
    expect(g.type === 'grant' && g.warnings.some((w) => w.startsWith('soft limit: task:t1'))).toBe(true);
  });

  it('once lets one request through an approval limit, and only that one', () => {
    const d = new EngineDriver({ limits: { session: { cost_usd: 1, mode: 'approval' } } });
    const c = d.connect(hello);
    const p = d.request(c, { type: 'reserve', id: 'r1', cost_usd: 1.2 });
    if (p.type !== 'pending') throw new Error(JSON.stringify(p));
    d.operator({ type: 'grant', id: 'o', target: p.prompt, once: true });
    expect(d.frames(c).at(-1)).toMatchObject({ type: 'grant', id: 'r1' });
    expect(d.request(c, { type: 'reserve', id: 'r2', cost_usd: 0.01 }).type).toBe('pending');
  });

  it('critical requests get the grace overdraft once per scope, on an approval limit instead of a prompt', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'approval' } } });
    const c = d.connect(hello);
    expect(d.request(c, { type: 'reserve', id: 'r1', cost_usd: 0.95 }).type).toBe('grant');
    expect(d.request(c, { type: 'reserve', id: 'r2', cost_usd: 0.1 })).toMatchObject({ type: 'pending' });
    expect(d.request(c, { type: 'reserve', id: 'r3', cost_usd: 0.1, critical: true })).toMatchObject({ type: 'grant' });
    expect(d.request(c, { type: 'reserve', id: 'r4', cost_usd: 0.01, critical: true })).toMatchObject({ type: 'pending' });
  });

  it('grace never covers more than the configured overdraft', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'approval' } }, approvals: { grace: { cost_usd: 0.05 } } });
    const c = d.connect(hello);
    expect(d.request(c, { type: 'reserve', id: 'r1', cost_usd: 1 }).type).toBe('grant');
    expect(d.request(c, { type: 'reserve', id: 'r2', cost_usd: 0.06, critical: true }).type).toBe('pending');
    expect(d.request(c, { type: 'reserve', id: 'r3', cost_usd: 0.05, critical: true }).type).toBe('grant');
  });

  it('grace never covers a hard limit above the approval one', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'approval' }, session: { cost_usd: 1.02, mode: 'hard' } }, approvals: { grace: { cost_usd: 0.05 } } });
    const c = d.connect(hello);
    expect(d.request(c, { type: 'reserve', id: 'r1', cost_usd: 1 }).type).toBe('grant');
    expect(d.request(c, { type: 'reserve', id: 'r2', cost_usd: 0.03, critical: true })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'session:s1' });
    expect(d.request(c, { type: 'reserve', id: 'r3', cost_usd: 0.02, critical: true }).type).toBe('grant');
  });

  it('per_day windows reset at the day boundary of the configured time zone', () => {
    const start = Date.UTC(2026, 10, 24, 22, 30); // 23:30 in Europe/Berlin
    const d = new EngineDriver({ timezone: 'Europe/Berlin', limits: { global: { per_day: { cost_usd: 1 }, mode: 'hard' } } }, { now: start });
    const c = d.connect(hello);
    expect(d.request(c, { type: 'spend', id: 's', key: 'k1', cost_usd: 1 })).toMatchObject({ type: 'ack' });
    expect(d.request(c, { type: 'reserve', id: 'r1', cost_usd: 0.1 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'global' });
    d.advance(31 * 60_000); // 00:01 Berlin, next day
    expect(d.request(c, { type: 'reserve', id: 'r2', cost_usd: 0.1 }).type).toBe('grant');
  });

  it('wall_time denies a task older than its limit', () => {
    const d = new EngineDriver({ limits: { task: { wall_time: '30m', mode: 'hard' } } });
    const c = d.connect(hello);
    d.request(c, { type: 'spend', id: 's', key: 'k1', cost_usd: 0.01 });
    d.advance(29 * 60_000);
    expect(d.request(c, { type: 'reserve', id: 'r1', cost_usd: 0.01 }).type).toBe('grant');
    d.advance(2 * 60_000);
    expect(d.request(c, { type: 'reserve', id: 'r2', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'task:t1' });
  });

  it('max_share caps one agent at its share of the parent', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' }, agent: { max_share: 0.5 } } });
    const a = d.connect(hello);
    const b = d.connect({ ...hello, agent: 'a2' });
    expect(d.request(a, { type: 'reserve', id: 'r1', cost_usd: 0.5 }).type).toBe('grant');
    expect(d.request(a, { type: 'reserve', id: 'r2', cost_usd: 0.01 })).toMatchObject({ type: 'deny', scope: 'agent:a1' });
    expect(d.request(b, { type: 'reserve', id: 'r3', cost_usd: 0.5 }).type).toBe('grant');
  });

  it("min_share keeps each connected sibling's share out of a greedy agent's reach; a gone sibling keeps none", () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' }, agent: { max_share: 0.9, min_share: 0.2 } } });
    const greedy = d.connect(hello);
    const quiet = d.connect({ ...hello, agent: 'a2' });
    expect(d.request(greedy, { type: 'reserve', id: 'r1', cost_usd: 0.81 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'task:t1' });
    expect(d.request(greedy, { type: 'reserve', id: 'r2', cost_usd: 0.8 }).type).toBe('grant');
    expect(d.request(quiet, { type: 'reserve', id: 'r3', cost_usd: 0.2 }).type).toBe('grant');
    d.disconnect(quiet);
    const late = d.connect({ ...hello, agent: 'a3' });
    d.disconnect(late);
    // a2 still holds its $0.20 reservation until its lease ends; a3 is gone and keeps nothing.
    expect(d.request(greedy, { type: 'reserve', id: 'r4', cost_usd: 0.01 })).toMatchObject({ type: 'deny', scope: 'task:t1' });
  });

  it('min_share shares that add up to more than the whole are scaled down, never refusing everyone; delegate honours them too', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1.1, mode: 'hard' }, agent: { min_share: 0.1 } } });
    const conns = Array.from({ length: 11 }, (_, i) => d.connect({ ...hello, agent: `m${i}` }));
    // 11 × 10 % = 110 %: each keeps 1/11 of the task, $0.10 here.
    expect(d.request(conns[0] as number, { type: 'reserve', id: 'r', cost_usd: 0.1 }).type).toBe('grant');
    expect(d.request(conns[0] as number, { type: 'reserve', id: 'r2', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    const e = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' }, agent: { min_share: 0.4 } } });
    const greedy = e.connect(hello);
    e.connect({ ...hello, agent: 'quiet' });
    expect(e.request(greedy, { type: 'delegate', id: 'd', child: 'kid', limits: { cost_usd: 0.61 } })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    expect(e.request(greedy, { type: 'delegate', id: 'd2', child: 'kid', limits: { cost_usd: 0.6 } }).type).toBe('delegated');
  });

  it("max_share applies to the parent's calendar windows too", () => {
    const d = new EngineDriver({ limits: { user: { per_day: { cost_usd: 1 }, mode: 'hard' }, session: { max_share: 0.25 } } });
    const c = d.connect(hello);
    expect(d.request(c, { type: 'reserve', id: 'w1', cost_usd: 0.26 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'session:s1' });
    expect(d.request(c, { type: 'reserve', id: 'w2', cost_usd: 0.25 }).type).toBe('grant');
  });

  it('burn rate: — until there is enough data, then $/min and tokens/min over 1 and 10 minutes and when the nearest limit runs out', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 100, tokens: 500_000, mode: 'hard' } } });
    const c = d.connect(hello);
    const task = () => scopeStatus(d.engine.view, d.engine.scopes.get('task:t1' as never) as never);
    d.request(c, { type: 'spend', id: 's0', key: 'k0', cost_usd: 0.1, input_tokens: 1000, output_tokens: 0 });
    expect(task()).toMatchObject({ burn_usd_per_min_1m: null, burn_tokens_per_min_1m: null, exhaustion_ms: null });
    // $0.10 and 1,000 tokens every 10 s for 3 minutes: $0.60 and 6,000 tokens a minute.
    for (let i = 1; i <= 18; i++) {
      d.advance(10_000);
      d.request(c, { type: 'spend', id: `s${i}`, key: `k${i}`, cost_usd: 0.1, input_tokens: 1000, output_tokens: 0 });
    }
    const t = task();
    expect(t.burn_usd_per_min_1m).toBeCloseTo(0.6, 6);
    expect(t.burn_tokens_per_min_1m).toBe(6000);
    expect(t.burn_usd_per_min_10m).toBeCloseTo(1.9 / 3, 6); // 19 spends over the 3 minutes seen
    // Tokens run out first: 481,000 left at 6,000/min (cost would last $98.10 / $0.60 = 163.5 min).
    expect(t.exhaustion_ms).toBe(Math.round(((500_000 - 19_000) / 6000) * 60_000));
  });

  it('issue 13: no run-out time without a burn to project it from, or without a limit to run out of', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const c = d.connect(hello);
    const status = (id: string) => scopeStatus(d.engine.view, d.engine.scopes.get(id as never) as never);
    // Free calls for 3 minutes: the rate is known and it is zero — nothing runs out, not "in 0s".
    for (let i = 0; i <= 18; i++) {
      d.request(c, { type: 'spend', id: `z${i}`, key: `z${i}`, cost_usd: 0, input_tokens: 0, output_tokens: 0 });
      d.advance(10_000);
    }
    expect(status('task:t1')).toMatchObject({ burn_usd_per_min_1m: 0, exhaustion_ms: null });
    // Now it burns: the task (limited) gets a projection, the agent (no limit of its own) none.
    for (let i = 0; i <= 12; i++) {
      d.request(c, { type: 'spend', id: `p${i}`, key: `p${i}`, cost_usd: 0.01 });
      d.advance(5_000);
    }
    expect(status('task:t1').exhaustion_ms).toBeGreaterThan(0);
    expect(status('agent:a1').burn_usd_per_min_1m).toBeGreaterThan(0);
    expect(status('agent:a1').exhaustion_ms).toBeNull();
  });

  it('issue 13: overshoot alerts once per crossing of a limit, not once per spend over it', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const c = d.connect(hello);
    const overshoots = () => d.engine.alerts.filter((a) => a.kind === 'overshoot').length;
    expect(d.request(c, { type: 'spend', id: 's0', key: 'k0', cost_usd: 0.9 })).toMatchObject({ over: false });
    for (let i = 1; i <= 5; i++) expect(d.request(c, { type: 'spend', id: `s${i}`, key: `k${i}`, cost_usd: 0.2 })).toMatchObject({ over: true });
    expect(overshoots()).toBe(1);
    // The operator lifts the limit: back under it, the next crossing alerts again.
    d.operator({ type: 'grant', id: 'g', target: 'task:t1', add_usd: 5, confirmed: true });
    expect(d.request(c, { type: 'spend', id: 'u', key: 'ku', cost_usd: 0.1 })).toMatchObject({ over: false });
    expect(overshoots()).toBe(1);
    d.request(c, { type: 'spend', id: 'big', key: 'kbig', cost_usd: 5 });
    expect(overshoots()).toBe(2);
  });

  it('a prompt projects its spend against the limit that binds it, a per_day window included', () => {
    const d = new EngineDriver({ limits: { session: { cost_usd: 50, per_day: { cost_usd: 1 }, mode: 'approval' } } });
    const c = d.connect(hello);
    expect(d.request(c, { type: 'spend', id: 's', key: 'k', cost_usd: 0.9 }).type).toBe('ack');
    d.send(c, { type: 'reserve', id: 'r', cost_usd: 0.3 });
    expect(promptsJson(d.engine.view)).toMatchObject([{ scope: 'session:s1', cost_usd: 0.3, projected_usd: 1.2, limit_usd: 1 }]);
  });

  it('calls, per-model tokens and ops limits are enforced', () => {
    const d = new EngineDriver({ limits: { task: { calls: 2, models: { big: { tokens: 1000 } }, ops: { bash: 1 }, mode: 'hard' } } });
    const c = d.connect(hello);
    expect(d.request(c, { type: 'reserve', id: 'm1', model: 'big', input_tokens: 900, max_output_tokens: 500 })).toMatchObject({ type: 'grant', max_output_tokens: 100 });
    expect(d.request(c, { type: 'reserve', id: 'o1', op: 'bash' }).type).toBe('grant');
    expect(d.request(c, { type: 'reserve', id: 'o2', op: 'bash' })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
  });

  it('an unknown model is priced at the default price with a warning, never free', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 100 } }, pricing: { default: { input: 1, output: 4 } } });
    const c = d.connect(hello);
    const g = d.request(c, { type: 'reserve', id: 'r', model: 'no-such-model-xyz', input_tokens: 1_000_000, max_output_tokens: 1_000_000 });
    expect(g).toMatchObject({ type: 'grant', cost_usd: 5 });
    expect(g.type === 'grant' && g.warnings.join()).toContain('no-such-model-xyz');
    const ack = d.request(c, { type: 'spend', id: 's', key: 'k', model: 'no-such-model-xyz', input_tokens: 1000, output_tokens: 1000 });
    expect(ack).toMatchObject({ cost_usd: 0.005, warnings: [expect.stringContaining('no-such-model-xyz has no known price')] });
    // A model the operator marked free costs nothing, silently; the catalog's real prices are exact.
    const z = new EngineDriver({ pricing: { default: { input: 1, output: 4 }, models: { freebie: { free: true } } } });
    const zc = z.connect(hello);
    const free = z.request(zc, { type: 'spend', id: 'z', key: 'z', model: 'freebie', input_tokens: 1_000_000, output_tokens: 1_000 });
    expect(free).toMatchObject({ cost_usd: 0 });
    expect(free).not.toHaveProperty('warnings');
    expect(z.request(zc, { type: 'spend', id: 'g', key: 'g', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 1_000_000 })).toMatchObject({ cost_usd: 12.5 });
    expect(z.request(zc, { type: 'spend', id: 'g2', key: 'g2', model: 'gpt-4o', input_tokens: 1, output_tokens: 0 })).not.toHaveProperty('warnings');
    // The operator hears of each default-priced model once, however often it is used.
    d.request(c, { type: 'spend', id: 's2', key: 'k2', model: 'no-such-model-xyz', input_tokens: 1, output_tokens: 1 });
    expect(d.engine.alerts.filter((a) => a.kind === 'pricing')).toHaveLength(1);
  });

  it('cache tokens are priced separately and do not count as tokens', () => {
    const d = new EngineDriver({ pricing: { models: { m: { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 } } }, limits: { task: { tokens: 1000, mode: 'hard' } } });
    const c = d.connect(hello);
    const ack = d.request(c, { type: 'spend', id: 's', key: 'k', model: 'm', input_tokens: 100, output_tokens: 100, cache_read_tokens: 1_000_000, cache_write_tokens: 1_000_000 });
    // 100·3 + 100·15 + 1e6·0.3 + 1e6·3.75 per million = 0.0003 + 0.0015 + 0.3 + 3.75
    expect(ack).toMatchObject({ type: 'ack', cost_usd: 4.0518, over: false });
  });

  it('a commit for an expired reservation is recorded like a spend; ids never issued are UNKNOWN_RESERVATION', () => {
    const d = new EngineDriver({ reservations: { lease: '10s' } });
    const c = d.connect(hello);
    const g = d.request(c, { type: 'reserve', id: 'r', cost_usd: 0.1 });
    if (g.type !== 'grant') throw new Error();
    d.advance(11_000);
    expect(d.engine.reservations.size).toBe(0);
    expect(d.request(c, { type: 'commit', id: 'c', reservation: g.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.05 })).toMatchObject({ type: 'ack', duplicate: false });
    expect(d.ledger).toHaveLength(1);
    expect(d.request(c, { type: 'commit', id: 'c2', reservation: 'r999-1', input_tokens: 0, output_tokens: 0 })).toMatchObject({ type: 'error', code: 'UNKNOWN_RESERVATION' });
  });

  it('adaptive sizing grants p99 of observed outputs instead of the requested maximum', () => {
    const d = new EngineDriver({ reservations: { adaptive: true }, pricing: { models: { m: { input: 1, output: 1 } } } });
    const c = d.connect(hello);
    for (let i = 0; i < 20; i++) {
      const g = d.request(c, { type: 'reserve', id: `r${i}`, model: 'm', input_tokens: 10 + i, max_output_tokens: 4000 });
      if (g.type !== 'grant') throw new Error(JSON.stringify(g));
      d.request(c, { type: 'commit', id: `c${i}`, reservation: g.reservation, model: 'm', input_tokens: 10 + i, output_tokens: 100 + i });
    }
    const g = d.request(c, { type: 'reserve', id: 'last', model: 'm', input_tokens: 10, max_output_tokens: 4000 });
    expect(g).toMatchObject({ type: 'grant', max_output_tokens: Math.ceil(119 * 1.2) });
  });

  it('threshold alerts fire once per crossing and re-arm when pressure falls', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const c = d.connect(hello);
    const g = d.request(c, { type: 'reserve', id: 'r1', cost_usd: 0.75 });
    d.request(c, { type: 'reserve', id: 'r2', cost_usd: 0.01 });
    const alerts = () => d.engine.alerts.filter((a) => a.kind === 'threshold' && a.scope === 'task:t1').length;
    expect(alerts()).toBe(1);
    if (g.type !== 'grant') throw new Error();
    d.request(c, { type: 'release', id: 'l', reservation: g.reservation });
    d.request(c, { type: 'reserve', id: 'r3', cost_usd: 0.95 });
    expect(alerts()).toBe(3); // warning again, then critical
  });
});

describe('engine: duplicates', () => {
  it('a duplicate commit still releases its own reservation', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1 } } });
    const c = d.connect(hello);
    const a = d.request(c, { type: 'reserve', id: 'a', cost_usd: 0.4 });
    const b = d.request(c, { type: 'reserve', id: 'b', cost_usd: 0.4 });
    if (a.type !== 'grant' || b.type !== 'grant') throw new Error();
    d.request(c, { type: 'commit', id: 'c1', reservation: a.reservation, key: 'resp-1', input_tokens: 0, output_tokens: 0, cost_usd: 0.1 });
    expect(d.request(c, { type: 'commit', id: 'c2', reservation: b.reservation, key: 'resp-1', input_tokens: 0, output_tokens: 0, cost_usd: 0.1 })).toMatchObject({ duplicate: true });
    expect(d.engine.scopes.get('task:t1' as never)?.reserved.cost ?? 0).toBe(0);
  });
});

describe('engine: alert hysteresis', () => {
  it('reservations bouncing around a threshold alert once', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1 } } });
    const c = d.connect(hello);
    d.request(c, { type: 'spend', id: 's', key: 'k', cost_usd: 0.65 });
    for (let i = 0; i < 5; i++) {
      const g = d.request(c, { type: 'reserve', id: `r${i}`, cost_usd: 0.1 });
      if (g.type !== 'grant') throw new Error();
      d.request(c, { type: 'commit', id: `c${i}`, reservation: g.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.001 });
    }
    expect(d.engine.alerts.filter((a) => a.kind === 'threshold' && a.scope === 'task:t1')).toHaveLength(1);
  });

  it('a reload that changes limits is a ledger action naming the file; one that does not, is not', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const reload = (config: unknown) => d.engine.handle({ type: 'config', config: ConfigSchema.parse(config), path: '/etc/sg.yaml' }, d.now);
    const raised = reload({ limits: { task: { cost_usd: 2, mode: 'hard' } } }).filter((e) => e.type === 'action');
    expect(raised).toMatchObject([{ type: 'action', row: { kind: 'limits', actor: 'config:/etc/sg.yaml', data: { limits: { task: { cost_usd: 2 } } } } }]);
    expect(reload({ limits: { task: { cost_usd: 2, mode: 'hard' } } }).filter((e) => e.type === 'action')).toEqual([]);
  });
});
