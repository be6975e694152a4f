import { describe, expect, it } from 'vitest';

import { feedFrame, type FeedCursor } from './feed.js';
import { EngineDriver } from './testing.js';

/**
 * Deterministic simulations of each runaway mode (SPEC §1) with an injected clock: when is it
 * stopped, and how much had it spent by then. The figures are asserted and printed.
 */

const usd = (nano: number): string => `$${(nano / 1e9).toFixed(4)}`;

function report(name: string, figures: Record<string, string | number>): void {
  process.stdout.write(`[sim] ${name}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
}

describe('runaway simulations', () => {
  it('a retry loop at $1/min is stopped at its 5th identical call, after $0.0333', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 10 } }, detectors: { loop: { repeats: 5, window: '10m' } } });
    const c = d.connect({ agent: 'looper', session: 's', task: 't' });
    let stoppedAt = -1;
    for (let i = 0; i < 100 && stoppedAt < 0; i++) {
      const r = d.request(c, { type: 'reserve', id: `r${i}`, tool: 'web_fetch', args_hash: 'same-url', cost_usd: 1 / 120 });
      if (r.type === 'deny') {
        expect(r).toMatchObject({ code: 'LOOP_DETECTED', scope: 'agent:looper' });
        stoppedAt = i;
        break;
      }
      if (r.type !== 'grant') throw new Error(JSON.stringify(r));
      d.request(c, { type: 'commit', id: `c${i}`, reservation: r.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 1 / 120 });
      d.advance(500);
    }
    const spent = d.ledgerCostNano('agent:looper');
    report('retry loop', { stopped_at_call: stoppedAt + 1, spent: usd(spent), seconds: (stoppedAt * 0.5).toFixed(1) });
    expect(stoppedAt + 1).toBe(5);
    expect(spent).toBe(4 * Math.round(1e9 / 120));
    expect(d.engine.alerts.some((a) => a.kind === 'loop' && a.scope === 'agent:looper')).toBe(true);
    // A changed call goes through: the detector stops repetition, not the agent.
    expect(d.request(c, { type: 'reserve', id: 'other', tool: 'web_fetch', args_hash: 'other-url', cost_usd: 0.01 }).type).toBe('grant');
  });

  it('a 12 × 10 fan-out on the priciest model is refused at the 11th child and at depth 4', () => {
    const d = new EngineDriver({
      limits: { task: { cost_usd: 100, mode: 'hard' } },
      pricing: { models: { 'o1-pro': { input: 150, output: 600 } } },
      detectors: { fanout: { children: 10, depth: 3 } },
    });
    const parent = d.connect({ agent: 'lead', session: 's', task: 'research' });
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = d.request(parent, { type: 'delegate', id: `d${i}`, child: `sub${i}`, limits: { cost_usd: 2 } });
      outcomes.push(r.type === 'deny' ? r.code : r.type);
    }
    expect(outcomes.slice(0, 10).every((o) => o === 'delegated')).toBe(true);
    expect(outcomes.slice(10)).toEqual(['FANOUT_LIMIT', 'FANOUT_LIMIT']);
    let spent = 0;
    for (let i = 0; i < 10; i++) {
      const sub = d.connect({ agent: `sub${i}`, session: 's', task: 'research', parent: 'lead' });
      for (let call = 0; call < 10; call++) {
        const g = d.request(sub, { type: 'reserve', id: `r${call}`, model: 'o1-pro', input_tokens: 2000, max_output_tokens: 1000 });
        if (g.type !== 'grant') break;
        d.request(sub, { type: 'commit', id: `c${call}`, reservation: g.reservation, model: 'o1-pro', input_tokens: 2000, output_tokens: g.max_output_tokens });
      }
    }
    spent = d.ledgerCostNano('task:research');
    // Each child is capped by its $2 delegation: two $0.90 calls fit, a third does not.
    const perCall = Math.ceil((2000 * 150e9 + 1000 * 600e9) / 1e6);
    expect(spent).toBe(10 * 2 * perCall);
    // Depth: lead → sub0 → g1 → g2 is depth 3; g2 may not delegate further.
    const sub0 = d.connect({ agent: 'sub0', session: 's', task: 'research', parent: 'lead' });
    void sub0;
    const lead2 = d.connect({ agent: 'deep0', session: 's2', task: 'deep' });
    expect(d.request(lead2, { type: 'delegate', id: 'a', child: 'deep1', limits: { cost_usd: 0.5 } }).type).toBe('delegated');
    const deep1 = d.connect({ agent: 'deep1', session: 's2', task: 'deep', parent: 'deep0' });
    expect(d.request(deep1, { type: 'delegate', id: 'b', child: 'deep2', limits: { cost_usd: 0.2 } }).type).toBe('delegated');
    const deep2 = d.connect({ agent: 'deep2', session: 's2', task: 'deep', parent: 'deep1' });
    expect(d.request(deep2, { type: 'delegate', id: 'c', child: 'deep3', limits: { cost_usd: 0.1 } }).type).toBe('delegated');
    const deep3 = d.connect({ agent: 'deep3', session: 's2', task: 'deep', parent: 'deep2' });
    expect(d.request(deep3, { type: 'delegate', id: 'e', child: 'deep4', limits: { cost_usd: 0.05 } })).toMatchObject({ type: 'deny', code: 'FANOUT_LIMIT' });
    report('fan-out 12x10 on o1-pro', { children_allowed: 10, refused: 2, spent: usd(spent), expected_without_limits: usd(12 * 10 * Math.ceil((2000 * 150e9 + 1000 * 600e9) / 1e6)) });
  });

  it('sub-agents that only say hello with a parent count toward its fan-out: past the width or depth they may not spend', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 100, mode: 'hard' } }, detectors: { fanout: { children: 3, depth: 2 } } });
    d.connect({ agent: 'boss', session: 's', task: 't' });
    const kids = [0, 1, 2, 3, 4].map((i) => d.connect({ agent: `kid${i}`, session: 's', task: 't', parent: 'boss' }));
    const outcomes = kids.map((k, i) => {
      const r = d.request(k, { type: 'reserve', id: `r${i}`, cost_usd: 0.01 });
      return r.type === 'deny' ? `${r.code}@${r.scope}` : r.type;
    });
    expect(outcomes).toEqual(['grant', 'grant', 'grant', 'FANOUT_LIMIT@agent:boss', 'FANOUT_LIMIT@agent:boss']);
    expect(d.engine.alerts.filter((a) => a.kind === 'fanout' && a.scope === 'agent:boss')).toHaveLength(1);
    // One leaves: a new sub-agent fits again.
    d.disconnect(kids[0] as number);
    const late = d.connect({ agent: 'kid5', session: 's', task: 't', parent: 'boss' });
    expect(d.request(late, { type: 'reserve', id: 'late', cost_usd: 0.01 }).type).toBe('grant');
    // Depth: boss → kid1 → grandkid is 2 levels; a great-grandchild is one too many.
    const grand = d.connect({ agent: 'grandkid', session: 's', task: 't', parent: 'kid1' });
    expect(d.request(grand, { type: 'reserve', id: 'g', cost_usd: 0.01 }).type).toBe('grant');
    const great = d.connect({ agent: 'greatkid', session: 's', task: 't', parent: 'grandkid' });
    expect(d.request(great, { type: 'reserve', id: 'gg', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'FANOUT_LIMIT', scope: 'agent:grandkid' });
  });

  it('drift: a task whose burn rate climbs trips the burn-rate breaker at $5 per 10 min', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 100 } }, breakers: { burn_rate: { window: '10m', cost_usd: 5, cooldown: '20m' } } });
    const c = d.connect({ agent: 'drifter', session: 's', task: 'drift' });
    let cost = 0.01;
    let stoppedAtMs = -1;
    let deny: ReturnType<typeof d.request> | undefined;
    for (let i = 0; i < 2_000; i++) {
      const r = d.request(c, { type: 'reserve', id: `r${i}`, cost_usd: cost });
      if (r.type === 'deny') {
        deny = r;
        stoppedAtMs = i * 5_000;
        break;
      }
      if (r.type !== 'grant') throw new Error(JSON.stringify(r));
      d.request(c, { type: 'commit', id: `c${i}`, reservation: r.reservation, input_tokens: 0, output_tokens: 0, cost_usd: cost });
      cost = Math.min(1, cost * 1.05); // each call a bit bigger: the drift
      d.advance(5_000);
    }
    expect(deny).toMatchObject({ code: 'CIRCUIT_OPEN', scope: 'task:drift' });
    expect(deny && 'retry_after_ms' in deny ? deny.retry_after_ms : 0).toBeGreaterThan(19 * 60_000);
    const alert = d.engine.alerts.find((a) => a.kind === 'breaker' && a.scope === 'task:drift');
    expect(alert?.message).toMatch(/within 10m \(limit \$5 per 10m\).*kill it/);
    const spent = d.ledgerCostNano('task:drift');
    report('drift', { stopped_after_s: stoppedAtMs / 1000, spent: usd(spent) });
    // The breaker trips on the first spend past $5 in a 10 min window, so at most one call over.
    expect(spent).toBeGreaterThan(5e9);
    expect(spent).toBeLessThan(6.1e9);
  });

  it('context amplification raises an alert, and denies LOOP_DETECTED when configured', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 100 } }, detectors: { amplification: { factor: 4, min_calls: 4, window: '10m', action: 'deny' } } });
    const c = d.connect({ agent: 'swell', session: 's', task: 'amp' });
    const inputs = [1_000, 1_800, 2_900, 4_200, 6_000];
    const outcomes = inputs.map((input, i) => {
      const r = d.request(c, { type: 'reserve', id: `r${i}`, model: 'gpt-4o', input_tokens: input, max_output_tokens: 100 });
      d.advance(10_000);
      return r.type === 'deny' ? r.code : r.type;
    });
    expect(outcomes).toEqual(['grant', 'grant', 'grant', 'LOOP_DETECTED', 'LOOP_DETECTED']);
    expect(d.engine.alerts.filter((a) => a.kind === 'amplification')).toHaveLength(1);
    report('context amplification', { stopped_at_call: 4, input_growth: '4.2x' });
  });

  it('a flood of calls is RATE_LIMITED by calls_per_min with an exact retry_after_ms', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 100, calls_per_min: 60 } } });
    const c = d.connect({ agent: 'flood', session: 's', task: 'flood' });
    let granted = 0;
    let denied: ReturnType<typeof d.request> | undefined;
    for (let i = 0; i < 100; i++) {
      const r = d.request(c, { type: 'reserve', id: `r${i}`, cost_usd: 0.001 });
      if (r.type === 'grant') {
        granted += 1;
        d.request(c, { type: 'release', id: `l${i}`, reservation: r.reservation });
      } else {
        denied = r;
        break;
      }
      d.advance(100);
    }
    expect(granted).toBe(60);
    // The first call was at t=0, the 61st asks at t=6.0 s: it may go at t=60 s.
    expect(denied).toMatchObject({ code: 'RATE_LIMITED', scope: 'task:flood', retry_after_ms: 54_000 });
    report('flood', { granted_in_first_minute: granted, retry_after_ms: 54_000 });
  });

  it('the denial breaker opens after 5 denials, refuses CIRCUIT_OPEN until reset, then half-opens for 3 trials', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1 } }, breakers: { denials: { threshold: 5, reset: '5m', half_open: 3 } } });
    const c = d.connect({ agent: 'stubborn', session: 's', task: 'b' });
    expect(d.request(c, { type: 'spend', id: 's', key: 'k', cost_usd: 0.99 }).type).toBe('ack');
    for (let i = 0; i < 5; i++) expect(d.request(c, { type: 'reserve', id: `r${i}`, cost_usd: 0.5 })).toMatchObject({ code: 'BUDGET_EXCEEDED' });
    expect(d.request(c, { type: 'reserve', id: 'small', cost_usd: 0.001 })).toMatchObject({ code: 'CIRCUIT_OPEN', scope: 'agent:stubborn', retry_after_ms: 300_000 });
    const agent = d.engine.scopes.get('agent:stubborn' as never);
    if (!agent) throw new Error();
    expect(d.engine.runaway.breakerState(agent, d.now)).toBe('open');
    d.advance(300_000);
    expect(d.engine.runaway.breakerState(agent, d.now)).toBe('half-open');
    for (let i = 0; i < 3; i++) expect(d.request(c, { type: 'reserve', id: `t${i}`, cost_usd: 0.001 }).type).toBe('grant');
    expect(d.engine.runaway.breakerState(agent, d.now)).toBe('closed');
  });

  it('every trip alerts once per crossing, with the scope, the figures and what to do next', () => {
    const d = new EngineDriver({
      limits: { task: { cost_usd: 10, calls_per_min: 2, wall_time: '1h' } },
      tools: { default: 'auto', rm_rf: 'deny' },
    });
    const c = d.connect({ agent: 'al', session: 's', task: 't' });
    const kinds = (kind: string) => d.engine.alerts.filter((a) => a.kind === kind);
    expect(d.request(c, { type: 'spend', id: 'first', key: 'first', cost_usd: 0.01 }).type).toBe('ack'); // starts the wall clock
    for (let i = 0; i < 4; i++) d.request(c, { type: 'reserve', id: `rm${i}`, tool: 'rm_rf', cost_usd: 0.01 });
    expect(kinds('tool')).toHaveLength(1);
    expect(kinds('tool')[0]).toMatchObject({ scope: 'agent:al', message: expect.stringMatching(/rm_rf is denied by policy.*tools/) });
    for (let i = 0; i < 5; i++) d.request(c, { type: 'reserve', id: `f${i}`, cost_usd: 0.01 });
    expect(kinds('rate')).toHaveLength(1);
    expect(kinds('rate')[0]).toMatchObject({ scope: 'task:t', message: expect.stringMatching(/2 calls in the last minute; calls_per_min is 2.*raise calls_per_min/) });
    // The rate falls, a call passes: the next flood is a new crossing and alerts again.
    d.advance(61_000);
    expect(d.request(c, { type: 'reserve', id: 'ok', cost_usd: 0.01 }).type).toBe('grant');
    for (let i = 0; i < 3; i++) d.request(c, { type: 'reserve', id: `g${i}`, cost_usd: 0.01 });
    expect(kinds('rate')).toHaveLength(2);
    d.advance(3_600_000);
    for (let i = 0; i < 3; i++) d.request(c, { type: 'reserve', id: `w${i}`, cost_usd: 0.01 });
    expect(kinds('wall_time')).toHaveLength(1);
    expect(kinds('wall_time')[0]).toMatchObject({ scope: 'task:t', message: expect.stringMatching(/wall_time of 3600s.*new task/) });
  });

  it("the user's denial breaker opens when denials span its agents, and then refuses a fresh agent of that user", () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 0.1 } }, breakers: { denials: { threshold: 5, user_threshold: 4, reset: '1m' } } });
    // Agents spawned to dodge their own breakers: each is denied once, no grant between.
    const fleet = [0, 1, 2, 3].map((i) => d.connect({ agent: `u${i}`, session: 's', task: `t${i}`, user: 'bob' }));
    fleet.forEach((c, i) => expect(d.request(c, { type: 'reserve', id: `u${i}`, cost_usd: 1 })).toMatchObject({ code: 'BUDGET_EXCEEDED' }));
    const fresh = d.connect({ agent: 'uc', session: 's', task: 't3', user: 'bob' });
    expect(d.request(fresh, { type: 'reserve', id: 'f', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'CIRCUIT_OPEN', scope: 'user:bob', retry_after_ms: 60_000 });
    const other = d.connect({ agent: 'oc', session: 's2', task: 't4', user: 'carol' });
    expect(d.request(other, { type: 'reserve', id: 'o', cost_usd: 0.01 }).type).toBe('grant');
  });

  it('the live feed follows a breaker through open, half-open (time alone, on the tick) and closed, each change sent once', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1 } }, breakers: { denials: { threshold: 2, reset: '1m', half_open: 1 } } });
    const c = d.connect({ agent: 'br', session: 's', task: 'b' });
    let cursor: FeedCursor | null = null;
    const breakerInFeed = (): string | undefined => {
      const next = feedFrame(d.engine.view, cursor);
      cursor = next.cursor;
      return next.frame.scopes['agent:br']?.breaker;
    };
    expect(breakerInFeed()).toBe('closed');
    for (let i = 0; i < 2; i++) d.request(c, { type: 'reserve', id: `r${i}`, cost_usd: 2 });
    expect(breakerInFeed()).toBe('open');
    expect(breakerInFeed()).toBeUndefined(); // nothing changed: the subscriber keeps showing open
    d.advance(60_000);
    expect(breakerInFeed()).toBe('half-open');
    expect(d.request(c, { type: 'reserve', id: 'trial', cost_usd: 0.01 }).type).toBe('grant');
    expect(breakerInFeed()).toBe('closed');
    expect(breakerInFeed()).toBeUndefined();
  });

  it('tool permissions: deny, confirm through the operator, max cost per call, unregistered tools under default deny', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 10 } }, tools: { default: 'deny', bash: { mode: 'confirm', max_cost_usd: 0.5 }, search: 'auto', delete_repo: 'deny' } });
    const c = d.connect({ agent: 'tooler', session: 's', task: 'tools' });
    expect(d.request(c, { type: 'reserve', id: 'a', tool: 'delete_repo', cost_usd: 0.01 })).toMatchObject({ code: 'TOOL_DENIED' });
    expect(d.request(c, { type: 'reserve', id: 'b', tool: 'unknown_tool', cost_usd: 0.01 })).toMatchObject({ code: 'TOOL_DENIED', message: expect.stringContaining('not registered') });
    expect(d.request(c, { type: 'reserve', id: 'c', tool: 'bash', cost_usd: 0.6 })).toMatchObject({ code: 'TOOL_DENIED', message: expect.stringContaining('max_cost_usd') });
    expect(d.request(c, { type: 'reserve', id: 'd', tool: 'search', cost_usd: 0.01 }).type).toBe('grant');
    const p = d.request(c, { type: 'reserve', id: 'e', tool: 'bash', cost_usd: 0.1 });
    if (p.type !== 'pending') throw new Error(JSON.stringify(p));
    d.operator({ type: 'grant', id: 'o', target: p.prompt });
    expect(d.frames(c).at(-1)).toMatchObject({ type: 'grant', id: 'e' });
  });

  it('at critical pressure grants carry the routing table\'s cheaper model', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1 } }, routing: { 'gpt-4o': 'gpt-4o-mini' } });
    const c = d.connect({ agent: 'router', session: 's', task: 'route' });
    d.request(c, { type: 'spend', id: 's', key: 'k', cost_usd: 0.9 });
    expect(d.request(c, { type: 'reserve', id: 'r', model: 'gpt-4o', input_tokens: 100, max_output_tokens: 100 })).toMatchObject({ type: 'grant', pressure: 'critical', suggested_model: 'gpt-4o-mini' });
  });
});
