import type { ConnId } from '../engine/state.js';
import { TokenBucket } from './rate.js';

/** A frame the engine sent to an HTTP session, as it went out (the engine's own output). */
export interface OutFrame {
  readonly type: string;
  readonly id?: string;
  readonly [field: string]: unknown;
}

export type Outcome = { readonly frame: OutFrame } | 'timeout' | 'closed';

/** Requests answered `pending` (or timed out) whose final reply has not been collected yet. */
export const MAX_PENDING_PER_SESSION = 256;
/** Same figures as the WebSocket server's per-connection limit. */
const RATE_BURST = 2_000;
const RATE_PER_SECOND = 1_000;

interface Waiter {
  settle(outcome: Outcome): void;
}

function parseOut(data: string): OutFrame | undefined {
  const value: unknown = JSON.parse(data);
  if (typeof value !== 'object' || value === null || !('type' in value) || typeof value.type !== 'string') return undefined;
  return value as OutFrame;
}

/**
 * One HTTP session = one virtual connection of the engine. HTTP has no push, so replies the
 * engine sends are matched to the request waiting for them by `id`; finals that arrive after
 * a `pending` wait here (bounded) until `GET /v1/agent/wait` collects them.
 */
export class HttpSession {
  conn: ConnId = 0;
  lastActiveMs: number;
  /** HTTP requests in progress on this session; a session in use is never idle. */
  active = 0;
  closed = false;
  readonly bucket: TokenBucket;
  /** Told of a `kill` the moment it arrives (the proxy cuts its calls in flight). */
  onKill: ((frame: OutFrame) => void) | undefined;
  private kill: OutFrame | undefined;
  private hello: Waiter | undefined;
  private readonly replies = new Map<string, Waiter>();
  /** Ids whose final reply is still to come or still to be collected; insertion-ordered. */
  private readonly pending = new Map<string, OutFrame | undefined>();
  private readonly pollers = new Map<string, Waiter>();
  private readonly closers: Waiter[] = [];

  constructor(
    readonly id: string,
    /** Who opened it (`key:<label>`, `agent-token`): only the same credential may use it. */
    readonly credential: string,
    nowMs: number,
    private readonly onDropped: (id: string) => void,
  ) {
    this.lastActiveMs = nowMs;
    this.bucket = new TokenBucket(RATE_BURST, RATE_PER_SECOND, nowMs);
  }

  /** The server's sink for this session: every frame the engine sends it. */
  deliver(data: string): void {
    const frame = parseOut(data);
    if (!frame) return;
    if (frame.type === 'kill') {
      this.kill = frame;
      this.onKill?.(frame);
      return;
    }
    const id = frame.id;
    if (id === undefined) {
      // Id-less replies (welcome, an error about the hello) answer the hello.
      this.hello?.settle({ frame });
      this.hello = undefined;
      return;
    }
    const waiter = this.replies.get(id);
    if (waiter) {
      this.replies.delete(id);
      if (frame.type === 'pending') this.remember(id);
      waiter.settle({ frame });
      return;
    }
    // A late `pending` (its request timed out waiting) is not a final: keep waiting for that.
    if (!this.pending.has(id) || frame.type === 'pending') return;
    const poller = this.pollers.get(id);
    if (poller) {
      this.pollers.delete(id);
      this.pending.delete(id);
      poller.settle({ frame });
      return;
    }
    this.pending.set(id, frame);
  }

  /** True when `id` is waiting for a reply or a final on this session. */
  busy(id: string): boolean {
    return this.replies.has(id) || this.pending.has(id);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  expectHello(timeoutMs: number): Promise<Outcome> {
    return this.waitFor(timeoutMs, (w) => (this.hello = w), () => (this.hello = undefined)).promise;
  }

  /** Waits for the first reply to request `id`. A reply that misses the timeout stays collectable. */
  expectReply(id: string, timeoutMs: number): Promise<Outcome> {
    return this.waitFor(
      timeoutMs,
      (w) => this.replies.set(id, w),
      () => {
        this.replies.delete(id);
        this.remember(id);
      },
    ).promise;
  }

  /** Long-poll for the final reply of a `pending` request; `undefined` when `id` is not pending here. */
  poll(id: string, timeoutMs: number): { promise: Promise<Outcome>; cancel: () => void } | undefined {
    if (!this.pending.has(id)) return undefined;
    const ready = this.pending.get(id);
    if (ready) {
      this.pending.delete(id);
      return { promise: Promise.resolve({ frame: ready }), cancel: () => {} };
    }
    // One poller per id: an older one is told "still pending" rather than left hanging.
    this.pollers.get(id)?.settle('timeout');
    return this.waitFor(
      timeoutMs,
      (w) => this.pollers.set(id, w),
      () => this.pollers.delete(id),
    );
  }

  /** Resolves when the engine closes the session (after `bye`). */
  expectClose(timeoutMs: number): Promise<Outcome> {
    return this.waitFor(
      timeoutMs,
      (w) => this.closers.push(w),
      () => {},
    ).promise;
  }

  /** The latest `kill` pushed since the last response that carried one. */
  takeKill(): OutFrame | undefined {
    const k = this.kill;
    this.kill = undefined;
    return k;
  }

  /** Answers everything still waiting with `closed`; the session is gone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiters = [this.hello, ...this.replies.values(), ...this.pollers.values(), ...this.closers];
    this.hello = undefined;
    this.replies.clear();
    this.pollers.clear();
    this.closers.length = 0;
    this.pending.clear();
    for (const w of waiters) w?.settle('closed');
  }

  /** Bounded: past the bound the oldest uncollected id is forgotten (its final is dropped). */
  private remember(id: string): void {
    if (this.pending.size >= MAX_PENDING_PER_SESSION) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) {
        this.pending.delete(oldest);
        this.onDropped(oldest);
      }
    }
    this.pending.set(id, undefined);
  }

  private waitFor(timeoutMs: number, register: (w: Waiter) => void, unregister: () => void): { promise: Promise<Outcome>; cancel: () => void } {
    if (this.closed) return { promise: Promise.resolve('closed'), cancel: () => {} };
    let cancel = (): void => {};
    const promise = new Promise<Outcome>((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        unregister();
        resolve('timeout');
      }, timeoutMs);
      const settle = (outcome: Outcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      cancel = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unregister();
      };
      register({ settle });
    });
    return { promise, cancel };
  }
}
