import { describe, expect, it } from 'vitest';
import type { OperatorResult } from '../../shared/protocol/operator.js';
import { hashKey } from './keys.js';
import { EngineDriver } from './testing.js';

/** Keys bound to a scope, in the pure engine: placement, the fleet breaker, expiry and restore. */

const SECRET = 'sgk_test-secret-of-session-a-000000000000000000';

function withKey(config: unknown = {}, scope = 'session:sa', extra: Record<string, unknown> = {}): EngineDriver {
  const d = new EngineDriver(config);
  const effects = d.operator({ type: 'key_create', id: 'k', scope, name: 'ka', ...extra }, SECRET);
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
    expect(d.refusal(moved)).toMatch(/^user: session:sa lives under user:alice; a key cannot move it/);
  });

  it('a key with --agent acts only as that agent; a parent outside the scope is refused', () => {
    const d = withKey({}, 'session:sa', { agent: 'worker' });
    expect(d.refusal(d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'boss' }, 'ka'))).toMatch(/acts only as agent worker/);
    d.connect({ user: 'bob', session: 'sb', task: 'tb', agent: 'planner' });
    const sub = d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'worker', parent: 'planner' }, 'ka');
    expect(d.refusal(sub)).toMatch(/^parent: .*outside session:sa/);
  });

  it('an unknown or revoked label is refused at open, never let in as the shared token', () => {
    const d = withKey();
    d.operator({ type: 'key_revoke', id: 'r', target: 'ka' });
    const c = d.connect({ user: 'alice', session: 'sa', task: 't', agent: 'a1' }, 'ka');
    expect(d.engine.conns.get(c)?.state).toBe('rejected');
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
    const keys = rows.flatMap((r) => (r.kind === 'key_create' ? [{ label: r.data.label, hash: r.data.hash, scope: r.scope, agent: r.data.agent, created_ms: r.ts, expires_ms: r.data.expires_ms, revoked: rows.some((x) => x.kind === 'key_revoke' && x.data.label === r.data.label) }] : []));
    const again = new EngineDriver({}, { restored: { scopes: [], grants: [], kills: [], keys: keys as never } });
    expect(again.engine.view.keys_by_hash.get(hashKey(SECRET))?.revoked).toBe(false);
    expect(again.engine.view.keys_by_hash.get(hashKey(`${SECRET}-2`))?.revoked).toBe(true);
  });
});
