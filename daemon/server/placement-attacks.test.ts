import { describe, expect, it } from 'vitest';
import { Shell } from './shell-driver.js';

/**
 * Attacks through eviction and re-placement, found by an independent review: each passed a hard
 * cap, lost counters on restart or gave back a once-only grace, through the real shell and ledger.
 */

describe('attack: refused delegation re-parents the child', () => {
  it('a refused delegation never moves its child: task:t comes back from the ledger once, and its $1 cap holds', () => {
    const sh = new Shell({ limits: { task: { cost_usd: 1, mode: 'hard' } }, scopes: { 'agent:c': { cost_usd: 100 } } });
    const c = sh.connect({ agent: 'c', session: 's', task: 't' });
    expect(sh.request(c, { type: 'spend', id: 'sp', key: 'k0', cost_usd: 0.5 }).type).toBe('ack');
    sh.request(c, { type: 'bye' }); sh.disconnect(c);
    const q = sh.connect({ agent: 'q', session: 's2', task: 't2' });
    // refused (way over task t2's cap) -- but agent:c is re-parented under agent:q anyway
    expect(sh.request(q, { type: 'delegate', id: 'd', child: 'c', limits: { cost_usd: 1000 } })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    expect(sh.engine.scopes.get('agent:c' as never)?.parent?.id).toBe('agent:q');
    sh.request(q, { type: 'bye' }); sh.disconnect(q);
    sh.advance(15 * 60_000);
    expect(sh.has('task:t')).toBe(false); // evicted
    // another agent works in task t: task:t comes back from the ledger with 0.5 spent
    const e = sh.connect({ agent: 'e', session: 's', task: 't' });
    const g1 = sh.request(e, { type: 'reserve', id: 'r1', cost_usd: 0.5 });
    expect(g1.type).toBe('grant');
    expect(sh.request(e, { type: 'commit', id: 'c1', reservation: g1.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.5 }).type).toBe('ack');
    // a sub-agent of c joins: its chain is c.chain, with the STALE task:t object
    const d = sh.connect({ agent: 'd', session: 'x', task: 'y', parent: 'c' });
    const g2 = sh.request(d, { type: 'reserve', id: 'r2', cost_usd: 0.5 });
    if (g2.type === 'grant') sh.request(d, { type: 'commit', id: 'c2', reservation: g2.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.5 });
    expect(sh.costUnder('task:t')).toBeLessThanOrEqual(1);
  });
});

describe('attack: stale agent.chain after refused delegations (agents only, no operator)', () => {
  it('refused delegations cannot manufacture two task:t objects: the cap holds and counters equal the ledger after a restart', () => {
    const cfg = { limits: { task: { cost_usd: 1, mode: 'hard' } } };
    const sh = new Shell(cfg);
    const c = sh.connect({ agent: 'c', session: 's', task: 't' });
    const k = sh.connect({ agent: 'k', session: 's3', task: 't3' }); // stays connected all along
    const q = sh.connect({ agent: 'q', session: 's2', task: 't2' });
    // c "delegates" to k: refused ALIASED (k connected elsewhere), but k is now parented under c -> c.kids = 1
    expect(sh.request(c, { type: 'delegate', id: 'd1', child: 'k', limits: { cost_usd: 0.1 } })).toMatchObject({ type: 'deny', code: 'ALIASED' });
    // q "delegates" to c: refused ALIASED, but c is now parented under q -> task:t.kids = 0
    expect(sh.request(q, { type: 'delegate', id: 'd2', child: 'c', limits: { cost_usd: 0.1 } })).toMatchObject({ type: 'deny', code: 'ALIASED' });
    expect(sh.request(c, { type: 'spend', id: 'sp', key: 'k0', cost_usd: 0.5 }).type).toBe('ack');
    sh.request(c, { type: 'bye' }); sh.disconnect(c);
    sh.request(q, { type: 'bye' }); sh.disconnect(q);
    sh.advance(15 * 60_000);
    expect(sh.has('task:t')).toBe(false);
    const e = sh.connect({ agent: 'e', session: 's', task: 't' });
    const g1 = sh.request(e, { type: 'reserve', id: 'r1', cost_usd: 0.5 });
    sh.request(e, { type: 'commit', id: 'c1', reservation: g1.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.5 });
    const d = sh.connect({ agent: 'd', session: 'anything', task: 'anything', parent: 'c' });
    const g2 = sh.request(d, { type: 'reserve', id: 'r2', cost_usd: 0.5 });
    if (g2.type === 'grant') sh.request(d, { type: 'commit', id: 'c2', reservation: g2.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.5 });
    const ledgerTruth = sh.costUnder('task:t');
    sh.flush();
    // restart on the same ledger
    const again = new Shell(cfg, sh.path);
    const restored = (again.engine.scopes.get('task:t' as never)?.counters.life.cost ?? 0) / 1e9;
    expect(restored).toBe(ledgerTruth); // counters agree with the ledger after restart
    expect(ledgerTruth).toBeLessThanOrEqual(1);
    void k;
  });
});

describe('attack: stale agent.chain via a session claimed by another user (plain hellos)', () => {
  it("a hello naming alice's session under bob cannot take it while alice's agent runs there: alice's per_day $1 holds", () => {
    const sh = new Shell({ limits: { user: { per_day: { cost_usd: 1 }, mode: 'hard' } } });
    const a = sh.connect({ agent: 'a', user: 'alice', session: 's', task: 't' });
    const k = sh.connect({ agent: 'k', user: 'zed', session: 'z', task: 'z' }); // keeps agent:a in memory (as its "kid")
    expect(sh.request(a, { type: 'delegate', id: 'x', child: 'k', limits: { cost_usd: 0.01 } }).type).toBe('deny');
    expect(sh.request(a, { type: 'spend', id: 'sp', key: 'k0', cost_usd: 0.5 }).type).toBe('ack');
    // bob says hello naming alice's session: session:s is re-parented under user:bob
    const b = sh.connect({ agent: 'b', user: 'bob', session: 's', task: 't9' });
    sh.request(b, { type: 'bye' }); sh.disconnect(b);
    sh.request(a, { type: 'bye' }); sh.disconnect(a);
    sh.advance(15 * 60_000);
    expect(sh.has('user:alice')).toBe(false);
    const e = sh.connect({ agent: 'e', user: 'alice', session: 's5', task: 't5' });
    const g1 = sh.request(e, { type: 'reserve', id: 'r1', cost_usd: 0.5 });
    sh.request(e, { type: 'commit', id: 'c1', reservation: g1.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.5 });
    const d = sh.connect({ agent: 'd', user: 'whoever', session: 'w', task: 'w', parent: 'a' });
    const g2 = sh.request(d, { type: 'reserve', id: 'r2', cost_usd: 0.5 });
    if (g2.type === 'grant') sh.request(d, { type: 'commit', id: 'c2', reservation: g2.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.5 });
    expect(sh.costUnder('user:alice')).toBeLessThanOrEqual(1);
    void k;
  });
});

describe('attack: grace_used is not saved', () => {
  it('critical grace is once per scope, also after the scope left memory and came back', () => {
    const cfg = { limits: { task: { cost_usd: 1, mode: 'approval' } } };
    const sh = new Shell(cfg);
    const a = sh.connect({ agent: 'a', session: 's', task: 't' });
    sh.request(a, { type: 'spend', id: 'sp', key: 'k0', cost_usd: 1 });
    sh.advance(2_000);
    const g = sh.request(a, { type: 'reserve', id: 'r1', cost_usd: 0.05, critical: true });
    expect(g.type).toBe('grant');
    expect(sh.engine.scopes.get('task:t' as never)?.counters.grace_used).toBe(true);
    sh.request(a, { type: 'release', id: 'rl', reservation: g.reservation });
    sh.request(a, { type: 'bye' }); sh.disconnect(a);
    sh.advance(15 * 60_000);
    expect(sh.has('task:t')).toBe(false);
    const b = sh.connect({ agent: 'a', session: 's', task: 't' });
    const again = sh.request(b, { type: 'reserve', id: 'r2', cost_usd: 0.05, critical: true });
    expect(again.type).not.toBe('grant');
  });
});
