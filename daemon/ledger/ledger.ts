import Database from 'better-sqlite3';
import type { RestoredState, RestoredScope } from '../engine/engine.js';
import type { ActionRow, UsageRow } from '../engine/events.js';
import type { ScopeId } from '../engine/scope.js';
import type { ScopeCounters } from '../engine/state.js';
import { COST, TOKENS, type Deltas } from '../engine/deltas.js';
import { KeyFilter } from './bloom.js';
import { LEDGER_DDL, LEDGER_SCHEMA_VERSION } from './schema.js';

export interface ScopeSnapshot {
  readonly scope: string;
  readonly parent: string | null;
  readonly counters: ScopeCounters;
}

/**
 * The durable ledger (SQLite, WAL, synchronous=FULL). Every batch — usage rows, actions and the
 * counters of the scopes they touched — is one transaction: one fsync for many requests.
 */
export class Ledger {
  private readonly db: Database.Database;
  private readonly insertUsage: Database.Statement;
  private readonly insertAction: Database.Statement;
  private readonly upsertTotals: Database.Statement;
  private readonly selectKey: Database.Statement;
  private readonly keys = new KeyFilter();
  private readonly writeTx: (usage: readonly UsageRow[], actions: readonly ActionRow[], scopes: readonly ScopeSnapshot[] | null) => void;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(LEDGER_DDL);
    const version = this.meta('schema_version');
    if (version === undefined) this.setMeta('schema_version', String(LEDGER_SCHEMA_VERSION));
    else if (Number(version) !== LEDGER_SCHEMA_VERSION) throw new Error(`ledger ${path} has schema version ${version}, this daemon reads ${LEDGER_SCHEMA_VERSION}`);
    this.insertUsage = this.db.prepare(
      `INSERT INTO usage (key, ts, kind, user, session, task, agent, chain, model, input_tokens, output_tokens,
         cache_read_tokens, cache_write_tokens, cost_nano, tool, op, overshoot)
       VALUES (@key, @ts, @kind, @user, @session, @task, @agent, @chain, @model, @input_tokens, @output_tokens,
         @cache_read_tokens, @cache_write_tokens, @cost_nano, @tool, @op, @overshoot)`,
    );
    this.insertAction = this.db.prepare('INSERT INTO actions (ts, kind, scope, actor, data) VALUES (?, ?, ?, ?, ?)');
    this.upsertTotals = this.db.prepare('INSERT INTO scope_totals (scope, data) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE SET data = excluded.data');
    this.selectKey = this.db.prepare('SELECT 1 FROM usage WHERE key = ?').pluck();
    for (const key of this.db.prepare('SELECT key FROM usage').pluck().iterate() as IterableIterator<string>) this.keys.add(key);
    this.writeTx = this.db.transaction((usage, actions, scopes) => {
      let lastSeq: number | bigint | undefined;
      for (const r of usage) {
        lastSeq = this.insertUsage.run({ ...r, chain: JSON.stringify(r.chain), overshoot: r.overshoot ? 1 : 0 }).lastInsertRowid;
        this.keys.add(r.key);
      }
      for (const a of actions) this.insertAction.run(a.ts, a.kind, a.scope, a.actor, JSON.stringify(a.data));
      if (scopes !== null) {
        for (const s of scopes) this.upsertTotals.run(s.scope, JSON.stringify({ parent: s.parent, counters: s.counters }));
        // The snapshot covers every usage row up to here; a restart replays only the rows after it.
        const covered = lastSeq ?? (this.db.prepare('SELECT COALESCE(MAX(seq), 0) FROM usage').pluck().get() as number);
        this.setMeta('totals_seq', String(covered));
      }
    });
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

  hasKey(key: string): boolean {
    return this.keys.mightHave(key) && this.selectKey.get(key) !== undefined;
  }

  /**
   * Writes one batch durably; throws (and writes nothing) if any part fails. `scopes` (a
   * snapshot of the counters of every scope changed since the last one) is written only now and
   * then: counters are rebuilt from the snapshot plus the usage rows after it.
   */
  write(usage: readonly UsageRow[], actions: readonly ActionRow[], scopes: readonly ScopeSnapshot[] | null): void {
    this.writeTx(usage, actions, scopes);
  }

  /** Counters from the aggregates, operator grants and kills from the actions: no usage rescan. */
  restore(): RestoredState {
    const scopes: RestoredScope[] = [];
    for (const row of this.db.prepare('SELECT scope, data FROM scope_totals').all() as Array<{ scope: string; data: string }>) {
      const parsed = JSON.parse(row.data) as { parent: string | null; counters: ScopeCounters };
      scopes.push({ id: row.scope as ScopeId, parent: parsed.parent as ScopeId | null, counters: parsed.counters });
    }
    const grants: Array<{ scope: ScopeId; deltas: Deltas }> = [];
    const killState = new Map<string, { reason: string; at_ms: number } | null>();
    const open = new Map<string, { chain: ScopeId[]; cap: Deltas }>();
    const rows = this.db.prepare("SELECT ts, kind, scope, actor, data FROM actions WHERE kind IN ('grant', 'kill', 'resume', 'delegate', 'delegation_end') ORDER BY seq").all() as Array<{
      ts: number;
      kind: string;
      scope: string;
      actor: string;
      data: string;
    }>;
    for (const a of rows) {
      const data = JSON.parse(a.data) as Record<string, unknown>;
      if (a.kind === 'grant') {
        const deltas: Deltas = {};
        if (typeof data.cost_nano === 'number' && data.cost_nano !== 0) deltas[COST] = data.cost_nano;
        if (typeof data.tokens === 'number' && data.tokens !== 0) deltas[TOKENS] = data.tokens;
        grants.push({ scope: a.scope as ScopeId, deltas });
      } else if (a.kind === 'delegate') {
        const cap: Deltas = {};
        const cost = typeof data.cap_cost_nano === 'number' ? data.cap_cost_nano : data.cost_nano;
        const tokens = typeof data.cap_tokens === 'number' ? data.cap_tokens : data.tokens;
        if (typeof cost === 'number') cap[COST] = cost;
        if (typeof tokens === 'number') cap[TOKENS] = tokens;
        const chain = Array.isArray(data.chain) && data.chain.every((id) => typeof id === 'string') ? (data.chain as ScopeId[]) : null;
        if (chain) open.set(a.scope, { chain, cap });
        else open.delete(a.scope);
      } else if (a.kind === 'delegation_end') {
        open.delete(a.scope);
      } else if (a.kind === 'kill') {
        killState.set(a.scope, { reason: typeof data.reason === 'string' ? data.reason : 'killed', at_ms: a.ts });
      } else {
        killState.set(a.scope, null);
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
    return { scopes, grants, kills, replay, delegations };
  }

  checkpoint(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  close(): void {
    this.db.close();
  }
}
