import { randomBytes } from 'node:crypto';
import type { AgentRequest } from '../../shared/protocol/agent.js';
import type { OperatorFrame } from '../../shared/protocol/operator.js';
import { KEY_PREFIX } from '../engine/keys.js';
import { ledgerKeyFor, namespacedKey } from '../engine/settlement.js';
import type { Engine } from '../engine/engine.js';
import { feedFrame, type FeedCursor } from '../engine/feed.js';
import type { ActionRow, Effect, EngineEvent, UsageRow } from '../engine/events.js';
import { InvariantViolation } from '../engine/invariants.js';
import { missing, unsavedScopes } from '../engine/memory.js';
import { GLOBAL, isScopeId, scopeId, type ScopeId } from '../engine/scope.js';
import type { ConnId } from '../engine/state.js';
import type { Ledger, ScopeSnapshot } from '../ledger/ledger.js';
import type { Logger } from './log.js';

export interface Transport {
  send(conn: ConnId, data: string): void;
  close(conn: ConnId): void;
}

type Outgoing = { readonly conn: ConnId; readonly data: string } | { readonly conn: ConnId; readonly close: true };

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
 * Replies that record nothing and promise nothing durable: they leave at once, never behind a
 * pending operator action or a batch the disk refuses. A deny or kill that a crash would forget
 * is only ever stricter than the truth.
 */
const NEVER_HELD: ReadonlySet<string> = new Set(['deny', 'error', 'pong', 'pending', 'welcome', 'kill', 'shutdown']);

function newKeySecret(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export interface SupervisorOptions {
  /** See MAX_HELD; tests use a small one. */
  readonly maxHeld?: number;
}

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
  private lastQuietCheckMs = 0;
  private forceSnapshot = false;
  /** Consecutive failed writes of the held batch (0 while the ledger is healthy). */
  private writeFailures = 0;
  /** Failed ledger writes since start, and settling frames refused past MAX_HELD (metrics). */
  writeFailuresTotal = 0;
  settlesRefusedTotal = 0;
  private refusedSinceWrite = 0;
  private readonly maxHeld: number;
  /** Each operator's own place in the live feed: no subscriber takes another's deltas. */
  private readonly subscribers = new Map<ConnId, FeedCursor>();
  private lastFeedMs = 0;
  /** Called with a broken invariant (a programmer error): the daemon stops rather than overspend. */
  onFatal: ((e: InvariantViolation) => void) | null = null;

  constructor(
    readonly engine: Engine,
    private readonly ledger: Pick<Ledger, 'write' | 'hasKey' | 'loadScopes'>,
    private readonly transport: Transport,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
    options: SupervisorOptions = {},
  ) {
    this.maxHeld = options.maxHeld ?? MAX_HELD;
  }

  /** Rows and frames waiting for the next durable batch (a gauge). */
  get held(): { rows: number; frames: number } {
    return { rows: this.usage.length + this.actions.length, frames: this.outgoing.length };
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

  /** An operator's frame; a new key's secret is made here, in the shell, from the system's randomness. */
  operatorFrame(conn: ConnId, frame: OperatorFrame, actor: string): void {
    this.dispatch({ type: 'operator', conn, frame, actor, ...(frame.type === 'key_create' ? { secret: newKeySecret() } : {}) });
  }

  /**
   * An agent's frame, with whether its idempotency key (in its namespace) is already in the
   * ledger or the batch waiting for the disk.
   */
  agentFrame(conn: ConnId, frame: AgentRequest): void {
    const key = ledgerKeyFor(this.engine.view, conn, frame);
    this.dispatch({ type: 'agent', conn, frame, key_known: key !== undefined && (this.pendingKeys.has(key) || this.ledger.hasKey(key)) });
  }

  /** Observers of every event and its effects (metrics); they must not throw or block. */
  readonly observers: Array<(event: EngineEvent, effects: readonly Effect[]) => void> = [];
  /** Called after each durable batch with its duration and row count (metrics). */
  readonly flushObservers: Array<(durationMs: number, rows: number) => void> = [];

  dispatch(event: EngineEvent): void {
    this.loadNamedScopes(event);
    let effects: Effect[];
    try {
      effects = this.engine.handle(event, this.clock());
    } catch (e) {
      if (!(e instanceof InvariantViolation) || !this.onFatal) throw e;
      this.log('error', `invariant broken, stopping: ${e.message}`, { fatal: true });
      this.onFatal(e);
      return;
    }
    for (const observe of this.observers) observe(event, effects);
    const writes = effects.some((e) => e.type === 'usage' || e.type === 'action' || e.type === 'close');
    const restsOnKey = this.restsOnQueuedKey(event);
    for (const e of effects) {
      switch (e.type) {
        case 'usage':
          this.usage.push(e.row);
          this.pendingKeys.add(namespacedKey(e.row.ns, e.row.key));
          break;
        case 'action':
          this.actions.push(e.row);
          break;
        case 'send':
          if (this.waits(e.frame.type, writes, restsOnKey)) this.outgoing.push({ conn: e.conn, data: JSON.stringify(e.frame) });
          else this.transport.send(e.conn, JSON.stringify(e.frame));
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
    else if (event.type === 'tick') this.snapshotWhenQuiet();
  }

  /**
   * Counters changed by the last events before a quiet spell are saved too (at most once a
   * second): only saved scopes may leave memory when idle.
   */
  private snapshotWhenQuiet(): void {
    const now = this.clock();
    if (this.scheduled || now - this.lastQuietCheckMs < SNAPSHOT_EVERY_MS) return;
    this.lastQuietCheckMs = now;
    if (unsavedScopes(this.engine.view).length > 0) this.schedule();
  }

  /**
   * Whether a reply waits for the batch to be durable. Its own event's rows (an ack promises its
   * usage row, a grant answer its action row) and a duplicate of a queued key make it wait. A
   * grant also waits for operator actions already queued (a grant or resume it may rest on); it
   * may rest on usage rows not yet durable, but usage only ever raises spent, so a crash can only
   * make it look stricter than needed. Everything in NEVER_HELD leaves at once.
   */
  private waits(type: string, writes: boolean, restsOnKey: boolean): boolean {
    if (NEVER_HELD.has(type)) return false;
    return writes || restsOnKey || (type === 'grant' && this.actions.length > 0);
  }

  /**
   * A resent commit or spend whose key is known only because its first copy is queued in this
   * batch: its `duplicate` ack promises that row is on disk, so it waits for the batch too.
   */
  private restsOnQueuedKey(event: EngineEvent): boolean {
    if (event.type !== 'agent' || !event.key_known || this.pendingKeys.size === 0) return false;
    const key = ledgerKeyFor(this.engine.view, event.conn, event.frame);
    return key !== undefined && this.pendingKeys.has(key);
  }

  /**
   * Scopes an event names that left memory come back from the ledger first (with their parents),
   * so no counter ever restarts from zero. A scope the ledger never saw simply starts new.
   */
  private loadNamedScopes(event: EngineEvent): void {
    const named = namedScopes(event);
    if (named.length === 0) return;
    const absent = missing(this.engine.view, named);
    if (absent.length === 0) return;
    const scopes = this.ledger.loadScopes(absent);
    if (scopes.length > 0) this.dispatch({ type: 'load', scopes });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.retry());
  }

  /** Adds an operator to the live feed and sends it the whole picture at once. */
  subscribe(conn: ConnId): void {
    const { frame, cursor } = feedFrame(this.engine.view, null);
    this.subscribers.set(conn, cursor);
    this.transport.send(conn, JSON.stringify(frame));
  }

  unsubscribe(conn: ConnId): void {
    this.subscribers.delete(conn);
  }

  /**
   * Called on a fixed tick (≤ 10/s): one coalesced delta per subscriber, from its own cursor, for
   * however many events arrived, and a refresh at least every second so burn rates and
   * countdowns move even when nothing happens. Subscribers at the same cursor share one frame.
   */
  feedTick(nowMs: number): void {
    if (this.subscribers.size === 0) return;
    const since = nowMs - this.lastFeedMs;
    if (since < FEED_MIN_INTERVAL_MS) return;
    const built = new Map<string, { data: string; cursor: FeedCursor; quiet: boolean } | null>();
    let sent = false;
    for (const [conn, at] of this.subscribers) {
      const key = `${at.version}:${at.alert_seq}`;
      let out = built.get(key);
      if (out === undefined) {
        const { frame, cursor } = feedFrame(this.engine.view, at);
        const quiet = !frame.full && frame.alerts.length === 0 && Object.keys(frame.scopes).every((id) => id === GLOBAL);
        out = quiet && since < FEED_REFRESH_MS ? null : { data: JSON.stringify(frame), cursor, quiet };
        built.set(key, out);
      }
      if (out === null) continue;
      this.subscribers.set(conn, out.cursor);
      this.transport.send(conn, out.data);
      sent = true;
    }
    if (sent) this.lastFeedMs = nowMs;
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
    const dirty = snapshotDue ? unsavedScopes(this.engine.view) : [];
    const version = this.engine.version;
    if (this.usage.length > 0 || this.actions.length > 0 || dirty.length > 0) {
      const snapshots: ScopeSnapshot[] | null = dirty.length > 0 ? dirty.map((s) => ({ scope: s.id, parent: s.parent?.id ?? null, counters: s.counters })) : null;
      try {
        const started = performance.now();
        this.ledger.write(this.usage, this.actions, snapshots);
        const ms = performance.now() - started;
        for (const observe of this.flushObservers) observe(ms, this.usage.length + this.actions.length);
        this.writeFailures = 0;
        this.refusedSinceWrite = 0;
        if (snapshots) {
          this.lastSnapshotMs = now;
          this.forceSnapshot = false;
        }
      } catch (e) {
        this.failed(e);
        return;
      }
      this.usage = [];
      this.actions = [];
      this.pendingKeys.clear();
      // Saved scopes may now leave memory when idle; the engine is told, it is not reached into.
      if (snapshots) this.dispatch({ type: 'persisted', scopes: dirty.map((s) => s.id), version });
    }
    const out = this.outgoing;
    this.outgoing = [];
    for (const o of out) {
      if ('close' in o) this.transport.close(o.conn);
      else this.transport.send(o.conn, o.data);
    }
    if (!this.engine.ledger.writable) {
      this.log('info', 'ledger writable again; held replies sent', {});
      this.dispatch({ type: 'ledger', writable: true, error: null });
    }
  }

  /**
   * Nothing is acknowledged until the write succeeds: the batch stays, grows only up to MAX_HELD,
   * and is retried with a capped backoff. The engine fails closed meanwhile (UNAVAILABLE).
   */
  private failed(e: unknown): void {
    // The retry carries the counters too, so a batch of only counters still proves the disk.
    this.forceSnapshot = true;
    this.writeFailures += 1;
    this.writeFailuresTotal += 1;
    const error = e instanceof Error ? e.message : String(e);
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

/** Scope ids an event may create or touch: they must be in memory (or known new) before it runs. */
function namedScopes(event: EngineEvent): ScopeId[] {
  if (event.type === 'hello') {
    const f = event.frame;
    const ids = [scopeId('user', f.user), scopeId('session', f.session), scopeId('task', f.task), scopeId('agent', f.agent)];
    if (f.parent !== undefined) ids.push(scopeId('agent', f.parent));
    return ids;
  }
  if (event.type === 'operator') {
    const f = event.frame;
    const target = f.type === 'kill' || f.type === 'resume' ? f.scope : f.type === 'grant' ? f.target : undefined;
    return target !== undefined && isScopeId(target) ? [target] : [];
  }
  if (event.type === 'agent' && event.frame.type === 'delegate') return [scopeId('agent', event.frame.child)];
  return [];
}
