import { idempotencyKey } from '../../shared/protocol/agent.js';
import type { Engine } from '../engine/engine.js';
import { feedFrame } from '../engine/feed.js';
import type { ActionRow, Effect, EngineEvent, UsageRow } from '../engine/events.js';
import type { ConnId } from '../engine/state.js';
import type { Ledger, ScopeSnapshot } from '../ledger/ledger.js';
import type { Logger } from './log.js';

export interface Transport {
  send(conn: ConnId, data: string): void;
  close(conn: ConnId): void;
}

type Outgoing = { readonly conn: ConnId; readonly data: string } | { readonly conn: ConnId; readonly close: true };

const RETRY_WRITE_MS = 100;
/**
 * Counters are snapshotted at most this often (in the same transaction as that batch's rows);
 * a restart replays the usage rows written since, so the hot path does not re-serialise every
 * touched scope on every batch.
 */
const SNAPSHOT_EVERY_MS = 1_000;
/** Live feed: at most 4 deltas a second however fast events arrive, a refresh every second. */
const FEED_MIN_INTERVAL_MS = 250;
const FEED_REFRESH_MS = 1_000;

/**
 * The imperative shell around the engine: feeds it events with the real clock, collects its
 * ledger rows into one batch per event-loop turn (group commit), and releases replies only after
 * that batch is durable — so no ack ever leaves for a row that is not on disk.
 */
export class Supervisor {
  private usage: UsageRow[] = [];
  private actions: ActionRow[] = [];
  private outgoing: Outgoing[] = [];
  private readonly pendingKeys = new Set<string>();
  private scheduled = false;
  private lastSnapshotMs = 0;
  private forceSnapshot = false;
  private writeFailures = 0;
  private readonly subscribers = new Set<ConnId>();
  private feedAlertSeq = 0;
  private lastFeedMs = 0;

  constructor(
    readonly engine: Engine,
    private readonly ledger: Pick<Ledger, 'write' | 'hasKey'>,
    private readonly transport: Transport,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  keyKnown(key: string): boolean {
    return this.pendingKeys.has(key) || this.ledger.hasKey(key);
  }

  /** Observers of every event and its effects (metrics); they must not throw or block. */
  readonly observers: Array<(event: EngineEvent, effects: readonly Effect[]) => void> = [];
  /** Called after each durable batch with its duration and row count (metrics). */
  readonly flushObservers: Array<(durationMs: number, rows: number) => void> = [];

  dispatch(event: EngineEvent): void {
    const effects = this.engine.handle(event, this.clock());
    for (const observe of this.observers) observe(event, effects);
    const immediate = this.actions.length === 0 && !this.restsOnQueuedKey(event) && !effects.some((e) => e.type === 'usage' || e.type === 'action' || e.type === 'close');
    for (const e of effects) {
      switch (e.type) {
        case 'usage':
          this.usage.push(e.row);
          this.pendingKeys.add(e.row.key);
          break;
        case 'action':
          this.actions.push(e.row);
          break;
        case 'send':
          // A reply that records nothing (a grant, a deny) leaves at once. It may rest on usage
          // rows not yet durable, but usage only ever raises spent, so a crash can only make
          // such a decision look stricter than needed — never looser. Operator actions (kills,
          // grants) make every later reply wait for them.
          if (immediate) this.transport.send(e.conn, JSON.stringify(e.frame));
          else this.outgoing.push({ conn: e.conn, data: JSON.stringify(e.frame) });
          break;
        case 'close':
          this.outgoing.push({ conn: e.conn, close: true });
          break;
        case 'alert':
          this.log(e.alert.level === 'critical' ? 'warn' : 'info', e.alert.message, { alert: e.alert.kind, scope: e.alert.scope, level: e.alert.level });
          break;
        default:
          e satisfies never;
      }
    }
    if (this.outgoing.length > 0 || this.usage.length > 0 || this.actions.length > 0) this.schedule();
  }

  /**
   * A resent commit or spend whose key is known only because its first copy is queued in this
   * batch: its `duplicate` ack promises that row is on disk, so it waits for the batch too.
   */
  private restsOnQueuedKey(event: EngineEvent): boolean {
    if (event.type !== 'agent' || !event.key_known || this.pendingKeys.size === 0) return false;
    const key = idempotencyKey(event.frame);
    return key !== undefined && this.pendingKeys.has(key);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Adds an operator to the live feed and sends it the whole picture at once. */
  subscribe(conn: ConnId): void {
    this.subscribers.add(conn);
    const frame = feedFrame(this.engine, true, 0);
    this.feedAlertSeq = Math.max(this.feedAlertSeq, this.engine.alert_seq);
    this.transport.send(conn, JSON.stringify(frame));
  }

  unsubscribe(conn: ConnId): void {
    this.subscribers.delete(conn);
  }

  /**
   * Called on a fixed tick (≤ 10/s): one coalesced delta for however many events arrived, and a
   * refresh at least every second so burn rates and countdowns move even when nothing happens.
   */
  feedTick(nowMs: number): void {
    if (this.subscribers.size === 0) {
      this.engine.changed.clear();
      this.feedAlertSeq = this.engine.alert_seq;
      return;
    }
    const quiet = this.engine.changed.size === 0 && this.engine.alert_seq === this.feedAlertSeq;
    const since = nowMs - this.lastFeedMs;
    if (quiet ? since < FEED_REFRESH_MS : since < FEED_MIN_INTERVAL_MS) return;
    const global = this.engine.scopes.get('global' as never);
    if (global) this.engine.changed.add(global);
    const data = JSON.stringify(feedFrame(this.engine, false, this.feedAlertSeq));
    this.feedAlertSeq = this.engine.alert_seq;
    this.lastFeedMs = nowMs;
    for (const conn of this.subscribers) this.transport.send(conn, data);
  }

  /** Writes everything, counters included (before a graceful stop). */
  flushAll(): void {
    this.forceSnapshot = true;
    this.flush();
  }

  /** Writes the batch in one transaction, then sends what waited for it. */
  flush(): void {
    this.scheduled = false;
    const now = this.clock();
    const snapshotDue = this.forceSnapshot || now - this.lastSnapshotMs >= SNAPSHOT_EVERY_MS;
    const dirty = snapshotDue ? this.engine.takeDirty() : [];
    if (this.usage.length > 0 || this.actions.length > 0 || dirty.length > 0) {
      const snapshots: ScopeSnapshot[] | null = dirty.length > 0 ? dirty.map((s) => ({ scope: s.id, parent: s.parent?.id ?? null, counters: s.counters })) : null;
      try {
        const started = performance.now();
        this.ledger.write(this.usage, this.actions, snapshots);
        const ms = performance.now() - started;
        for (const observe of this.flushObservers) observe(ms, this.usage.length + this.actions.length);
        this.writeFailures = 0;
        if (snapshots) {
          this.lastSnapshotMs = now;
          this.forceSnapshot = false;
        }
      } catch (e) {
        // Nothing is acknowledged until the write succeeds; the batch stays and is retried.
        for (const s of dirty) this.engine.dirty.add(s);
        this.writeFailures += 1;
        this.log('error', 'ledger write failed; replies held until it succeeds', { error: (e as Error).message, attempt: this.writeFailures });
        this.scheduled = true;
        setTimeout(() => this.flush(), RETRY_WRITE_MS).unref();
        return;
      }
      this.usage = [];
      this.actions = [];
      this.pendingKeys.clear();
    }
    const out = this.outgoing;
    this.outgoing = [];
    for (const o of out) {
      if ('close' in o) this.transport.close(o.conn);
      else this.transport.send(o.conn, o.data);
    }
  }
}
