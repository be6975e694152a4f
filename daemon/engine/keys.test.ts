import { describe, expect, it } from 'vitest';
import type { OperatorResult } from '../../shared/protocol/operator.js';
import { hashKey } from './keys.js';
import { EngineDriver } from './testing.js';

/** Keys bound to a scope, in the pure engine: placement, the fleet breaker, expiry and restore. */

const SECRET = 'sgk_test-secret-of-session-a-000000000000000000';

function withKey(config: unknown = {}, scope = 'session:sa', extra: Record<string, unknown> = {}): EngineDriver {
  const d = new EngineDriver(config);
  const effects = d.operator({ type: 'key_create', id: 'k', scope, in: 'user:alice', name: 'ka', ...extra }, SECRET);
  const reply = effects.find((e) => e.type === 'send')?.frame as OperatorResult | undefined;
  expect(reply).toMatchObject({ type: 'result', key: SECRET });
  return d;
}

describe('a key-bound hello stays inside its scope', () => {
  it('names the key session, or is refused naming the field', () => {
    const d = withKey();
    const ok = d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'a1' }, 'ka');
    expect(d.chainOf(ok).map((s) => s.id)).toContain('session:sa');
    const other = d.connect({ user: 'alice', session: 'sb', task: 't2', agent: 'a2' }, 'ka');
    expect(d.refusal(other)).toMatch(/^session: key ka is bound to session:sa/);
    const moved = d.connect({ user: 'mallory', session: 'sa', task: 't', agent: 'a3' }, 'ka');
    expect(d.refusal(moved)).toMatch(/^user: session:sa belongs to user:alice; a key cannot move it/);
  });

  it('a key with --agent acts only as that agent; a parent outside the scope is refused', () => {
    const d = withKey({}, 'session:sa', { agent: 'worker' });
    expect(d.refusal(d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'boss' }, 'ka'))).toMatch(/acts only as agent worker/);
    d.connect({ user: 'bob', session: 'sb', task: 'tb', agent: 'planner' });
    const sub = d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'worker', parent: 'planner' }, 'ka');
    expect(d.refusal(sub)).toMatch(/^agent: agent:planner lives outside session:sa/);
  });

  it('an unknown or revoked label is refused at open, never let in as the shared token', () => {
    const d = withKey();
    d.operator({ type: 'key_revoke', id: 'r', target: 'ka' });
    const c = d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'a1' }, 'ka');
    expect(d.engine.conns.get(c)?.state).toBe('rejected');
  });
});

describe('a key holder adopts nothing and moves nothing (review F2, F3)', () => {
  it('a key for a scope not in use yet needs its place; an agent key stays where it was pinned', () => {
    const d = new EngineDriver({});
    const reply = (frame: Parameters<EngineDriver['operator']>[0]): OperatorResult | undefined => d.operator(frame, `${SECRET}-${frame.id}`).find((e) => e.type === 'send')?.frame as OperatorResult | undefined;
    expect(reply({ type: 'key_create', id: 'a', scope: 'session:new' })).toMatchObject({ type: 'error', message: expect.stringMatching(/^in: session:new is not in use yet/) });
    expect(reply({ type: 'key_create', id: 'b', scope: 'agent:mal-a', in: 'task:t-mal', name: 'km' })).toMatchObject({ type: 'error', message: expect.stringMatching(/^in: task:t-mal is not in use yet either/) });
    d.connect({ user: 'mallory', session: 's-mal', task: 't-mal', agent: 'first' });
    expect(reply({ type: 'key_create', id: 'c', scope: 'agent:mal-a', in: 'task:t-mal', name: 'km' })).toMatchObject({ type: 'result' });
    // Bob's delegated child is in use; the agent key may not hang itself under it.
    const bob = d.connect({ user: 'bob', session: 's-bob', task: 'bob-t', agent: 'bob' });
    d.request(bob, { type: 'delegate', id: 'dg', child: 'bob-child', limits: { cost_usd: 1 } });
    const under = d.connect({ user: 'bob', session: 's-bob', task: 'bob-t', agent: 'mal-a', parent: 'bob-child' }, 'km');
    expect(d.refusal(under)).toMatch(/belongs to|cannot move it/);
    const home = d.connect({ user: 'mallory', session: 's-mal', task: 't-mal', agent: 'mal-a' }, 'km');
    expect(d.refusal(home)).toBeUndefined();
  });

  it("a key cannot pull an idle scope from elsewhere into its own, nor take a name another key holds", () => {
    const d = withKey();
    const bobs = d.connect({ user: 'bob', session: 's-bob', task: 'bob-t', agent: 'bob-agent' });
    d.disconnect(bobs);
    // bob's task and agent are idle now: a key for session:sa may not adopt them.
    expect(d.refusal(d.connect({ user: 'alice', session: 'sa', task: 'bob-t', agent: 'x' }, 'ka'))).toMatch(/^task: task:bob-t lives outside session:sa/);
    expect(d.refusal(d.connect({ user: 'alice', session: 'sa', task: 'ta', agent: 'bob-agent' }, 'ka'))).toMatch(/^agent: agent:bob-agent lives outside session:sa/);
    d.operator({ type: 'key_create', id: 'k3', scope: 'session:sb', in: 'user:carol', name: 'kc', agent: 'carol-bot' }, `${SECRET}-3`);
    expect(d.refusal(d.connect({ user: 'alice', session: 'sa', task: 'ta', agent: 'carol-bot' }, 'ka'))).toMatch(/the name carol-bot belongs to key kc/);
    const mine = d.connect({ user: 'alice', session: 'sa', task: 'ta', agent: 'a-1' }, 'ka');
    expect(d.request(mine, { type: 'delegate', id: 'd1', child: 'bob-agent', limits: { cost_usd: 0.1 } })).toMatchObject({ type: 'deny', code: 'ALIASED' });
  });
});

describe('idempotency keys of a key narrower than its session live in its own namespace (review F1)', () => {
  it("a task key's spend first under another task's keys never makes that spend count zero", () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const victim = d.connect({ user: 'alice', session: 'sa', task: 't-vic', agent: 'vic' });
    d.operator({ type: 'key_create', id: 'k', scope: 'task:t-mal', in: 'session:sa', name: 'tk' }, SECRET);
    const mal = d.connect({ user: 'alice', session: 'sa', task: 't-mal', agent: 'mal' }, 'tk');
    expect(d.request(mal, { type: 'spend', id: 'm1', key: 'resp_42', cost_usd: 0 })).toMatchObject({ type: 'ack', duplicate: false });
    const g = d.request(victim, { type: 'reserve', id: 'r', cost_usd: 0.5 });
    if (g.type !== 'grant') throw new Error(JSON.stringify(g));
    expect(d.request(mal, { type: 'spend', id: 'm2', key: g.reservation, cost_usd: 0 })).toMatchObject({ type: 'ack', duplicate: false });
    expect(d.request(victim, { type: 'commit', id: 'c', reservation: g.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.5 })).toMatchObject({ type: 'ack', duplicate: false });
    expect(d.request(victim, { type: 'spend', id: 's', key: 'resp_42', cost_usd: 0.4 })).toMatchObject({ type: 'ack', duplicate: false });
    expect(d.ledgerCostNano('task:t-vic')).toBe(900_000_000);
    // Its own retry still counts once.
    expect(d.request(mal, { type: 'spend', id: 'm3', key: 'resp_42', cost_usd: 0 })).toMatchObject({ type: 'ack', duplicate: true });
  });

  it('a connection whose key was revoked is not served, even before its socket closes (review F6)', () => {
    const d = withKey();
    const c = d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'a1' }, 'ka');
    d.operator({ type: 'key_revoke', id: 'r', target: 'ka' });
    expect(d.request(c, { type: 'spend', id: 's', key: 'k', cost_usd: 1 })).toMatchObject({ type: 'error', code: 'UNAUTHORIZED' });
    expect(d.ledger).toHaveLength(0);
  });
});

describe('prompts are bounded per key and per user too (review F5)', () => {
  it("one user key's agents across many sessions park at most 100 prompts; another user's still reaches the operator", () => {
    const d = new EngineDriver({ limits: { session: { cost_usd: 0.01, mode: 'approval' } }, breakers: { denials: { threshold: 0, user_threshold: 0 } } });
    d.operator({ type: 'key_create', id: 'k', scope: 'user:mallory', name: 'mk' }, SECRET);
    for (let s = 0; s < 11; s++) {
      for (let a = 0; a < 7; a++) {
        const c = d.connect({ user: 'mallory', session: `ms${s}`, task: `mt${s}`, agent: `m${s}-${a}` }, 'mk');
        for (let i = 0; i < 14; i++) d.send(c, { type: 'reserve', id: `r${i}`, cost_usd: 1 });
      }
    }
    expect(d.engine.view.prompts.size).toBe(100);
    const bob = d.connect({ user: 'bob', session: 'bs', task: 'bt', agent: 'bob' });
    expect(d.request(bob, { type: 'reserve', id: 'b', cost_usd: 1 })).toMatchObject({ type: 'pending' });
  });
});

describe("a key-bound agent's denials count inside the key's scope", () => {
  it('five of its agents denied in a row open the session breaker, not the user one', () => {
    const d = withKey({ limits: { task: { cost_usd: 0.01, mode: 'hard' } }, breakers: { denials: { threshold: 50, user_threshold: 5 } } });
    for (let i = 0; i < 5; i++) {
      const c = d.connect({ user: 'alice', session: 'sa', task: 'ta', agent: `k${i}` }, 'ka');
      expect(d.request(c, { type: 'reserve', id: `r${i}`, cost_usd: 1 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    }
    const inside = d.connect({ user: 'alice', session: 'sa', task: 'ta2', agent: 'k-next' }, 'ka');
    expect(d.request(inside, { type: 'reserve', id: 'x', cost_usd: 0.001 })).toMatchObject({ type: 'deny', code: 'CIRCUIT_OPEN', scope: 'session:sa' });
    // The same user's other session, on the shared token, is untouched.
    const elsewhere = d.connect({ user: 'alice', session: 'sb', task: 'tb', agent: 'other' });
    expect(d.request(elsewhere, { type: 'reserve', id: 'y', cost_usd: 0.001 })).toMatchObject({ type: 'grant' });
  });
});

describe('keys over time', () => {
  it('an expired key closes its connections on the tick', () => {
    const d = withKey({}, 'session:sa', { expires_ms: 60_000 });
    const c = d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'a1' }, 'ka');
    expect(d.advance(30_000).some((e) => e.type === 'close' && e.conn === c)).toBe(false);
    expect(d.advance(31_000).some((e) => e.type === 'close' && e.conn === c)).toBe(true);
  });

  it('keys come back from the ledger rows after a restart, revoked ones revoked, secrets never stored', () => {
    const d = withKey();
    d.operator({ type: 'key_create', id: 'k2', scope: 'user:bob', name: 'kb' }, `${SECRET}-2`);
    d.operator({ type: 'key_revoke', id: 'r', target: `${SECRET}-2` });
    const rows = d.actions.filter((a) => a.kind === 'key_create' || a.kind === 'key_revoke');
    expect(JSON.stringify(rows)).not.toContain(SECRET);
    expect(rows.map((r) => [r.kind, r.scope])).toEqual([
      ['key_create', 'session:sa'],
      ['key_create', 'user:bob'],
      ['key_revoke', 'user:bob'],
    ]);
    const keys = rows.flatMap((r) => (r.kind === 'key_create' ? [{ label: r.data.label, hash: r.data.hash, scope: r.scope, agent: r.data.agent, created_ms: r.ts, expires_ms: r.data.expires_ms, revoked: rows.some((x) => x.kind === 'key_revoke' && x.data.label === r.data.label), pinned: r.data.pinned }] : []));
    const again = new EngineDriver({}, { restored: { scopes: [], grants: [], kills: [], keys: keys as never } });
    expect(again.engine.view.keys_by_hash.get(hashKey(SECRET))?.revoked).toBe(false);
    expect(again.engine.view.keys_by_hash.get(hashKey(`${SECRET}-2`))?.revoked).toBe(true);
  });
});
