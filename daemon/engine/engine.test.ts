import { describe, expect, it } from 'vitest';
import { EngineDriver } from './testing.js';

const hello = { agent: 'a1', session: 's1', task: 't1' };

describe('engine: reservations', () => {
  it('grants within the cap and denies beyond it, with the clamp', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const c = d.connect(hello);
    const g = d.request(c, { type: 'reserve', id: 'r1', cost_usd: 0.6 });
    expect(g.type).toBe('grant');
    const g2 = d.request(c, { type: 'reserve', id: 'r2', cost_usd: 0.6 });
    expect(g2).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'task:t1' });
    if (g.type !== 'grant') throw new Error();
    const ack = d.request(c, { type: 'commit', id: 'c1', reservation: g.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.25 });
    expect(ack).toMatchObject({ type: 'ack', duplicate: false, cost_usd: 0.25 });
    const g3 = d.request(c, { type: 'reserve', id: 'r3', cost_usd: 0.75 });
    expect(g3.type).toBe('grant');
    const dup = d.request(c, { type: 'commit', id: 'c2', reservation: g.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.25 });
    expect(dup).toMatchObject({ type: 'ack', duplicate: true });
    expect(d.ledgerCostNano('task:t1')).toBe(250_000_000);
  });

  it('clamps max_output_tokens to what the budget can pay for', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 0.01, mode: 'hard' } }, pricing: { models: { m: { input: 1, output: 10 } } } });
    const c = d.connect(hello);
    // 1000 input = $0.001; left $0.009 at $10/M output = 900 tokens
    const g = d.request(c, { type: 'reserve', id: 'r1', model: 'm', input_tokens: 1000, max_output_tokens: 5000 });
    expect(g).toMatchObject({ type: 'grant', max_output_tokens: 900, cost_usd: 0.01 });
  });

  it('approval mode parks the request, grant raises the limit by exactly the amount', () => {
    const d = new EngineDriver({ limits: { session: { cost_usd: 1, mode: 'approval' } } });
    const c = d.connect(hello);
    const p = d.request(c, { type: 'reserve', id: 'r1', cost_usd: 1.5 });
    expect(p.type).toBe('pending');
    if (p.type !== 'pending') throw new Error();
    d.operator({ type: 'grant', id: 'o1', target: p.prompt, add_usd: 1 });
    const replies = d.frames(c);
    expect(replies.at(-1)).toMatchObject({ type: 'grant', id: 'r1', cost_usd: 1.5 });
    const st = d.engine.limitsOf(d.engine.scopes.get('session:s1' as never)!);
    expect(st.checks.find((x) => x.dim === 'cost')?.limit).toBe(2_000_000_000);
  });

  it('prompt times out with APPROVAL_TIMEOUT', () => {
    const d = new EngineDriver({ limits: { session: { cost_usd: 1, mode: 'approval' } }, approvals: { timeout: '10s' } });
    const c = d.connect(hello);
    d.request(c, { type: 'reserve', id: 'r1', cost_usd: 1.5 });
    d.advance(9_000);
    expect(d.frames(c).at(-1)?.type).toBe('pending');
    d.advance(2_000);
    expect(d.frames(c).at(-1)).toMatchObject({ type: 'deny', code: 'APPROVAL_TIMEOUT' });
  });

  it('kill denies, pushes a kill frame, leaves other scopes alone, resume lifts it', () => {
    const d = new EngineDriver({});
    const a = d.connect(hello);
    const b = d.connect({ agent: 'b1', session: 's2', task: 't2' });
    d.operator({ type: 'kill', id: 'k', scope: 'task:t1', reason: 'runaway' });
    expect(d.frames(a).at(-1)).toMatchObject({ type: 'kill', scope: 'task:t1' });
    expect(d.request(a, { type: 'reserve', id: 'x', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'KILLED' });
    expect(d.request(b, { type: 'reserve', id: 'y', cost_usd: 0.01 }).type).toBe('grant');
    d.operator({ type: 'resume', id: 'r', scope: 'task:t1' });
    expect(d.request(a, { type: 'reserve', id: 'z', cost_usd: 0.01 }).type).toBe('grant');
  });

  it('backpressure delay follows the tiers', () => {
    const d = new EngineDriver({ limits: { session: { cost_usd: 100, mode: 'hard' } } });
    const c = d.connect(hello);
    const delays: number[] = [];
    for (const usd of [79, 2, 4, 5, 5, 5]) {
      const g = d.request(c, { type: 'reserve', id: `r${usd}-${delays.length}`, cost_usd: usd });
      if (g.type !== 'grant') throw new Error(JSON.stringify(g));
      delays.push(g.delay_ms);
    }
    // cumulative 79, 81, 85, 90, 95, 100
    expect(delays).toEqual([0, 50, 300, 750, 1500, 5000]);
  });

  it('delegation moves budget and returns the remainder on bye', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const p = d.connect(hello);
    expect(d.request(p, { type: 'delegate', id: 'd1', child: 'kid', limits: { cost_usd: 0.6 } }).type).toBe('delegated');
    expect(d.request(p, { type: 'reserve', id: 'r1', cost_usd: 0.5 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    const k = d.connect({ agent: 'kid', session: 's1', task: 't1', parent: 'a1' });
    expect(d.request(k, { type: 'reserve', id: 'k1', cost_usd: 0.7 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'agent:kid' });
    const k2 = d.connect({ agent: 'kid', session: 's1', task: 't1', parent: 'a1' });
    expect(d.request(k2, { type: 'reserve', id: 'k2', cost_usd: 0.1 })).toMatchObject({ type: 'deny', code: 'ALIASED' });
    expect(d.request(k, { type: 'spend', id: 's', key: 'kid-1', cost_usd: 0.2 })).toMatchObject({ type: 'ack' });
    d.send(k, { type: 'bye' });
    d.disconnect(k);
    // 0.2 spent by the kid, 0.4 returned: the parent may now reserve 0.8
    expect(d.request(p, { type: 'reserve', id: 'r2', cost_usd: 0.8 }).type).toBe('grant');
    expect(d.request(p, { type: 'reserve', id: 'r3', cost_usd: 0.01 })).toMatchObject({ type: 'deny' });
  });

  it('a child that says bye first ends what it delegated further: a grandchild never spends budget its grandparent got back', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const a = d.connect(hello);
    expect(d.request(a, { type: 'delegate', id: 'd1', child: 'b', limits: { cost_usd: 0.6 } }).type).toBe('delegated');
    const b = d.connect({ ...hello, agent: 'b', parent: 'a1' });
    expect(d.request(b, { type: 'delegate', id: 'd2', child: 'c', limits: { cost_usd: 0.5 } }).type).toBe('delegated');
    const c = d.connect({ ...hello, agent: 'c', parent: 'b' });
    d.send(b, { type: 'bye' });
    d.disconnect(b);
    const sibling = d.connect({ ...hello, agent: 'sib' });
    expect(d.request(sibling, { type: 'reserve', id: 's', cost_usd: 1 }).type).toBe('grant');
    expect(d.request(c, { type: 'reserve', id: 'c1', cost_usd: 0.5 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'task:t1' });
    const task = d.engine.scopes.get('task:t1' as never);
    expect(task?.reserved.cost).toBe(1e9);
    expect((task?.reserved.cost ?? 0) + (task?.counters.life.cost ?? 0)).toBeLessThanOrEqual(1e9);
  });

  it('a child with reservations in flight on its parent\'s budget gets no delegation until they settle; then exactly the amount', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const a = d.connect(hello);
    const k = d.connect({ ...hello, agent: 'k', parent: 'a1' });
    const early = d.request(k, { type: 'reserve', id: 'e', cost_usd: 0.5 });
    if (early.type !== 'grant') throw new Error(JSON.stringify(early));
    expect(d.request(a, { type: 'delegate', id: 'd', child: 'k', limits: { cost_usd: 0.5 } })).toMatchObject({ type: 'deny', code: 'ALIASED', scope: 'agent:k' });
    d.request(k, { type: 'release', id: 'rel', reservation: early.reservation });
    expect(d.request(a, { type: 'delegate', id: 'd2', child: 'k', limits: { cost_usd: 0.5 } }).type).toBe('delegated');
    expect(d.request(k, { type: 'reserve', id: 'big', cost_usd: 0.51 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'agent:k' });
    expect(d.request(k, { type: 'reserve', id: 'fits', cost_usd: 0.5 }).type).toBe('grant');
    const sibling = d.connect({ ...hello, agent: 'sib' });
    expect(d.request(sibling, { type: 'reserve', id: 's', cost_usd: 0.5 }).type).toBe('grant');
    expect(d.request(sibling, { type: 'reserve', id: 's2', cost_usd: 0.01 })).toMatchObject({ type: 'deny', scope: 'task:t1' });
  });

  it('a delegated child still connected keeps counting toward fan-out when its delegation lapses; it stops when it leaves', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 10, mode: 'hard' } }, detectors: { fanout: { children: 1, depth: 3 } }, reservations: { lease: '1m' } });
    const a = d.connect(hello);
    const k1 = d.connect({ ...hello, agent: 'k', parent: 'a1' });
    const k2 = d.connect({ ...hello, agent: 'k', parent: 'a1' });
    expect(d.request(a, { type: 'delegate', id: 'd', child: 'k', limits: { cost_usd: 1 } }).type).toBe('delegated');
    d.disconnect(k1);
    d.advance(61_000); // the hold's lease runs out while k is still connected on k2
    const j = d.connect({ ...hello, agent: 'j', parent: 'a1' });
    expect(d.request(j, { type: 'reserve', id: 'j', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'FANOUT_LIMIT' });
    d.disconnect(j);
    d.disconnect(k2);
    const j2 = d.connect({ ...hello, agent: 'j2', parent: 'a1' });
    expect(d.request(j2, { type: 'reserve', id: 'j2', cost_usd: 0.01 }).type).toBe('grant');
  });

  it('a lapsed delegation and its own expired reservations are released once: reserved never goes below zero', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } }, reservations: { lease: '1m' } });
    const a = d.connect(hello);
    expect(d.request(a, { type: 'delegate', id: 'd', child: 'b', limits: { cost_usd: 0.5 } }).type).toBe('delegated');
    const b = d.connect({ ...hello, agent: 'b', parent: 'a1' });
    expect(d.request(b, { type: 'reserve', id: 'r', cost_usd: 0.2 }).type).toBe('grant');
    d.disconnect(b);
    d.advance(61_000);
    for (const id of ['task:t1', 'agent:a1', 'agent:b']) {
      const reserved = d.engine.scopes.get(id as never)?.reserved ?? {};
      for (const v of Object.values(reserved)) expect(v, `${id} reserved`).toBe(0);
    }
    // A second delegation gives b exactly its amount, not what a double release freed.
    expect(d.request(a, { type: 'delegate', id: 'd2', child: 'b', limits: { cost_usd: 0.3 } }).type).toBe('delegated');
    const b2 = d.connect({ ...hello, agent: 'b', parent: 'a1' });
    expect(d.request(b2, { type: 'reserve', id: 'over', cost_usd: 0.31 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'agent:b' });
  });
});
