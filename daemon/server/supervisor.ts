import { randomBytes } from 'node:crypto';
import type { AgentRequest } from '../../shared/protocol/agent.js';
import type { OperatorFrame } from '../../shared/protocol/operator.js';
import { KEY_PREFIX } from '../engine/keys.js';
import { ledgerKeyFor, namespacedKey } from '../engine/settlement.js';
import type { Engine } from '../engine/engine.js';
import { feedFrame, type FeedCursor } from '../engine/feed.js';
import type { Effect, EngineEvent } from '../engine/events.js';
import { InvariantViolation } from '../engine/invariants.js';
import { missing } from '../engine/memory.js';
import { GLOBAL, isScopeId, scopeId, type ScopeId } from '../engine/scope.js';
import type { ConnId } from '../engine/state.js';
import { type DurableWriter, InlineWriter } from '../ledger/durable-writer.js';
import type { Ledger } from '../ledger/ledger.js';
import { GroupCommit, MAX_HELD, type Transport } from './group-commit.js';
import type { Logger } from './log.js';
import { StageTimes } from './stages.js';

export { MAX_HELD, type Transport } from './group-commit.js';

/**
 * Replies that record nothing and promise nothing durable: they leave at once, never behind a
 * pending operator action or a batch the disk refuses. A deny or kill that a crash would forget
 * is only ever stricter than the truth.
 */
const NEVER_HELD: ReadonlySet<string> = new Set(['deny', 'error', 'pong', 'pending', 'welcome', 'kill', 'shutdown']);

function newKeySecret(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Live feed: at most 4 deltas a second however fast events arrive, a refresh every second. */
const FEED_MIN_INTERVAL_MS = 250;
const FEED_REFRESH_MS = 1_000;

export interface SupervisorOptions {
  /** See MAX_HELD; tests use a small one. */
  readonly maxHeld?: number;
  /** Where batches are written; by default `ledger.write` on this thread. */
  readonly writer?: DurableWriter;
  readonly stages?: StageTimes;
}

/**
 * The imperative shell around the engine: feeds it events with the real clock, hands its
 * ledger rows to the group commit (group-commit.ts), which releases replies only after their
 * batch is durable — so no ack ever leaves for a row that is not on disk.
 */
export class Supervisor {
  readonly stages: StageTimes;
  readonly commits: GroupCommit;
  /** Each operator's own place in the live feed: no subscriber takes another's deltas. */
  private readonly subscribers = new Map<ConnId, FeedCursor>();
  private lastFeedMs = 0;
  /** Called with a broken invariant (a programmer error): the daemon stops rather than overspend. */
  onFatal: ((e: InvariantViolation) => void) | null = null;

  constructor(
    readonly engine: Engine,
    private readonly ledger: Pick<Ledger, 'hasKey' | 'loadScopes'> & Partial<InlineWriter['ledger']>,
    private readonly transport: Transport,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
    options: SupervisorOptions = {},
  ) {
    this.stages = options.stages ?? new StageTimes();
    const writer = options.writer ?? inlineWriter(ledger);
    this.commits = new GroupCommit(engine, writer, transport, log, clock, this.stages, (event) => this.dispatch(event), options.maxHeld ?? MAX_HELD);
    this.flushObservers = this.commits.flushObservers;
  }

  /** Rows and frames waiting for a durable batch (a gauge). */
  get held(): { rows: number; frames: number } {
    return this.commits.held;
  }

  /** Whether a settling frame may be dispatched now (see GroupCommit.settleRefusal). */
  settleRefusal(): string | null {
    return this.commits.settleRefusal();
  }

  get writeFailuresTotal(): number {
    return this.commits.writeFailuresTotal;
  }

  get settlesRefusedTotal(): number {
    return this.commits.settlesRefusedTotal;
  }

  flush(): void {
    this.commits.flush();
  }

  /** Writes everything, counters included (before a graceful stop); `idle()` says when it is done. */
  flushAll(): void {
    this.commits.flushAll();
  }

  idle(timeoutMs?: number): Promise<void> {
    return this.commits.idle(timeoutMs);
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
    this.dispatch({ type: 'agent', conn, frame, key_known: key !== undefined && (this.commits.queuedKey(key) || this.ledger.hasKey(key)) });
  }

  /** Observers of every event and its effects (metrics); they must not throw or block. */
  readonly observers: Array<(event: EngineEvent, effects: readonly Effect[]) => void> = [];
  /** Called after each durable batch with its duration and row count (metrics). */
  readonly flushObservers: Array<(durationMs: number, rows: number) => void>;

  dispatch(event: EngineEvent): void {
    this.loadNamedScopes(event);
    let effects: Effect[];
    const decided = this.stages.now();
    try {
      effects = this.engine.handle(event, this.clock());
      this.stages.since('engine', decided);
    } catch (e) {
      if (!(e instanceof InvariantViolation) || !this.onFatal) throw e;
      this.log('error', `invariant broken, stopping: ${e.message}`, { fatal: true });
      this.onFatal(e);
      return;
    }
    const observed = this.stages.now();
    for (const observe of this.observers) observe(event, effects);
    this.stages.since('observers', observed);
    const sending = this.stages.now();
    const writes = effects.some((e) => e.type === 'usage' || e.type === 'action' || e.type === 'close');
    const restsOnKey = this.restsOnQueuedKey(event);
    // A frame the engine addresses to many connections (a kill to every agent under a scope) is
    // one object: it is serialised and encoded once, not once per agent.
    let shared: { frame: object; data: string | Buffer } | null = null;
    const encode = (frame: object): string | Buffer => {
      if (shared?.frame !== frame) {
        shared = { frame, data: JSON.stringify(frame) };
        return shared.data;
      }
      if (typeof shared.data === 'string') shared.data = Buffer.from(shared.data);
      return shared.data;
    };
    for (const e of effects) {
      switch (e.type) {
        case 'usage':
          this.commits.addUsage(e.row, namespacedKey(e.row.ns, e.row.key));
          break;
        case 'action':
          this.commits.addAction(e.row);
          break;
        case 'send':
          if (this.waits(e.frame.type, writes, restsOnKey)) this.commits.hold({ conn: e.conn, data: encode(e.frame) });
          else this.transport.send(e.conn, encode(e.frame));
          break;
        case 'close':
          this.commits.hold({ conn: e.conn, close: true });
          break;
        case 'alert':
          this.log(e.alert.level === 'critical' ? 'warn' : 'info', e.alert.message, { alert: e.alert.kind, scope: e.alert.scope, level: e.alert.level });
          break;
        default:
          e satisfies never;
      }
    }
    this.stages.since('send', sending);
    if (this.commits.due) this.commits.schedule();
    else if (event.type === 'tick') this.commits.quietTick();
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
    return writes || restsOnKey || (type === 'grant' && this.commits.actionsPending);
  }

  /**
   * A resent commit or spend whose key is known only because its first copy is queued in this
   * batch: its `duplicate` ack promises that row is on disk, so it waits for the batch too.
   */
  private restsOnQueuedKey(event: EngineEvent): boolean {
    if (event.type !== 'agent' || !event.key_known || !this.commits.anyQueuedKeys) return false;
    const key = ledgerKeyFor(this.engine.view, event.conn, event.frame);
    return key !== undefined && this.commits.queuedKey(key);
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

}

/** The default writer: the ledger's own `write`, on this thread. */
function inlineWriter(ledger: Partial<InlineWriter['ledger']>): DurableWriter {
  if (!ledger.write) throw new Error('supervisor: a ledger that writes, or a writer');
  return new InlineWriter({ write: ledger.write.bind(ledger) });
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
