import { describe, expect, it } from 'vitest';
import { feedFrame, type FeedCursor } from './feed.js';
import { EngineDriver } from './testing.js';

/**
 * Attacks on delegation and shares found by an independent review (each passed a hard cap, a
 * max_share or crashed the daemon's invariant check), and the live feed's convergence.
 */

describe('attack: delegating to an agent whose sub-agent is connected under another chain', () => {
  it("delegating to an agent whose sub-agent runs under another task is refused ALIASED: the sub-agent never spends a delegation past its own task's cap", () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const c = d.connect({ agent: 'c', session: 'so', task: 'tother' });
    const sub = d.connect({ agent: 'sub', session: 'so', task: 'tother', parent: 'c' });
    expect(d.request(sub, { type: 'spend', id: 's0', key: 'k0', cost_usd: 0.9 }).type).toBe('ack');
    d.send(c, { type: 'bye' }); d.disconnect(c);
    const p = d.connect({ agent: 'p', session: 's1', task: 't1' });
    // c's sub-agent runs under another task: delegating to c would let it spend the budget there.
    expect(d.request(p, { type: 'delegate', id: 'dl', child: 'c', limits: { cost_usd: 1 } })).toMatchObject({ type: 'deny', code: 'ALIASED', scope: 'agent:c' });
    const g = d.request(sub, { type: 'reserve', id: 'r', cost_usd: 1 }) as any;
    if (g.type === 'grant') d.request(sub, { type: 'commit', id: 'cm', reservation: g.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 1 });
    expect(d.ledgerCostNano('task:tother')).toBeLessThanOrEqual(1e9);
    // Nothing moved: the delegator's task still has its whole $1, and spends it within the cap.
    expect(d.request(p, { type: 'reserve', id: 'r2', cost_usd: 1 }).type).toBe('grant');
    expect(d.request(p, { type: 'reserve', id: 'r3', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'task:t1' });
  });
});

describe('attack: extending a delegation from a different chain', () => {
  it('a delegator holding budget for a child is not moved by a hello naming another task, so a top-up never splits the hold (reserved never negative, the cap holds)', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const p1 = d.connect({ agent: 'p', session: 's', task: 't1' });
    expect(d.request(p1, { type: 'delegate', id: 'd1', child: 'c', limits: { cost_usd: 0.4 } }).type).toBe('delegated');
    d.send(p1, { type: 'bye' }); d.disconnect(p1);
    // p's budget is held for c under t1: p does not move to t2 meanwhile — it is joined where it
    // lives — so a top-up comes from the chain the hold is on.
    const p2 = d.connect({ agent: 'p', session: 's2', task: 't2' });
    expect(d.frames(p2)[0]).toMatchObject({ type: 'welcome', scopes: ['global', 'user:default', 'session:s', 'task:t1', 'agent:p'] });
    expect(d.request(p2, { type: 'delegate', id: 'd2', child: 'c', limits: { cost_usd: 0.4 } }).type).toBe('delegated');
    const c = d.connect({ agent: 'c', session: 's', task: 't1' });
    const g = d.request(c, { type: 'reserve', id: 'r', cost_usd: 0.8 }) as any;
    expect(g.type).toBe('grant');
    d.request(c, { type: 'commit', id: 'cm', reservation: g.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.8 });
    const t1 = d.engine.scopes.get('task:t1' as never)!;
    // an agent in t1 may now reserve 0.6 more: t1 would total 1.4 > 1
    const o = d.connect({ agent: 'o', session: 's', task: 't1' });
    const g2 = d.request(o, { type: 'reserve', id: 'r2', cost_usd: 0.6 }) as any;
    expect(() => d.advance(10_000)).not.toThrow(); // slow-tick invariant
    expect((t1.reserved.cost ?? 0)).toBeGreaterThanOrEqual(0);
    expect(g2.type).toBe('deny');
  });
});

describe("attack: a delegated child's bye returns the hold while its sub-agent's reservation is in flight", () => {
  it('a delegated child\'s bye waits for its sub-agent\'s reservation before the hold returns: never two $1 grants under a $1 task', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const p = d.connect({ agent: 'p', session: 's', task: 't1' });
    expect(d.request(p, { type: 'delegate', id: 'dl', child: 'c', limits: { cost_usd: 1 } }).type).toBe('delegated');
    const c = d.connect({ agent: 'c', session: 's', task: 't1' });
    const sub = d.connect({ agent: 'sub', session: 's', task: 't1', parent: 'c' });
    const g1 = d.request(sub, { type: 'reserve', id: 'r1', cost_usd: 1 }) as any;
    expect(g1.type).toBe('grant');
    d.send(c, { type: 'bye' }); d.disconnect(c);
    const o = d.connect({ agent: 'o', session: 's', task: 't1' });
    const g2 = d.request(o, { type: 'reserve', id: 'r2', cost_usd: 1 }) as any;
    if (g2.type === 'grant') d.request(o, { type: 'commit', id: 'c2', reservation: g2.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 1 });
    d.request(sub, { type: 'commit', id: 'c1', reservation: g1.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 1 });
    expect(d.ledgerCostNano('task:t1')).toBeLessThanOrEqual(1e9);
  });
});

describe('attack: max_share escaped by a refused delegation', () => {
  it('a refused delegation does not move its child: max_share still binds it', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' }, agent: { max_share: 0.5 } } });
    const s = d.connect({ agent: 's', session: 'x', task: 't' });
    expect(d.request(s, { type: 'reserve', id: 'r0', cost_usd: 0.5 }).type).toBe('grant');
    expect(d.request(s, { type: 'reserve', id: 'r1', cost_usd: 0.4 })).toMatchObject({ type: 'deny', scope: 'agent:s' });
    // the same operator of agent s opens a second identity anywhere and "delegates" to s: refused, but s is re-parented
    const p = d.connect({ agent: 'p', session: 'y', task: 'u' });
    expect(d.request(p, { type: 'delegate', id: 'dd', child: 's', limits: { cost_usd: 0.01 } })).toMatchObject({ type: 'deny', code: 'ALIASED' });
    const again = d.request(s, { type: 'reserve', id: 'r2', cost_usd: 0.4 });
    expect(again.type).toBe('deny');
  });
});
describe('attack: max_share escaped by a second hello', () => {
  it('a second connection of the same agent naming another parent joins where the agent runs: the first connection stays within max_share', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' }, agent: { max_share: 0.5 } } });
    const s = d.connect({ agent: 's', session: 'x', task: 't' });
    expect(d.request(s, { type: 'reserve', id: 'r0', cost_usd: 0.5 }).type).toBe('grant');
    const p = d.connect({ agent: 'p', session: 'y', task: 'u' });
    d.connect({ agent: 's', session: 'y', task: 'u', parent: 'p' });
    void p;
    const again = d.request(s, { type: 'reserve', id: 'r2', cost_usd: 0.4 });
    expect(again.type).toBe('deny');
  });
});

/** A subscriber merging deltas must end where a fresh full frame is. */
function follow(d: EngineDriver) {
  let cur: FeedCursor | null = null;
  const view: Record<string, { limit?: unknown }> = {};
  return () => {
    const { frame, cursor } = feedFrame(d.engine.view, cur);
    cur = cursor;
    if (frame.full) for (const k of Object.keys(view)) delete view[k];
    Object.assign(view, frame.scopes);
    for (const id of frame.removed) delete view[id];
    return view;
  };
}

describe('attack: feed convergence', () => {
  it('a delegation to a child already in memory: the delta carries the child\'s new cap', () => {
    const d = new EngineDriver({});
    const p = d.connect({ agent: 'p', session: 's', task: 't' });
    const c = d.connect({ agent: 'c', session: 's', task: 't', parent: 'p' });
    d.send(c, { type: 'bye' }); d.disconnect(c);
    const step = follow(d);
    step();
    expect(d.request(p, { type: 'delegate', id: 'd', child: 'c', limits: { cost_usd: 0.5 } }).type).toBe('delegated');
    const merged = step();
    const fresh = feedFrame(d.engine.view, null).frame.scopes;
    expect(merged['agent:c']?.limit).toEqual(fresh['agent:c']?.limit);
  });
  it('an operator grant on a task: the delta carries its max_share children\'s new limits', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1 }, agent: { max_share: 0.5 } } });
    d.connect({ agent: 'a', session: 's', task: 't' });
    const step = follow(d);
    step();
    d.operator({ type: 'grant', id: 'g', target: 'task:t', add_usd: 1 });
    const merged = step();
    const fresh = feedFrame(d.engine.view, null).frame.scopes;
    expect(merged['agent:a']?.limit).toEqual(fresh['agent:a']?.limit);
  });
  it('scopes that leave memory leave a following subscriber too', () => {
    const d = new EngineDriver({});
    const c = d.connect({ agent: 'a', session: 's', task: 't' });
    const step = follow(d);
    step();
    d.send(c, { type: 'bye' }); d.disconnect(c);
    d.engine.handle({ type: 'persisted', scopes: [...d.engine.scopes.keys()], version: d.engine.version }, d.now);
    d.advance(61_000); d.advance(10_000);
    const merged = step();
    const fresh = feedFrame(d.engine.view, null).frame.scopes;
    expect(Object.keys(merged).sort()).toEqual(Object.keys(fresh).sort());
  });
});
