import { namespacedKey } from '../engine/settlement.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigSchema } from '../config/schema.js';
import { Engine } from '../engine/engine.js';
import type { ActionRow, UsageRow } from '../engine/events.js';
import type { ConnId } from '../engine/state.js';
import { silentLogger } from './log.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

/** A ledger whose disk fails until `healthy` is set: what reached it, and what it acknowledged. */
class FlakyLedger {
  healthy = false;
  failures = 0;
  readonly durable = new Set<string>();
  readonly actions: ActionRow[] = [];
  write(usage: readonly UsageRow[], actions: readonly ActionRow[]): void {
    if (!this.healthy) {
      this.failures += 1;
      throw new Error('database or disk is full');
    }
    for (const row of usage) {
      const key = namespacedKey(row.ns, row.key);
      if (this.durable.has(key)) throw new Error(`UNIQUE constraint failed: usage.session, usage.key ${row.key}`);
      this.durable.add(key);
    }
    this.actions.push(...actions);
  }
  hasKey(key: string): boolean {
    return this.durable.has(key);
  }
  loadScopes(): [] {
    return [];
  }
}

type Sent = { conn: ConnId; frame: Record<string, unknown> };

function setup(options: SupervisorOptions = {}) {
  const ledger = new FlakyLedger();
  const sent: Sent[] = [];
  const transport = { send: (conn: ConnId, data: string) => sent.push({ conn, frame: JSON.parse(data) as Record<string, unknown> }), close: () => {} };
  const engine = new Engine({ config: ConfigSchema.parse({}), epoch: 1, now: Date.now() });
  const sup = new Supervisor(engine, ledger, transport, silentLogger, Date.now, options);
  for (const [conn, agent] of [
    [1, 'a'],
    [2, 'b'],
  ] as const) {
    sup.dispatch({ type: 'open', conn });
    sup.dispatch({ type: 'hello', conn, frame: { type: 'hello', v: 1, agent, session: 's', task: 't', user: 'default' } });
  }
  sup.dispatch({ type: 'open', conn: 3 });
  const spend = (id: string, key: string, conn: ConnId = 1): void =>
    sup.agentFrame(conn, { type: 'spend', id, key, cost_usd: 0.01 });
  const reserve = (id: string, conn: ConnId = 1): void => sup.dispatch({ type: 'agent', conn, frame: { type: 'reserve', id, cost_usd: 0.01 }, key_known: false });
  const replies = (type: string) => sent.filter((s) => s.frame.type === type);
  return { ledger, sent, sup, engine, spend, reserve, replies };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Supervisor acks', () => {
  it('holds the duplicate ack of a key whose first copy is not yet durable, until the write succeeds', async () => {
    const { ledger, spend, replies } = setup();
    spend('s1', 'k1');
    spend('s2', 'k1'); // a resend before the batch is on disk
    await vi.advanceTimersByTimeAsync(1_000); // the write fails and is retried with backoff
    expect(replies('ack')).toEqual([]);
    ledger.healthy = true;
    await vi.advanceTimersByTimeAsync(2_000); // the backoff is capped at 2 s
    expect(replies('ack').map((a) => [a.frame.id, a.frame.duplicate])).toEqual([
      ['s1', false],
      ['s2', true],
    ]);
    expect(ledger.durable.has('session:s\nk1')).toBe(true);
  });

  it('answers a duplicate of a durable key at once', async () => {
    const { ledger, spend, replies } = setup();
    ledger.healthy = true;
    spend('s1', 'k1');
    await vi.advanceTimersByTimeAsync(20);
    spend('s2', 'k1');
    expect(replies('ack').map((a) => [a.frame.id, a.frame.duplicate])).toEqual([
      ['s1', false],
      ['s2', true],
    ]);
  });
});

describe('Supervisor on a failing ledger (a full disk)', () => {
  it('tells the engine once, denies reserves UNAVAILABLE at once, holds acks, and resumes when the disk does', async () => {
    const { ledger, engine, spend, reserve, replies } = setup();
    spend('s1', 'k1');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ledger.failures).toBeGreaterThan(3);
    expect(engine.ledger).toMatchObject({ writable: false, error: 'database or disk is full' });
    // One critical alert for the transition, however many retries failed.
    expect(engine.alerts.filter((a) => a.kind === 'ledger').map((a) => a.level)).toEqual(['critical']);
    reserve('r1');
    expect(replies('deny').map((d) => [d.frame.id, d.frame.code])).toEqual([['r1', 'UNAVAILABLE']]);
    expect(String(replies('deny')[0]?.frame.message)).toContain('database or disk is full');
    spend('s2', 'k2', 2);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(replies('ack')).toEqual([]);

    ledger.healthy = true;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(replies('ack').map((a) => a.frame.id)).toEqual(['s1', 's2']);
    expect([...ledger.durable]).toEqual(['session:s\nk1', 'session:s\nk2']);
    expect(engine.ledger).toEqual({ writable: true, error: null, since_ms: null });
    expect(engine.alerts.filter((a) => a.kind === 'ledger').map((a) => a.level)).toEqual(['critical', 'info']);
    reserve('r2');
    expect(replies('grant').map((g) => g.frame.id)).toEqual(['r2']);
  });

  it('never stalls a deny, a pong or a kill behind a pending operator action or a failing batch', async () => {
    const { ledger, sup, sent, spend, reserve, replies } = setup();
    ledger.healthy = true;
    // An operator kill: its row is queued, not yet durable.
    sup.dispatch({ type: 'operator', conn: 3, frame: { type: 'kill', id: 'o1', scope: 'agent:a' }, actor: 'operator' });
    reserve('r1', 1); // a killed agent: denied at once
    sup.dispatch({ type: 'agent', conn: 1, frame: { type: 'ping', id: 'p1' }, key_known: false });
    reserve('r2', 2); // a grant may rest on an operator action: it waits for the kill row
    expect(sent.filter((s) => s.conn === 1).map((s) => s.frame.type)).toEqual(['welcome', 'kill', 'deny', 'pong']);
    expect(replies('deny')[0]?.frame.code).toBe('KILLED');
    expect(replies('grant')).toEqual([]);
    expect(replies('result')).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(replies('grant').map((g) => g.frame.id)).toEqual(['r2']);
    expect(replies('result').map((r) => r.frame.id)).toEqual(['o1']);
    expect(ledger.actions.map((a) => a.kind)).toEqual(['kill']);

    // Behind a batch the disk refuses, a ping and a deny still leave at once.
    ledger.healthy = false;
    spend('s1', 'k1', 2);
    await vi.advanceTimersByTimeAsync(1_000);
    sup.dispatch({ type: 'agent', conn: 2, frame: { type: 'ping', id: 'p2' }, key_known: false });
    reserve('r3', 2);
    expect(replies('pong').map((p) => p.frame.id)).toEqual(['p1', 'p2']);
    expect(replies('deny').map((d) => [d.frame.id, d.frame.code])).toEqual([
      ['r1', 'KILLED'],
      ['r3', 'UNAVAILABLE'],
    ]);
    expect(replies('ack')).toEqual([]);
  });

  it('bounds the held batch: past it, settling frames are refused (for a resend), not queued', async () => {
    const { ledger, sup, spend, replies } = setup({ maxHeld: 3 });
    for (let i = 1; i <= 3; i++) {
      expect(sup.settleRefusal()).toBeNull();
      spend(`s${i}`, `k${i}`);
    }
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sup.held.rows).toBe(3);
    const refusal = sup.settleRefusal();
    expect(refusal).toMatch(/^ledger unavailable/);
    expect(Buffer.byteLength(refusal ?? '')).toBeLessThanOrEqual(123); // fits a WebSocket close reason
    expect(sup.settleRefusal()).not.toBeNull();
    expect(sup.settlesRefusedTotal).toBe(2);
    expect(sup.writeFailuresTotal).toBeGreaterThan(0);

    // The client resends its refused spend and the held ones after the disk is back: each once.
    ledger.healthy = true;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sup.held.rows).toBe(0);
    expect(sup.settleRefusal()).toBeNull();
    for (let i = 1; i <= 4; i++) spend(`again${i}`, `k${i}`);
    await vi.advanceTimersByTimeAsync(10);
    expect(replies('ack').map((a) => [a.frame.id, a.frame.duplicate])).toEqual([
      ['s1', false],
      ['s2', false],
      ['s3', false],
      ['again1', true],
      ['again2', true],
      ['again3', true],
      ['again4', false],
    ]);
    expect(ledger.durable.size).toBe(4);
  });

  it('a second operator subscribing takes nothing from the first: both see a spend made just before it subscribed', () => {
    const { sup, spend, sent, ledger } = setup();
    ledger.healthy = true;
    sup.subscribe(10);
    spend('s1', 'k1');
    vi.runOnlyPendingTimers();
    sup.subscribe(11);
    sup.feedTick(Date.now() + 2_000);
    const saw = (conn: number) => sent.filter((s) => s.conn === conn && s.frame.type === 'feed').map((s) => (s.frame as { scopes: Record<string, { spent: { cost_usd: number } }> }).scopes['task:t']?.spent.cost_usd);
    expect(saw(11)).toContain(0.01);
    const firstSaw = saw(10);
    expect(firstSaw).toContain(0.01);
  });
});
