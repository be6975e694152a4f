import type { Ack, AgentRequest, Delegated, Deny, Grant } from '../protocol/agent.js';
import { SpendguardOutboxFullError, SpendguardTimeoutError } from './errors.js';

/** A final reply to a request (`pending` is not final; `error` is turned into a rejection). */
export type Reply = Grant | Deny | Ack | Delegated | { type: 'pong'; id: string };

export interface OutboxEntry {
  readonly frame: AgentRequest & { id: string };
  /** Commit, spend and release are idempotent by key or reservation: resent after a reconnect. */
  readonly resend: boolean;
  /** Set for the `spend` a fail-open local reservation turns into: frees the allowance on ack. */
  readonly localReservation: string | undefined;
  sent: boolean;
  pending: boolean;
  timer: NodeJS.Timeout | undefined;
  waiter: { resolve(reply: Reply): void; reject(err: Error): void } | undefined;
}

/**
 * Requests awaiting their reply, in send order, bounded by `limit`. A request that is resent
 * after reconnects outlives its caller's timeout: it leaves only when the daemon answers or
 * the client closes.
 */
export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  private usageCount = 0;
  private readonly drainWaiters = new Set<() => void>();

  constructor(
    readonly limit: number,
    private readonly onTimeout: (entry: OutboxEntry, stillQueued: boolean) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Commits, spends and releases the daemon has not acknowledged yet. */
  get unacked(): number {
    return this.usageCount;
  }

  get(id: string): OutboxEntry | undefined {
    return this.entries.get(id);
  }

  values(): OutboxEntry[] {
    return [...this.entries.values()];
  }

  add(
    frame: AgentRequest & { id: string },
    opts: { resend: boolean; timeoutMs: number; localReservation?: string | undefined },
  ): { entry: OutboxEntry; reply: Promise<Reply> } {
    if (this.entries.size >= this.limit) {
      throw new SpendguardOutboxFullError(
        `outbox full: ${this.limit} requests already await the daemon; ${frame.type} ${frame.id} not accepted`,
      );
    }
    if (this.entries.has(frame.id)) throw new TypeError(`request id ${frame.id} is already in flight`);
    const entry: OutboxEntry = {
      frame,
      resend: opts.resend,
      localReservation: opts.localReservation,
      sent: false,
      pending: false,
      timer: undefined,
      waiter: undefined,
    };
    const reply = new Promise<Reply>((resolve, reject) => {
      entry.waiter = { resolve, reject };
    });
    this.entries.set(frame.id, entry);
    if (entry.resend) this.usageCount++;
    this.arm(entry, opts.timeoutMs);
    return { entry, reply };
  }

  /** Restart the caller's timer (a `pending` reply moves the deadline to the approval wait). */
  arm(entry: OutboxEntry, timeoutMs: number): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.expire(entry), timeoutMs);
  }

  resolve(id: string, reply: Reply): OutboxEntry | undefined {
    const entry = this.remove(id);
    entry?.waiter?.resolve(reply);
    return entry;
  }

  reject(id: string, err: Error): OutboxEntry | undefined {
    const entry = this.remove(id);
    entry?.waiter?.reject(err);
    return entry;
  }

  /** Resolves when every commit, spend and release is acknowledged, or after `timeoutMs`. */
  drained(timeoutMs: number): Promise<void> {
    if (this.usageCount === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.drainWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.drainWaiters.add(done);
    });
  }

  private remove(id: string): OutboxEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (entry.resend && --this.usageCount === 0) for (const done of [...this.drainWaiters]) done();
    return entry;
  }

  private expire(entry: OutboxEntry): void {
    entry.timer = undefined;
    const { type, id } = entry.frame;
    if (entry.resend) {
      // The caller stops waiting; the frame stays queued so the usage still reaches the ledger.
      const waiter = entry.waiter;
      entry.waiter = undefined;
      waiter?.reject(new SpendguardTimeoutError(`no reply to ${type} ${id} in time; it stays queued and will be resent`, true));
      this.onTimeout(entry, true);
      return;
    }
    this.remove(id);
    entry.waiter?.reject(new SpendguardTimeoutError(`no reply to ${type} ${id} in time`, false));
    this.onTimeout(entry, false);
  }
}
