import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UsageRow } from '../engine/events.js';
import { namespacedKey } from '../engine/settlement.js';
import { Ledger } from './ledger.js';

function row(key: string): UsageRow {
  return { key, ns: 'session:s', ts: 2, kind: 'spend', user: 'u', session: 's', task: 't', agent: 'a', chain: ['global'], model: null, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cost_nano: 1, tool: null, op: null, overshoot: false };
}
const known = (l: Ledger, key: string): boolean => l.hasKey(namespacedKey('session:s', key));

function ledgerWith(keys: readonly string[]): { path: string; ledger: Ledger } {
  const path = join(mkdtempSync(join(tmpdir(), 'sg-keys-')), 'ledger.db');
  const ledger = new Ledger(path);
  ledger.write(keys.map(row), [], null);
  return { path, ledger };
}

/** A ledger with `keys`, stopped gracefully: its key filter saved. */
function stoppedWith(keys: readonly string[]): string {
  const { path, ledger } = ledgerWith(keys);
  ledger.saveKeyFilter();
  ledger.close();
  return path;
}

/** Changes made to the ledger file behind the daemon's back. */
function behindItsBack(path: string, change: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    change(db);
  } finally {
    db.close();
  }
}

/** Rows written past the ledger's back, as by a batch whose report never arrived. */
function appendRaw(path: string, keys: readonly string[]): void {
  const db = new Database(path);
  const ins = db.prepare("INSERT INTO usage (key, ns, ts, kind, user, session, task, agent, chain, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nano, tool, op, overshoot) VALUES (?, 'session:s', 2, 'spend', 'u', 's', 't', 'a', '[\"global\"]', NULL, 0, 0, 0, 0, 1, NULL, NULL, 0)");
  for (const k of keys) ins.run(k);
  db.close();
}

describe('the idempotency-key filter across a restart', () => {
  it('a graceful stop saves it: the next start reads only the keys written after, and knows every key', () => {
    const path = stoppedWith(['a', 'b', 'c']);
    appendRaw(path, ['d', 'e']); // e.g. a crash's last batch after a later start
    const again = new Ledger(path);
    expect(again.keysRead).toBe(2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) expect(known(again, k), k).toBe(true);
    expect(known(again, 'never')).toBe(false);
    again.close();
  });

  it('with no saved filter every key is read, as before', () => {
    const { path, ledger } = ledgerWith(['a', 'b', 'c']);
    ledger.close();
    const again = new Ledger(path);
    expect(again.keysRead).toBe(3);
    again.close();
  });

  it('a saved filter whose last row is no longer the same (a ledger restored from an older copy) is not trusted', () => {
    const path = stoppedWith(['a', 'b', 'c']);
    behindItsBack(path, (db) => db.prepare("DELETE FROM usage WHERE key IN ('b', 'c')").run());
    appendRaw(path, ['x', 'y']); // reuses the seqs of b and c
    const again = new Ledger(path);
    expect(again.keysRead).toBe(3);
    for (const k of ['a', 'x', 'y']) expect(known(again, k), k).toBe(true);
    again.close();
  });

  it('a filter of another format (size, hash, byte order) is not read', () => {
    const path = stoppedWith(['a', 'b']);
    behindItsBack(path, (db) => db.prepare("UPDATE key_filter SET format = 'bloom-other'").run());
    const again = new Ledger(path);
    expect(again.keysRead).toBe(2);
    again.close();
  });

  it('rows committed but never reported (a gap) stop the coverage there: the next start reads them', () => {
    const { path, ledger } = ledgerWith(['a', 'b']);
    appendRaw(path, ['lost-1', 'lost-2']); // committed by a thread that died before it answered
    ledger.written([row('later')], 5); // the next batch's report: seq 5, after a gap
    appendRaw(path, ['later']);
    ledger.saveKeyFilter();
    ledger.close();
    const again = new Ledger(path);
    expect(again.keysRead).toBe(3);
    for (const k of ['a', 'b', 'lost-1', 'lost-2', 'later']) expect(known(again, k), k).toBe(true);
    again.close();
  });

  it('a damaged saved filter (one bit flipped) is not read: every key is read instead', () => {
    const path = stoppedWith(['a', 'b']);
    behindItsBack(path, (db) => {
      const bits = db.prepare('SELECT bits FROM key_filter').pluck().get() as Buffer;
      bits[12_345] = (bits[12_345] ?? 0) ^ 1;
      db.prepare('UPDATE key_filter SET bits = ?').run(bits);
    });
    const again = new Ledger(path);
    expect(again.keysRead).toBe(2);
    again.close();
  });

  it('a saved-filter table of another shape is not read, and the ledger still opens', () => {
    const { path, ledger } = ledgerWith(['a', 'b']);
    ledger.close();
    behindItsBack(path, (db) => db.exec('DROP TABLE key_filter; CREATE TABLE key_filter (id INTEGER PRIMARY KEY, other TEXT)'));
    const again = new Ledger(path);
    expect(again.keysRead).toBe(2);
    expect(() => again.saveKeyFilter()).toThrow();
    again.close();
  });
});
