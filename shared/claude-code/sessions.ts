import { SpendguardClient } from '../client/agent-client.js';
import { SpendguardOutboxFullError, SpendguardClosedError, SpendguardTimeoutError, SpendguardUnavailableError } from '../client/errors.js';
import type { ClientEvent } from '../client/events.js';
import { BoundedSet, type UsageRecord } from './dedupe.js';
import { claudeCodeHello } from './hook.js';

/**
 * What became of one record: recorded now, already in the ledger, queued for a daemon that is
 * away, to be sent again later (the file is re-read: keys make that safe), or refused for good.
 */
export type SendOutcome =
  | { kind: 'recorded'; cost_usd: number }
  | { kind: 'duplicate' }
  | { kind: 'queued' }
  | { kind: 'retry'; reason: string }
  | { kind: 'rejected'; reason: string };

export interface UsageSink {
  send(record: UsageRecord): Promise<SendOutcome>;
}

export interface PoolOptions {
  url: string;
  token: string;
  user: string;
  /** Live watching retries a daemon that is down; a one-shot read fails at once. */
  retry_connect: boolean;
  log: (line: string) => void;
  now?: () => number;
}

/** Open connections at once; the least recently used is closed past it. */
const MAX_LINKS = 32;
const IDLE_CLOSE_MS = 120_000;
/** Keys known to be in the ledger, so a re-read does not even ask. */
const MAX_ACKED_KEYS = 50_000;
/** A spend waits this long for its ack: live, it stays queued across reconnects; one-shot, it fails the run. */
const LIVE_REQUEST_TIMEOUT_MS = 600_000;
const ONCE_REQUEST_TIMEOUT_MS = 30_000;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

interface Link {
  readonly client: SpendguardClient;
  /** Settles when the first connection is up; in live mode it keeps trying until then. */
  readonly ready: Promise<void>;
  last_used_ms: number;
  stop(): void;
}

/**
 * One connection per session: a hello binds a connection to one chain (SPEC §4), and the daemon
 * refuses a second hello, so switching sessions on a shared connection would mean reconnecting
 * on every interleaved line. Connections are opened on first use and closed when idle.
 */
export class SessionPool implements UsageSink {
  readonly #links = new Map<string, Link>();
  readonly #acked = new BoundedSet(MAX_ACKED_KEYS);
  readonly #inflight = new Map<string, Promise<SendOutcome>>();
  readonly #now: () => number;
  #closed = false;
  #unreachable: string | undefined;

  constructor(private readonly opts: PoolOptions) {
    this.#now = opts.now ?? Date.now;
  }

  send(record: UsageRecord): Promise<SendOutcome> {
    if (this.#acked.has(record.key)) return Promise.resolve({ kind: 'duplicate' });
    const inflight = this.#inflight.get(record.key);
    if (inflight) return inflight.then((o) => (o.kind === 'recorded' ? { kind: 'duplicate' } : o));
    const sending = this.#spend(record).finally(() => this.#inflight.delete(record.key));
    this.#inflight.set(record.key, sending);
    return sending;
  }

  /** Why the last connection attempt failed, while no connection has succeeded since. */
  get unreachable(): string | undefined {
    return this.#unreachable;
  }

  /** Closes connections idle for a while (their acks are all in). */
  sweep(): void {
    const now = this.#now();
    for (const [session, link] of this.#links) {
      if (now - link.last_used_ms >= IDLE_CLOSE_MS && link.client.unacked === 0) this.#drop(session, link);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight.values()]);
    const links = [...this.#links.values()];
    this.#links.clear();
    for (const link of links) link.stop();
    await Promise.allSettled(links.map((link) => link.client.close()));
  }

  async #spend(record: UsageRecord): Promise<SendOutcome> {
    if (this.#closed) return { kind: 'retry', reason: 'the watcher is stopping' };
    const link = this.#link(record.sessionId);
    try {
      if (!this.opts.retry_connect) await link.ready;
      const ack = await link.client.spend({
        key: record.key,
        ...(record.model === undefined ? {} : { model: record.model }),
        ...record.usage,
      });
      this.#acked.add(record.key);
      return ack.duplicate ? { kind: 'duplicate' } : { kind: 'recorded', cost_usd: ack.cost_usd ?? 0 };
    } catch (error) {
      return classify(error);
    } finally {
      link.last_used_ms = this.#now();
    }
  }

  #link(session: string): Link {
    const existing = this.#links.get(session);
    if (existing) {
      // Re-inserted: the map's order is least recently used first.
      this.#links.delete(session);
      this.#links.set(session, existing);
      return existing;
    }
    for (const [oldest, link] of this.#links) {
      if (this.#links.size < MAX_LINKS) break;
      this.#drop(oldest, link);
    }
    const link = this.#open(session);
    this.#links.set(session, link);
    return link;
  }

  #open(session: string): Link {
    const { log } = this.opts;
    const client = new SpendguardClient({
      url: this.opts.url,
      token: this.opts.token,
      hello: claudeCodeHello(session, this.opts.user),
      requestTimeoutMs: this.opts.retry_connect ? LIVE_REQUEST_TIMEOUT_MS : ONCE_REQUEST_TIMEOUT_MS,
      onKill: (frame) => log(`session ${session}: killed on ${frame.scope} (${frame.reason}); its usage is still recorded`),
      onEvent: (event) => logEvent(session, event, log),
    });
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const ready = new Promise<void>((resolve, reject) => {
      const attempt = (delay_ms: number): void => {
        client.connect().then(
          () => {
            this.#unreachable = undefined;
            resolve();
          },
          (error: unknown) => {
            const reason = error instanceof Error ? error.message : String(error);
            this.#unreachable = reason;
            if (!this.opts.retry_connect || stopped) return reject(new SpendguardUnavailableError(reason));
            log(`session ${session}: ${reason}; retrying in ${Math.round(delay_ms / 1000)} s`);
            timer = setTimeout(() => attempt(Math.min(delay_ms * 2, RETRY_MAX_MS)), delay_ms);
          },
        );
      };
      attempt(RETRY_MIN_MS);
    });
    ready.catch(() => undefined); // awaited by senders; an unobserved rejection must not crash the watcher
    return {
      client,
      ready,
      last_used_ms: this.#now(),
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  #drop(session: string, link: Link): void {
    this.#links.delete(session);
    link.stop();
    void link.client.close();
  }
}

function classify(error: unknown): SendOutcome {
  const reason = error instanceof Error ? error.message : String(error);
  // Still in the client's outbox: it is delivered after the reconnect, nothing to redo.
  if (error instanceof SpendguardTimeoutError && error.stillQueued) return { kind: 'queued' };
  if (error instanceof SpendguardOutboxFullError || error instanceof SpendguardClosedError || error instanceof SpendguardUnavailableError || error instanceof SpendguardTimeoutError) {
    return { kind: 'retry', reason };
  }
  return { kind: 'rejected', reason };
}

function logEvent(session: string, event: ClientEvent, log: (line: string) => void): void {
  if (event.type === 'disconnected') log(`session ${session}: connection to the daemon lost (${event.reason || event.code}); ${event.queued} usage records queued`);
  else if (event.type === 'connected' && event.reconnect) log(`session ${session}: reconnected, resent ${event.resent}`);
  else if (event.type === 'daemon_error') log(`session ${session}: daemon error ${event.code}: ${event.message}`);
}
