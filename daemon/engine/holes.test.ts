import { describe, expect, it } from 'vitest';
import { feedFrame } from './feed.js';
import { EngineDriver } from './testing.js';

/** Tried from outside, as an agent that pushes: each of these passed a hard cap before. */

const hello = { agent: 'a1', session: 's1', task: 't1' };

describe('engine: paths past a hard cap stay closed', () => {
  it('a delegated child that says hello under another task is refused; its delegator’s task and the other task both stay within their caps', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const a = d.connect(hello);
    let spent = 0;
    for (let round = 0; round < 6; round++) {
      const del = d.request(a, { type: 'delegate', id: `d${round}`, child: 'kid', limits: { cost_usd: 0.9 } });
      if (del.type !== 'delegated') break;
      const k = d.connect({ agent: 'kid', session: 's2', task: `elsewhere-${round}` });
      const ack = d.send(k, { type: 'spend', id: `s${round}`, key: `k${round}`, cost_usd: 0.9 });
      if (ack.some((f) => f.type === 'ack')) spent += 0.9;
      d.send(k, { type: 'bye' });
      d.disconnect(k);
    }
    const committedUnder = (scope: string): number => d.ledger.filter((r) => r.chain.includes(scope)).reduce((s, r) => s + r.cost_nano, 0);
    // Whatever the child managed to spend was charged to its delegator's task, within its cap.
    expect(committedUnder('task:t1')).toBeLessThanOrEqual(1e9);
    expect(d.ledger.filter((r) => r.agent === 'kid').every((r) => r.chain.includes('task:t1'))).toBe(true);
    expect(spent).toBeLessThanOrEqual(1);
  });

  it('a child delegated to while connected under another task is refused the delegation (ALIASED)', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const a = d.connect(hello);
    const k = d.connect({ agent: 'kid', session: 's2', task: 'other' });
    expect(d.request(a, { type: 'delegate', id: 'd', child: 'kid', limits: { cost_usd: 0.9 } })).toMatchObject({ type: 'deny', code: 'ALIASED', scope: 'agent:kid' });
    d.request(k, { type: 'spend', id: 's', key: 'k', cost_usd: 0.5 });
    expect(d.ledgerCostNano('task:t1')).toBe(0);
  });

  it('a delegated child that says hello with its delegator named, or with no parent under the same task, joins under the delegator', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const a = d.connect(hello);
    expect(d.request(a, { type: 'delegate', id: 'd', child: 'kid', limits: { cost_usd: 0.4 } }).type).toBe('delegated');
    const k = d.connect({ agent: 'kid', session: 's1', task: 't1' });
    expect(d.frames(k)[0]).toMatchObject({ type: 'welcome', scopes: ['global', 'user:default', 'session:s1', 'task:t1', 'agent:a1', 'agent:kid'] });
    expect(d.request(k, { type: 'reserve', id: 'r', cost_usd: 0.41 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'agent:kid' });
  });

  it('critical: true never passes a hard limit (task) nor a delegated cap', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const a = d.connect(hello);
    expect(d.request(a, { type: 'reserve', id: 'r0', cost_usd: 0.6 }).type).toBe('grant');
    expect(d.request(a, { type: 'reserve', id: 'r1', cost_usd: 0.42, critical: true })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'task:t1' });
    expect(d.request(a, { type: 'delegate', id: 'd', child: 'kid', limits: { cost_usd: 0.3 } }).type).toBe('delegated');
    const k = d.connect({ ...hello, agent: 'kid', parent: 'a1' });
    expect(d.request(k, { type: 'reserve', id: 'k1', cost_usd: 0.31, critical: true })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'agent:kid' });
    const task = d.engine.scopes.get('task:t1' as never);
    expect((task?.reserved.cost ?? 0) + (task?.counters.life.cost ?? 0)).toBeLessThanOrEqual(1e9);
  });

  it('critical grace stands in for a prompt on an approval limit, once per scope, within the grace amount', () => {
    const d = new EngineDriver({ limits: { session: { cost_usd: 1, mode: 'approval' } }, approvals: { grace: { cost_usd: 0.1, tokens: 5000 } } });
    const a = d.connect(hello);
    expect(d.request(a, { type: 'reserve', id: 'r0', cost_usd: 0.95 }).type).toBe('grant');
    expect(d.request(a, { type: 'reserve', id: 'big', cost_usd: 0.2, critical: true }).type).toBe('pending');
    const g = d.request(a, { type: 'reserve', id: 'g', cost_usd: 0.1, critical: true });
    expect(g).toMatchObject({ type: 'grant' });
    expect(d.request(a, { type: 'reserve', id: 'again', cost_usd: 0.01, critical: true }).type).toBe('pending');
  });

  it('returns the remainder of a delegation to its parent on bye (asserted on the real counter keys)', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const a = d.connect(hello);
    expect(d.request(a, { type: 'delegate', id: 'd', child: 'kid', limits: { cost_usd: 0.6 } }).type).toBe('delegated');
    const k = d.connect({ ...hello, agent: 'kid', parent: 'a1' });
    d.request(k, { type: 'spend', id: 's', key: 'k', cost_usd: 0.25 });
    const task = d.engine.scopes.get('task:t1' as never);
    expect(task?.reserved.cost).toBe(350_000_000);
    expect(task?.counters.life.cost).toBe(250_000_000);
    d.send(k, { type: 'bye' });
    d.disconnect(k);
    expect(task?.reserved.cost ?? 0).toBe(0);
    expect(task?.counters.life.cost).toBe(250_000_000);
  });

  it('two agents naming each other as parent never make the scope tree a cycle (a status or feed would loop forever)', () => {
    const d = new EngineDriver({});
    const x = d.connect({ ...hello, agent: 'x', parent: 'y' });
    d.disconnect(x);
    const y = d.connect({ ...hello, agent: 'y', parent: 'x' });
    d.disconnect(y);
    for (const s of d.engine.scopes.values()) {
      const seen = new Set<unknown>();
      for (let p: typeof s | null = s; p; p = p.parent) {
        expect(seen.has(p), `${s.id} reaches itself through its parents`).toBe(false);
        seen.add(p);
      }
    }
    expect(Object.keys(feedFrame(d.engine.view, null).frame.scopes)).toContain('agent:x');
  });
});
