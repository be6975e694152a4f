import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../config/schema.js';
import { Engine } from '../engine/engine.js';
import type { ActionRow, UsageRow } from '../engine/events.js';
import type { ConnId } from '../engine/state.js';
import { silentLogger } from './log.js';
import { Supervisor } from './supervisor.js';

/** A ledger whose disk fails until `healthy` is set: what reached it, and what it acknowledged. */
class FlakyLedger {
  healthy = false;
  readonly durable = new Set<string>();
  write(usage: readonly UsageRow[], _actions: readonly ActionRow[]): void {
    if (!this.healthy) throw new Error('disk I/O error');
    for (const row of usage) this.durable.add(row.key);
  }
  hasKey(key: string): boolean {
    return this.durable.has(key);
  }
}

function setup() {
  const ledger = new FlakyLedger();
  const sent: Array<{ conn: ConnId; frame: Record<string, unknown> }> = [];
  const transport = { send: (conn: ConnId, data: string) => sent.push({ conn, frame: JSON.parse(data) as Record<string, unknown> }), close: () => {} };
  const engine = new Engine({ config: ConfigSchema.parse({}), epoch: 1, now: Date.now() });
  const sup = new Supervisor(engine, ledger, transport, silentLogger);
  engine.open(1);
  sup.dispatch({ type: 'hello', conn: 1, frame: { type: 'hello', v: 1, agent: 'a', session: 's', task: 't', user: 'default' } });
  const spend = (id: string, key: string): void => sup.dispatch({ type: 'agent', conn: 1, frame: { type: 'spend', id, key, cost_usd: 0.01 }, key_known: sup.keyKnown(key) });
  return { ledger, sent, spend };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Supervisor acks', () => {
  it('holds the duplicate ack of a key whose first copy is not yet durable, until the write succeeds', async () => {
    const { ledger, sent, spend } = setup();
    spend('s1', 'k1');
    spend('s2', 'k1'); // a resend before the batch is on disk
    await tick(250); // the write fails and is retried every 100 ms
    const acks = () => sent.filter((s) => s.frame.type === 'ack');
    expect(acks()).toEqual([]);
    ledger.healthy = true;
    await tick(250);
    expect(acks().map((a) => [a.frame.id, a.frame.duplicate])).toEqual([
      ['s1', false],
      ['s2', true],
    ]);
    expect(ledger.durable.has('k1')).toBe(true);
  });

  it('answers a duplicate of a durable key at once', async () => {
    const { ledger, sent, spend } = setup();
    ledger.healthy = true;
    spend('s1', 'k1');
    await tick(20);
    spend('s2', 'k1');
    expect(sent.filter((s) => s.frame.type === 'ack').map((a) => [a.frame.id, a.frame.duplicate])).toEqual([
      ['s1', false],
      ['s2', true],
    ]);
  });
});
