import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type { RestoredKey, RestoredState, RestoredScope } from '../engine/engine.js';
import { parseActionRow } from '../engine/actions.js';
import type { ActionRow, UsageRow } from '../engine/events.js';
import type { ScopeId } from '../engine/scope.js';
import type { ScopeCounters } from '../engine/state.js';
import { COST, TOKENS, type Deltas } from '../engine/deltas.js';
import { namespacedKey } from '../engine/settlement.js';
import { type BatchTiming, BatchWriter, openForWriting, type ScopeSnapshot } from './batch-writer.js';
import { KEY_FILTER_FORMAT, KeyFilter } from './bloom.js';
import { LEDGER_DDL, LEDGER_SCHEMA_VERSION, MIGRATE_1_TO_2 } from './schema.js';

export type { ScopeSnapshot } from './batch-writer.js';

/**
 * The durable ledger (SQLite, WAL, synchronous=FULL). Every batch — usage rows, actions and the
 * counters of the scopes they touched — is one transaction: one fsync for many requests.
 */
export class Ledger {
  private readonly db: Database.Database;
  private readonly batches: BatchWriter;
  private readonly selectKey: Database.Statement;
  private readonly selectTotals: Database.Statement;
  private readonly keys: KeyFilter;
  /** Every usage row up to this seq has its key in `keys` (rows after it may too). */
  private coveredSeq = 0;
  /** Keys read from the usage table at open: all of them, or those after a saved filter. */
  readonly keysRead: number;

  constructor(path: string) {
    this.db = new Database(path);
    openForWriting(this.db);
    this.migrate(path);
    this.batches = new BatchWriter(this.db);
    this.selectKey = this.db.prepare('SELECT 1 FROM usage WHERE ns = ? AND key = ?').pluck();
    this.selectTotals = this.db.prepare('SELECT data FROM scope_totals WHERE scope = ?').pluck();
    const saved = this.savedKeyFilter();
    this.keys = saved?.filter ?? new KeyFilter();
    // Only the keys the saved filter does not cover are read: a restart does not read them all.
    const after = saved?.seq ?? 0;
    const rows = this.db.prepare('SELECT seq, ns, key FROM usage WHERE seq > ? ORDER BY seq').raw().iterate(after) as IterableIterator<[number, string, string]>;
    let read = 0;
    this.coveredSeq = after;
    for (const [seq, ns, key] of rows) {
      this.keys.add(namespacedKey(ns, key));
      this.coveredSeq = seq;
      read += 1;
    }
    this.keysRead = read;
  }

  /**
   * The filter saved at the last graceful stop, if it is one of this format and the row it ends
   * at is still the one it was (a ledger restored from an older copy reuses seqs: then every key
   * is read again). A filter that misses a key would let a resent commit count twice.
   */
  private savedKeyFilter(): { filter: KeyFilter; seq: number } | undefined {
    try {
      const row = this.db.prepare('SELECT format, seq, fingerprint, digest, bits FROM key_filter WHERE id = 1').get() as
        | { format: string; seq: number; fingerprint: string; digest: string; bits: Buffer }
        | undefined;
      if (!row || row.format !== KEY_FILTER_FORMAT) return undefined;
      if (this.fingerprintAt(row.seq) !== row.fingerprint || digestOf(row.bits) !== row.digest) return undefined;
      return { filter: new KeyFilter(row.bits), seq: row.seq };
    } catch {
      return undefined; // unreadable (a table of another shape, say): every key is read
    }
  }

  private fingerprintAt(seq: number): string | undefined {
    const r = this.db.prepare('SELECT ns, key FROM usage WHERE seq = ?').raw().get(seq) as [string, string] | undefined;
    return r === undefined ? undefined : namespacedKey(r[0], r[1]);
  }

  /**
   * Saves the key filter for the next start (at a graceful stop, once nothing else writes): it
   * covers the rows whose keys it was told of. Rows written after — by a crash's last batch or
   * anything else — are read at start as they always were.
   */
  saveKeyFilter(): void {
    const fingerprint = this.fingerprintAt(this.coveredSeq);
    if (fingerprint === undefined) return;
    const bits = this.keys.bytes();
    this.db
      .prepare(
        'INSERT INTO key_filter (id, format, seq, fingerprint, digest, bits) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET format = excluded.format, seq = excluded.seq, fingerprint = excluded.fingerprint, digest = excluded.digest, bits = excluded.bits',
      )
      .run(KEY_FILTER_FORMAT, this.coveredSeq, fingerprint, digestOf(bits), bits);
  }

  /** Creates the tables, or brings an older ledger to this version in one transaction. */
  private migrate(path: string): void {
    const hasMeta = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").pluck().get() !== undefined;
    const version = hasMeta ? this.meta('schema_version') : undefined;
    if (version === '1') {
      this.db.transaction(() => {
        this.db.exec(MIGRATE_1_TO_2);
        this.setMeta('schema_version', String(LEDGER_SCHEMA_VERSION));
      })();
    }
    this.db.exec(LEDGER_DDL);
    const now = this.meta('schema_version');
    if (now === undefined) this.setMeta('schema_version', String(LEDGER_SCHEMA_VERSION));
    else if (Number(now) !== LEDGER_SCHEMA_VERSION) throw new Error(`ledger ${path} has schema version ${now}, this daemon reads ${LEDGER_SCHEMA_VERSION}`);
  }

  meta(name: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE name = ?').pluck().get(name);
    return typeof row === 'string' ? row : undefined;
  }

  setMeta(name: string, value: string): void {
    this.db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  /** Counts boots: ids issued by the engine carry the epoch, so a restart never reissues one. */
  nextEpoch(): number {
    const epoch = Number(this.meta('epoch') ?? '0') + 1;
    this.setMeta('epoch', String(epoch));
    return epoch;
  }

  /** `key`: a namespaced key (`namespacedKey`), as the engine looks one up. */
  hasKey(key: string): boolean {
    if (!this.keys.mightHave(key)) return false;
    const cut = key.indexOf('\n');
    return this.selectKey.get(key.slice(0, cut), key.slice(cut + 1)) !== undefined;
  }

  /**
   * Writes one batch durably; throws (and writes nothing) if any part fails. `scopes` (a
   * snapshot of the counters of every scope changed since the last one) is written only now and
   * then: counters are rebuilt from the snapshot plus the usage rows after it.
   */
  write(usage: readonly UsageRow[], actions: readonly ActionRow[], scopes: readonly ScopeSnapshot[] | null): BatchTiming {
    const timing = this.batches.write({ usage, actions, scopes });
    this.written(usage, timing.lastSeq);
    return timing;
  }

  /**
   * Usage rows another connection (the writer thread) committed: their keys join the filter.
   * Only once committed: a batch rolled back (a full disk) leaves nothing behind, not even in the
   * filter (which would be harmless — `hasKey` confirms every hit in SQLite — but untidy).
   */
  written(usage: readonly UsageRow[], lastSeq?: number): void {
    for (const r of usage) this.keys.add(namespacedKey(r.ns, r.key));
    // A batch's rows take consecutive seqs. Coverage moves only over rows seen: a batch that
    // committed but was reported lost (its thread died) leaves a gap, and coverage stops before it.
    if (lastSeq !== undefined && lastSeq - usage.length === this.coveredSeq) this.coveredSeq = lastSeq;
  }

  /** Counters from the aggregates, operator grants and kills from the actions: no usage rescan. */
  restore(): RestoredState {
    const scopes: RestoredScope[] = [];
    for (const row of this.db.prepare('SELECT scope, data FROM scope_totals').iterate() as IterableIterator<{ scope: string; data: string }>) scopes.push(snapshotOf(row));
    const grants: Array<{ scope: ScopeId; deltas: Deltas }> = [];
    const killState = new Map<string, { reason: string; at_ms: number } | null>();
    const open = new Map<string, { chain: ScopeId[]; cap: Deltas }>();
    const keys = new Map<string, RestoredKey>();
    const rows = this.db.prepare("SELECT seq, ts, kind, scope, actor, data FROM actions WHERE kind IN ('grant', 'kill', 'resume', 'delegate', 'delegation_end', 'key_create', 'key_revoke') ORDER BY seq").iterate() as IterableIterator<{
      seq: number;
      ts: number;
      kind: string;
      scope: string;
      actor: string;
      data: string;
    }>;
    for (const raw of rows) {
      // One schema for what the engine writes and what is read back: a row that does not fit stops the start.
      const a = parseActionRow(raw.seq, raw);
      switch (a.kind) {
        case 'grant': {
          const deltas: Deltas = {};
          if (a.data.cost_nano !== 0) deltas[COST] = a.data.cost_nano;
          if (a.data.tokens !== 0) deltas[TOKENS] = a.data.tokens;
          grants.push({ scope: a.scope as ScopeId, deltas });
          break;
        }
        case 'delegate': {
          const cap: Deltas = {};
          const cost = a.data.cap_cost_nano ?? a.data.cost_nano;
          const tokens = a.data.cap_tokens ?? a.data.tokens;
          if (cost !== null) cap[COST] = cost;
          if (tokens !== null) cap[TOKENS] = tokens;
          if (a.data.chain) open.set(a.scope, { chain: a.data.chain as ScopeId[], cap });
          else open.delete(a.scope);
          break;
        }
        case 'delegation_end':
          open.delete(a.scope);
          break;
        case 'kill':
          killState.set(a.scope, { reason: a.data.reason, at_ms: a.ts });
          break;
        case 'resume':
          killState.set(a.scope, null);
          break;
        case 'key_create':
          keys.set(a.data.label, { label: a.data.label, hash: a.data.hash, scope: a.scope as ScopeId, agent: a.data.agent, created_ms: a.ts, expires_ms: a.data.expires_ms, revoked: false, pinned: a.data.pinned as ScopeId[] });
          break;
        case 'key_revoke': {
          const k = keys.get(a.data.label);
          if (k) keys.set(k.label, { ...k, revoked: true });
          break;
        }
        default:
          break;
      }
    }
    const kills = [...killState].flatMap(([scope, k]) => (k ? [{ scope: scope as ScopeId, ...k }] : []));
    const after = Number(this.meta('totals_seq') ?? '0');
    const replay = (
      this.db.prepare('SELECT ts, chain, model, op, input_tokens, output_tokens, cost_nano FROM usage WHERE seq > ? ORDER BY seq').all(after) as Array<{
        ts: number;
        chain: string;
        model: string | null;
        op: string | null;
        input_tokens: number;
        output_tokens: number;
        cost_nano: number;
      }>
    ).map((r) => ({ ...r, chain: JSON.parse(r.chain) as ScopeId[] }));
    const delegations = [...open].map(([child, d]) => ({ child: child as ScopeId, ...d }));
    return { scopes, grants, kills, replay, delegations, keys: [...keys.values()] };
  }

  /**
   * Counters of scopes that left the daemon's memory, with their ancestors, parents first (the
   * engine's `load` event). Scopes the ledger never saw are simply absent.
   */
  loadScopes(ids: readonly ScopeId[]): RestoredScope[] {
    const found = new Map<ScopeId, RestoredScope>();
    const visit = (id: ScopeId, depth: number): void => {
      if (found.has(id) || depth > 32) return;
      const data = this.selectTotals.get(id) as string | undefined;
      if (data === undefined) return;
      const s = snapshotOf({ scope: id, data });
      if (s.parent) visit(s.parent, depth + 1);
      found.set(id, s);
    };
    for (const id of ids) visit(id, 0);
    return [...found.values()];
  }

  /**
   * Copies WAL pages into the database file (PASSIVE: never waits for readers). Returns why it
   * could not (a full disk), or null; a failed checkpoint loses nothing — the WAL still holds
   * every committed row — and the next one tries again.
   */
  checkpoint(): string | null {
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  close(): void {
    this.db.close();
  }
}

function snapshotOf(row: { scope: string; data: string }): RestoredScope {
  const parsed = JSON.parse(row.data) as { parent: string | null; counters: ScopeCounters };
  return { id: row.scope as ScopeId, parent: parsed.parent as ScopeId | null, counters: parsed.counters };
}

const digestOf = (bits: Uint8Array): string => createHash('sha256').update(bits).digest('hex');
