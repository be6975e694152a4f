import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UsageRow } from '../engine/events.js';
import { namespacedKey } from '../engine/settlement.js';
import { Ledger } from './ledger.js';
import { LEDGER_DDL } from './schema.js';

/** A ledger as version 1 wrote it: keys unique across every session. */
function versionOneLedger(path: string): void {
  const db = new Database(path);
  db.exec(
    LEDGER_DDL.replace(/key\s+TEXT\s+NOT NULL,[^\n]*/, 'key TEXT NOT NULL UNIQUE,').replace(/\n\s*ns\s+TEXT[^\n]*/, '').replace(/CREATE UNIQUE INDEX[^\n]*\n/, ''),
  );
  db.prepare("INSERT INTO meta (name, value) VALUES ('schema_version', '1')").run();
  const insert = db.prepare(
    "INSERT INTO usage (key, ts, kind, user, session, task, agent, chain, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nano) VALUES (?, 1, 'spend', 'u', ?, 't', 'a', '[]', NULL, 0, 0, 0, 0, ?)",
  );
  insert.run('resp_1', 'sess-a', 1_000);
  insert.run('resp_2', 'sess-b', 2_000);
  db.close();
}

function row(session: string, key: string, cost_nano: number): UsageRow {
  return { key, ns: `session:${session}`, ts: 2, kind: 'spend', user: 'u', session, task: 't', agent: 'a', chain: ['global'], model: null, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cost_nano, tool: null, op: null, overshoot: false };
}

describe('ledger schema 1 → 2: idempotency keys unique per session', () => {
  it('keeps every row, then takes the same key in another session but never twice in one', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sg-migrate-')), 'ledger.db');
    versionOneLedger(path);
    const ledger = new Ledger(path);
    expect(ledger.meta('schema_version')).toBe('2');
    expect(ledger.hasKey(namespacedKey('session:sess-a', 'resp_1'))).toBe(true);
    expect(ledger.hasKey(namespacedKey('session:sess-b', 'resp_1'))).toBe(false);
    ledger.write([row('sess-b', 'resp_1', 5_000)], [], null);
    expect(ledger.hasKey(namespacedKey('session:sess-b', 'resp_1'))).toBe(true);
    expect(() => ledger.write([row('sess-a', 'resp_1', 7_000)], [], null)).toThrow(/UNIQUE/);
    ledger.close();

    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT seq, session, key, cost_nano FROM usage ORDER BY seq').all()).toEqual([
      { seq: 1, session: 'sess-a', key: 'resp_1', cost_nano: 1_000 },
      { seq: 2, session: 'sess-b', key: 'resp_2', cost_nano: 2_000 },
      { seq: 3, session: 'sess-b', key: 'resp_1', cost_nano: 5_000 },
    ]);
    db.close();
    // Opening it again is a no-op.
    const again = new Ledger(path);
    expect(again.meta('schema_version')).toBe('2');
    again.close();
  });
});
