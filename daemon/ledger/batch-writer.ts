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
}

/**
 * Writes batches into an open ledger database, each in one transaction (one fsync for many
 * requests). Used on whichever thread owns the writing connection: the daemon's writer thread,
 * or the main thread in tests and tools.
 */
export class BatchWriter {
  private readonly tx: (batch: Batch, token: string | undefined) => void;
  private readonly lastToken: Database.Statement;
  private bindMs = 0;

  constructor(db: Database.Database) {
    // Positional parameters: binding an array is cheaper than a named object per row.
    const insertUsage = db.prepare(
      `INSERT INTO usage (key, ns, ts, kind, user, session, task, agent, chain, model, input_tokens, output_tokens,
         cache_read_tokens, cache_write_tokens, cost_nano, tool, op, overshoot)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertAction = db.prepare('INSERT INTO actions (ts, kind, scope, actor, data) VALUES (?, ?, ?, ?, ?)');
    const upsertTotals = db.prepare('INSERT INTO scope_totals (scope, data) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE SET data = excluded.data');
    const setMeta = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value');
    const maxSeq = db.prepare('SELECT COALESCE(MAX(seq), 0) FROM usage').pluck();
    this.lastToken = db.prepare("SELECT value FROM meta WHERE name = 'writer_batch'").pluck();
    this.tx = db.transaction((batch: Batch, token: string | undefined) => {
      const started = performance.now();
      let lastSeq: number | bigint | undefined;
      for (const r of batch.usage) {
        lastSeq = insertUsage.run(
          r.key, r.ns, r.ts, r.kind, r.user, r.session, r.task, r.agent, JSON.stringify(r.chain), r.model, r.input_tokens, r.output_tokens,
          r.cache_read_tokens, r.cache_write_tokens, r.cost_nano, r.tool, r.op, r.overshoot ? 1 : 0,
        ).lastInsertRowid;
      }
      for (const a of batch.actions) insertAction.run(a.ts, a.kind, a.scope, a.actor, JSON.stringify(a.data));
      if (batch.scopes !== null) {
        for (const s of batch.scopes) upsertTotals.run(s.scope, JSON.stringify({ parent: s.parent, counters: s.counters }));
        // The snapshot covers every usage row up to here; a restart replays only the rows after it.
        setMeta.run('totals_seq', String(lastSeq ?? (maxSeq.get() as number)));
      }
      // The batch's token commits with it: a resend of a batch in doubt can ask (`committed`).
      if (token !== undefined) setMeta.run('writer_batch', token);
      this.bindMs = performance.now() - started;
    });
  }

  /** Writes `batch` durably, or throws having written nothing of it. */
  write(batch: Batch, token?: string): BatchTiming {
    const started = performance.now();
    this.bindMs = 0;
    this.tx(batch, token);
    return { bindMs: this.bindMs, totalMs: performance.now() - started };
  }

  /** Whether the last batch committed was the one with `token` (one batch is ever in doubt). */
  committed(token: string): boolean {
    return this.lastToken.get() === token;
  }
}

/** The pragmas every connection that writes the ledger uses: WAL, and a COMMIT waits for its fsync. */
export function openForWriting(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
}
