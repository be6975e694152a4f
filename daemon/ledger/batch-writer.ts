import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import type { ActionRow, UsageRow } from '../engine/events.js';
import type { ScopeCounters } from '../engine/state.js';

export interface ScopeSnapshot {
  readonly scope: string;
  readonly parent: string | null;
  readonly counters: ScopeCounters;
}

/** One group commit: usage rows, operator actions and, now and then, the touched scopes' counters. */
export interface Batch {
  readonly usage: readonly UsageRow[];
  readonly actions: readonly ActionRow[];
  readonly scopes: readonly ScopeSnapshot[] | null;
}

/** How long a batch took: binding and inserting its rows, and the whole transaction around them. */
export interface BatchTiming {
  readonly bindMs: number;
  readonly totalMs: number;
  /** The seq of the batch's last usage row, when it had any and wrote them (not a resend found done). */
  readonly lastSeq?: number;
}

/**
 * Writes batches into an open ledger database, each in one transaction (one fsync for many
 * requests). Used on whichever thread owns the writing connection: the daemon's writer thread,
 * or the main thread in tests and tools.
 *
 * A batch may also come in parts (`begin`, `part`…, `finish`), all in the one transaction, so a
 * thread whose heap is capped holds one part at a time however large the batch (the backlog of a
 * disk that was full). A transaction left open by a dying thread is rolled back by SQLite.
 */
export class BatchWriter {
  private readonly insertUsage: Database.Statement;
  private readonly insertAction: Database.Statement;
  private readonly upsertTotals: Database.Statement;
  private readonly setMeta: Database.Statement;
  private readonly maxSeq: Database.Statement;
  private readonly lastToken: Database.Statement;
  /** Of the batch being written: its last usage row, whether it carries counters, time spent binding. */
  private lastSeq: number | bigint | undefined;
  private snapshot = false;
  private bindMs = 0;
  private startedMs = 0;

  constructor(private readonly db: Database.Database) {
    // Positional parameters: binding an array is cheaper than a named object per row.
    this.insertUsage = db.prepare(
      `INSERT INTO usage (key, ns, ts, kind, user, session, task, agent, chain, model, input_tokens, output_tokens,
         cache_read_tokens, cache_write_tokens, cost_nano, tool, op, overshoot)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertAction = db.prepare('INSERT INTO actions (ts, kind, scope, actor, data) VALUES (?, ?, ?, ?, ?)');
    this.upsertTotals = db.prepare('INSERT INTO scope_totals (scope, data) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE SET data = excluded.data');
    this.setMeta = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value');
    this.maxSeq = db.prepare('SELECT COALESCE(MAX(seq), 0) FROM usage').pluck();
    this.lastToken = db.prepare("SELECT value FROM meta WHERE name = 'writer_batch'").pluck();
  }

  /** Writes `batch` durably, or throws having written nothing of it. */
  write(batch: Batch, token?: string): BatchTiming {
    this.begin();
    try {
      this.part(batch);
      return this.finish(token);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Opens the transaction of a batch written in parts. */
  begin(): void {
    this.startedMs = performance.now();
    this.bindMs = 0;
    this.lastSeq = undefined;
    this.snapshot = false;
    this.db.exec('BEGIN IMMEDIATE');
  }

  /** Binds one part's rows into the open transaction. */
  part(batch: Batch): void {
    const started = performance.now();
    for (const r of batch.usage) {
      this.lastSeq = this.insertUsage.run(
        r.key, r.ns, r.ts, r.kind, r.user, r.session, r.task, r.agent, JSON.stringify(r.chain), r.model, r.input_tokens, r.output_tokens,
        r.cache_read_tokens, r.cache_write_tokens, r.cost_nano, r.tool, r.op, r.overshoot ? 1 : 0,
      ).lastInsertRowid;
    }
    for (const a of batch.actions) this.insertAction.run(a.ts, a.kind, a.scope, a.actor, JSON.stringify(a.data));
    if (batch.scopes !== null) {
      this.snapshot = true;
      for (const s of batch.scopes) this.upsertTotals.run(s.scope, JSON.stringify({ parent: s.parent, counters: s.counters }));
    }
    this.bindMs += performance.now() - started;
  }

  /** Commits the batch: returns once it is durable (COMMIT waits for its fsync). */
  finish(token?: string): BatchTiming {
    // The snapshot covers every usage row up to here; a restart replays only the rows after it.
    if (this.snapshot) this.setMeta.run('totals_seq', String(this.lastSeq ?? (this.maxSeq.get() as number)));
    // The batch's token commits with it: a resend of a batch in doubt can ask (`committed`).
    if (token !== undefined) this.setMeta.run('writer_batch', token);
    this.db.exec('COMMIT');
    return { bindMs: this.bindMs, totalMs: performance.now() - this.startedMs, ...(this.lastSeq === undefined ? {} : { lastSeq: Number(this.lastSeq) }) };
  }

  /** Drops whatever of the batch was bound: nothing of it is written. */
  abort(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  /** Whether the last batch committed was the one with `token` (one batch is ever in doubt). */
  committed(token: string): boolean {
    return this.lastToken.get() === token;
  }
}

/**
 * A batch cut into parts of at most `rows` usage rows, action rows and scope snapshots each, in
 * order; a batch with counters has them (possibly none) in every part. Written as parts of one
 * transaction, it is the same batch.
 */
export function partsOf(batch: Batch, rows: number): Batch[] {
  const count = Math.max(1, Math.ceil(batch.usage.length / rows), Math.ceil(batch.actions.length / rows), Math.ceil((batch.scopes?.length ?? 0) / rows));
  if (count === 1) return [batch];
  const parts: Batch[] = [];
  for (let i = 0; i < count; i++) {
    const from = i * rows;
    parts.push({ usage: batch.usage.slice(from, from + rows), actions: batch.actions.slice(from, from + rows), scopes: batch.scopes === null ? null : batch.scopes.slice(from, from + rows) });
  }
  return parts;
}

/** The pragmas every connection that writes the ledger uses: WAL, and a COMMIT waits for its fsync. */
export function openForWriting(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
}
