import type { EngineEvent, ActionRow, UsageRow } from '../engine/events.js';
import type { Engine } from '../engine/engine.js';
import { unsavedScopes } from '../engine/memory.js';
import type { ScopeId } from '../engine/scope.js';
import type { Batch, ScopeSnapshot } from '../ledger/batch-writer.js';
import type { DurableWriter, WriteOutcome } from '../ledger/durable-writer.js';
import type { Logger } from './log.js';
import type { StageTimes } from './stages.js';
import type { ConnId } from '../engine/state.js';

/** What the group commit hands replies and closes to. */
export interface Transport {
  /** A Buffer is UTF-8 JSON text too: one frame encoded once for many connections (a kill). */
  send(conn: ConnId, data: string | Buffer): void;
  close(conn: ConnId): void;
}

export type Outgoing = { readonly conn: ConnId; readonly data: string | Buffer } | { readonly conn: ConnId; readonly close: true };

/** A failed batch is retried after 100 ms, doubling up to 2 s: a freed disk is noticed within 2 s. */
const RETRY_WRITE_MS = 100;
const RETRY_WRITE_MAX_MS = 2_000;
/**
 * Bound on what waits for the disk: held usage + action rows, and held outgoing frames, each. Past
 * it a settling frame (commit, spend) is not taken at all — the server closes that connection
 * (1013) or answers 503, and the client resends it later under its key — so a full disk cannot
 * grow memory without end (20,000 rows are a few MB) and nothing acknowledged is lost.
 */
export const MAX_HELD = 20_000;
/** A failing ledger is logged on its first failure, then every this many retries (about a minute at the cap). */
const LOG_EVERY_RETRIES = 30;
/**
 * Counters are snapshotted at most this often (in the same transaction as that batch's rows);
 * a restart replays the usage rows written since, so the hot path does not re-serialise every
 * touched scope on every batch.
 */
const SNAPSHOT_EVERY_MS = 1_000;

/** A batch handed to the writer and not yet durable, with the replies that wait for it. */
interface Inflight {
  readonly batch: Batch;
  readonly outgoing: Outgoing[];
  readonly keys: Set<string>;
  readonly dirty: readonly ScopeId[];
  readonly version: number;
  readonly at_ms: number;
}

/**
 * Group commit: the engine's ledger rows gathered into one batch, handed to the writer one batch
 * at a time, and the replies that promise those rows released only once their batch is durable,
 * in order. While a batch is written the next one gathers (and grows). A failed batch goes back
 * in front of the next, retried with a capped backoff; nothing in it was acknowledged.
 */
export class GroupCommit {
  private usage: UsageRow[] = [];
  private actions: ActionRow[] = [];
  private outgoing: Outgoing[] = [];
  /** Keys of the batch being gathered; `inflight.keys`: of the one being written. */
  private pendingKeys = new Set<string>();
  private inflight: Inflight | null = null;
  private scheduled = false;
  private lastSnapshotMs = 0;
  private lastQuietCheckMs = 0;
  private forceSnapshot = false;
  /** Consecutive failed writes of the held batch (0 while the ledger is healthy). */
  private writeFailures = 0;
  /** Failed ledger writes since start, and settling frames refused past MAX_HELD (metrics). */
  writeFailuresTotal = 0;
  settlesRefusedTotal = 0;
  private refusedSinceWrite = 0;
  /** Called after each durable batch with its duration and row count (metrics). */
  readonly flushObservers: Array<(durationMs: number, rows: number) => void> = [];

  constructor(
    private readonly engine: Engine,
    private readonly writer: DurableWriter,
    private readonly transport: Transport,
    private readonly log: Logger,
    private readonly clock: () => number,
    private readonly stages: StageTimes,
    /** Events the commit tells the engine: scopes persisted, the ledger failing or back. */
    private readonly dispatch: (event: EngineEvent) => void,
    private readonly maxHeld: number = MAX_HELD,
  ) {}

  addUsage(row: UsageRow, key: string): void {
    this.usage.push(row);
    this.pendingKeys.add(key);
  }

  addAction(row: ActionRow): void {
    this.actions.push(row);
  }

  /** A reply or close that waits for the batch being gathered. */
  hold(out: Outgoing): void {
    this.outgoing.push(out);
  }

  /** In a batch not yet durable: the one being gathered or the one being written. */
  queuedKey(key: string): boolean {
    return this.pendingKeys.has(key) || this.inflight?.keys.has(key) === true;
  }

  get anyQueuedKeys(): boolean {
    return this.pendingKeys.size > 0 || this.inflight !== null;
  }

  /** Operator actions not yet durable (a grant reply may rest on one). */
  get actionsPending(): boolean {
    return this.actions.length > 0 || (this.inflight?.batch.actions.length ?? 0) > 0;
  }

  /** Something was gathered: a flush is due. */
  get due(): boolean {
    return this.outgoing.length > 0 || this.usage.length > 0 || this.actions.length > 0;
  }

  /** Rows and frames waiting for the next durable batch (a gauge). */
  get held(): { rows: number; frames: number } {
    const batch = this.inflight?.batch;
    return {
      rows: this.usage.length + this.actions.length + (batch ? batch.usage.length + batch.actions.length : 0),
      frames: this.outgoing.length + (this.inflight?.outgoing.length ?? 0),
    };
  }

  /**
   * Whether a settling frame (commit, spend) may be dispatched now; past the bound, why not (a
   * reason short enough for a WebSocket close frame). A refused frame never reaches the engine,
   * so it is not counted, and the client's resend under the same key counts it once later.
   */
  settleRefusal(): string | null {
    const { rows, frames } = this.held;
    if (rows < this.maxHeld && frames < this.maxHeld) return null;
    this.settlesRefusedTotal += 1;
    this.refusedSinceWrite += 1;
    if (this.refusedSinceWrite === 1 || this.refusedSinceWrite % 1_000 === 0) {
      this.log('warn', 'ledger backlog full: refusing commits and spends until the held batch is written (clients resend them later)', {
        held_rows: rows,
        held_frames: frames,
        max_held: this.maxHeld,
        refused: this.refusedSinceWrite,
        ledger_error: this.engine.ledger.error,
      });
    }
    return `ledger unavailable: ${rows} rows wait for the disk; resend later`;
  }

  /**
   * Counters changed by the last events before a quiet spell are saved too (at most once a
   * second): only saved scopes may leave memory when idle.
   */
  quietTick(): void {
    const now = this.clock();
    if (this.scheduled || now - this.lastQuietCheckMs < SNAPSHOT_EVERY_MS) return;
    this.lastQuietCheckMs = now;
    if (unsavedScopes(this.engine.view).length > 0) this.schedule();
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.retry());
  }

  /** Writes everything, counters included (before a graceful stop); `idle()` says when it is done. */
  flushAll(): void {
    this.forceSnapshot = true;
    this.flush();
  }

  /**
   * Resolves once nothing is being written and nothing waits to be (or after `timeoutMs`: a
   * ledger that cannot be written holds its batch; nothing in it was acknowledged).
   */
  async idle(timeoutMs = 5_000): Promise<void> {
    const deadline = this.clock() + timeoutMs;
    while ((this.inflight || this.scheduled) && this.clock() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /**
   * Hands the gathered batch to the writer, unless one is being written: then it waits, growing
   * (group commit), and goes as soon as that one is durable. Replies that waited for a batch
   * leave only after it is durable, in order.
   */
  flush(): void {
    this.scheduled = false;
    if (this.inflight) return;
    const now = this.clock();
    const snapshotDue = this.forceSnapshot || now - this.lastSnapshotMs >= SNAPSHOT_EVERY_MS;
    const dirty = snapshotDue ? unsavedScopes(this.engine.view) : [];
    if (this.usage.length === 0 && this.actions.length === 0 && dirty.length === 0) {
      this.release(this.outgoing);
      this.outgoing = [];
      return;
    }
    const snapshots: ScopeSnapshot[] | null = dirty.length > 0 ? dirty.map((s) => ({ scope: s.id, parent: s.parent?.id ?? null, counters: s.counters })) : null;
    const inflight: Inflight = {
      batch: { usage: this.usage, actions: this.actions, scopes: snapshots },
      outgoing: this.outgoing,
      keys: this.pendingKeys,
      dirty: dirty.map((s) => s.id),
      version: this.engine.version,
      at_ms: now,
    };
    this.usage = [];
    this.actions = [];
    this.outgoing = [];
    this.pendingKeys = new Set();
    this.inflight = inflight;
    const handing = this.stages.now();
    this.writer.write(inflight.batch, (outcome) => {
      try {
        this.written(inflight, outcome);
      } catch (e) {
        this.log('error', 'handling a written batch failed', { error: e instanceof Error ? e.message : String(e) });
      }
    });
    this.stages.since('handoff', handing);
  }

  private written(inflight: Inflight, outcome: WriteOutcome): void {
    if (this.inflight !== inflight) return;
    this.inflight = null;
    if (!outcome.ok) {
      this.failed(outcome.error, inflight);
      return;
    }
    const rows = inflight.batch.usage.length + inflight.batch.actions.length;
    this.stages.add('bind', outcome.bindMs);
    this.stages.add('commit', outcome.totalMs - outcome.bindMs);
    for (const observe of this.flushObservers) observe(outcome.totalMs, rows);
    this.writeFailures = 0;
    this.refusedSinceWrite = 0;
    if (inflight.batch.scopes) {
      this.lastSnapshotMs = inflight.at_ms;
      this.forceSnapshot = false;
      // Saved scopes may now leave memory when idle; the engine is told, it is not reached into.
      this.dispatch({ type: 'persisted', scopes: inflight.dirty, version: inflight.version });
    }
    this.release(inflight.outgoing);
    if (!this.engine.ledger.writable) {
      this.log('info', 'ledger writable again; held replies sent', {});
      this.dispatch({ type: 'ledger', writable: true, error: null });
    }
    // What arrived while this batch was written goes next, together.
    if (this.due || this.forceSnapshot) this.schedule();
  }

  private release(out: readonly Outgoing[]): void {
    const sending = this.stages.now();
    for (const o of out) {
      if ('close' in o) this.transport.close(o.conn);
      else this.transport.send(o.conn, o.data);
    }
    this.stages.since('send', sending);
  }

  /**
   * Nothing is acknowledged until the write succeeds: the batch stays, grows only up to MAX_HELD,
   * and is retried with a capped backoff. The engine fails closed meanwhile (UNAVAILABLE).
   */
  private failed(error: string, batch: Inflight): void {
    // The failed batch goes back in front of what arrived since: the retry writes both, in order.
    this.usage = [...batch.batch.usage, ...this.usage];
    this.actions = [...batch.batch.actions, ...this.actions];
    this.outgoing = [...batch.outgoing, ...this.outgoing];
    for (const key of this.pendingKeys) batch.keys.add(key);
    this.pendingKeys = batch.keys;
    // The retry carries the counters too, so a batch of only counters still proves the disk.
    this.forceSnapshot = true;
    this.writeFailures += 1;
    this.writeFailuresTotal += 1;
    const delayMs = Math.min(RETRY_WRITE_MAX_MS, RETRY_WRITE_MS * 2 ** Math.min(this.writeFailures - 1, 16));
    this.scheduled = true;
    setTimeout(() => this.retry(), delayMs).unref();
    if (this.writeFailures === 1 || this.writeFailures % LOG_EVERY_RETRIES === 0) {
      const { rows, frames } = this.held;
      this.log('error', 'ledger write failed; reserves denied UNAVAILABLE and replies held until it succeeds', { error, attempt: this.writeFailures, retry_ms: delayMs, held_rows: rows, held_frames: frames });
    }
    if (this.engine.ledger.writable || this.engine.ledger.error !== error) this.dispatch({ type: 'ledger', writable: false, error });
  }

  /** Flush as a timer callback: whatever goes wrong is logged, never thrown into the event loop. */
  private retry(): void {
    try {
      this.flush();
    } catch (e) {
      this.log('error', 'flush failed outside the ledger write; retrying', { error: e instanceof Error ? e.message : String(e) });
      this.scheduled = true;
      setTimeout(() => this.retry(), RETRY_WRITE_MAX_MS).unref();
    }
  }
}
