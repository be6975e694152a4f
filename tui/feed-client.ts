import { backoffDelayMs, type BackoffPolicy } from '../shared/client/backoff.js';
import { describeIssue } from '../shared/protocol/parse.js';
import { type FeedFrame, OperatorFrame } from '../shared/protocol/operator.js';
import { mergeFrames, parseIncoming } from './feed.js';
import type { Action } from './reducer.js';
import type { Connect, Socket } from './socket.js';
import type { Connection, Outgoing } from './state.js';

type Timer = ReturnType<typeof setTimeout>;

/** Time and timers, injectable; the default reads the globals at call time (so fake timers work). */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer),
};

/** What the screen needs from the daemon side: actions in, commands out. */
export interface FeedSource {
  start(dispatch: (action: Action) => void): void;
  send(commands: readonly Outgoing[]): void;
  stop(): void;
}

export interface FeedClientOptions {
  /** Who is acting, carried on every command (`top:<user>@<host>`): two operators can be told apart. */
  readonly actor?: string;
  readonly connect: Connect;
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** Redraw budget: frames arriving faster are merged and dispatched once per interval (≤ 10 fps). */
export const FLUSH_MS = 600;
/** The daemon sends a frame at least every second; this long without one means a dead peer. */
export const SILENCE_MS = 5_000;
/** An outage this long is reported as `✖ daemon down` rather than `◌ reconnecting`. */
export const DOWN_AFTER_MS = 30_000;
export const COMMAND_TIMEOUT_MS = 10_000;
export const RECONNECT: BackoffPolicy = { initialMs: 500, maxMs: 10_000 };
const SUBSCRIBE_ID = 'tui-subscribe';

/**
 * The live feed over one operator socket: subscribes, merges frames between flushes, answers
 * command results, watches for silence, and reconnects with backoff until stopped.
 */
export class FeedClient implements FeedSource {
  readonly #connect: Connect;
  readonly #clock: Clock;
  readonly #random: () => number;
  #dispatch: (action: Action) => void = () => {};
  #socket: Socket | null = null;
  /** Bumped per connection, so a late event from an old socket is ignored. */
  #generation = 0;
  #live = false;
  #everLive = false;
  /** Attempts since the feed was last live. */
  #attempt = 0;
  #outageSince: number;
  #pending: FeedFrame | null = null;
  #lastFlush = Number.NEGATIVE_INFINITY;
  #flushTimer: Timer | null = null;
  #retryTimer: Timer | null = null;
  #silenceTimer: Timer | null = null;
  readonly #awaiting = new Map<string, Timer>();
  #warnedInvalid = false;
  #lastReason = '';
  #stopped = false;

  readonly #actor: string | undefined;

  constructor(options: FeedClientOptions) {
    this.#connect = options.connect;
    this.#actor = options.actor;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#outageSince = this.#clock.now();
  }

  start(dispatch: (action: Action) => void): void {
    this.#dispatch = dispatch;
    this.#stopped = false;
    this.#outageSince = this.#clock.now();
    this.#open();
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of [this.#flushTimer, this.#retryTimer, this.#silenceTimer]) if (timer) this.#clock.clearTimeout(timer);
    for (const timer of this.#awaiting.values()) this.#clock.clearTimeout(timer);
    this.#awaiting.clear();
    this.#generation += 1;
    this.#socket?.close();
    this.#socket = null;
  }

  send(commands: readonly Outgoing[]): void {
    for (const command of commands) {
      const checked = OperatorFrame.safeParse(this.#actor === undefined ? command : { ...command, actor: this.#actor });
      if (!checked.success) this.#answer(command.id, false, `not sent: ${describeIssue(checked.error)}`);
      else if (!this.#live || !this.#socket) this.#answer(command.id, false, 'not connected to the daemon; nothing was sent');
      else {
        this.#socket.send(JSON.stringify(checked.data));
        this.#awaiting.set(
          command.id,
          this.#clock.setTimeout(() => {
            this.#awaiting.delete(command.id);
            this.#answer(command.id, false, `no answer within ${COMMAND_TIMEOUT_MS / 1_000}s; check the screen before trying again`);
          }, COMMAND_TIMEOUT_MS),
        );
      }
    }
  }

  #open(): void {
    this.#retryTimer = null;
    this.#attempt += 1;
    const generation = ++this.#generation;
    const mine = (): boolean => generation === this.#generation && !this.#stopped;
    this.#report(this.#everLive || this.#attempt > 1 ? this.#outage(null, this.#lastReason) : { kind: 'connecting', attempt: this.#attempt });
    this.#socket = this.#connect({
      onOpen: () => {
        if (!mine()) return;
        this.#socket?.send(JSON.stringify({ type: 'subscribe', id: SUBSCRIBE_ID }));
        this.#armSilence();
      },
      onMessage: (text) => {
        if (mine()) this.#onMessage(text);
      },
      onClose: (reason) => {
        if (mine()) this.#onClosed(reason);
      },
    });
  }

  #outage(nextAt: number | null, reason: string): Connection {
    const now = this.#clock.now();
    const down = !this.#everLive || now - this.#outageSince >= DOWN_AFTER_MS;
    return { kind: down ? 'down' : 'reconnecting', attempt: this.#attempt + (nextAt === null ? 0 : 1), next_at_ms: nextAt, since_ms: this.#outageSince, reason };
  }

  #onMessage(text: string): void {
    this.#armSilence();
    const incoming = parseIncoming(text);
    switch (incoming.kind) {
      case 'feed':
        if (!this.#live) {
          this.#live = true;
          this.#everLive = true;
          this.#attempt = 0;
          this.#report({ kind: 'live', since_ms: this.#clock.now() });
        }
        this.#pending = this.#pending ? mergeFrames(this.#pending, incoming.frame) : incoming.frame;
        this.#scheduleFlush();
        return;
      case 'reply':
        if (incoming.id === SUBSCRIBE_ID) {
          if (!incoming.ok) this.#drop(`subscribe refused: ${incoming.message}`);
          return;
        }
        if (incoming.id !== null) {
          const timer = this.#awaiting.get(incoming.id);
          if (timer === undefined) return;
          this.#clock.clearTimeout(timer);
          this.#awaiting.delete(incoming.id);
        }
        this.#answer(incoming.id, incoming.ok, incoming.message);
        return;
      case 'invalid':
        // Once per connection: a daemon speaking a newer feed would otherwise flood the screen.
        if (!this.#warnedInvalid) this.#dispatch({ type: 'notice', level: 'error', message: `ignored ${incoming.why}`, now_ms: this.#clock.now() });
        this.#warnedInvalid = true;
        return;
      case 'other':
        return;
      default:
        incoming satisfies never;
    }
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== null) return;
    const wait = this.#lastFlush + FLUSH_MS - this.#clock.now();
    if (wait <= 0) this.#flush();
    else this.#flushTimer = this.#clock.setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#flushTimer = null;
    if (this.#pending === null) return;
    const frame = this.#pending;
    this.#pending = null;
    this.#lastFlush = this.#clock.now();
    this.#dispatch({ type: 'feed', frame, now_ms: this.#lastFlush });
  }

  #armSilence(): void {
    if (this.#silenceTimer) this.#clock.clearTimeout(this.#silenceTimer);
    this.#silenceTimer = this.#clock.setTimeout(() => this.#drop(`no feed from the daemon for ${SILENCE_MS / 1_000}s`), SILENCE_MS);
  }

  #drop(reason: string): void {
    const socket = this.#socket;
    this.#generation += 1; // its own close event, sync or not, is not news
    socket?.close();
    this.#onClosed(reason);
  }

  #onClosed(reason: string): void {
    this.#generation += 1;
    this.#socket = null;
    if (this.#silenceTimer) this.#clock.clearTimeout(this.#silenceTimer);
    this.#silenceTimer = null;
    if (this.#live) {
      this.#live = false;
      this.#outageSince = this.#clock.now();
    }
    this.#flush();
    this.#warnedInvalid = false;
    for (const [id, timer] of this.#awaiting) {
      this.#clock.clearTimeout(timer);
      this.#answer(id, false, 'the connection dropped before the daemon answered; it may have been applied — check the screen once live');
    }
    this.#awaiting.clear();
    this.#lastReason = reason;
    const delayMs = backoffDelayMs(RECONNECT, this.#attempt, this.#random);
    this.#report(this.#outage(this.#clock.now() + delayMs, reason));
    this.#retryTimer = this.#clock.setTimeout(() => this.#open(), delayMs);
  }

  #answer(id: string | null, ok: boolean, message: string): void {
    this.#dispatch({ type: 'result', id, ok, message, now_ms: this.#clock.now() });
  }

  #report(connection: Connection): void {
    this.#dispatch({ type: 'connection', connection, now_ms: this.#clock.now() });
  }
}
