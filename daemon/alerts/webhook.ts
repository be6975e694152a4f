import type { Logger } from '../server/log.js';
import type { WebhookPayload } from './payload.js';

export interface WebhookOptions {
  /** Read before every attempt: a config reload may change or remove the URL. */
  readonly url: () => string | undefined;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  /** Alerts waiting behind the one being delivered; beyond it the oldest waiting one is dropped. */
  readonly maxQueue?: number;
  /** Attempts per alert, the first included. */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly timeoutMs?: number;
  /** 0 ≤ x < 1, for jitter. */
  readonly random?: () => number;
}

export interface WebhookStats {
  delivered: number;
  /** Attempts that failed and were scheduled again. */
  retried: number;
  /** Given up: attempts exhausted or refused with a 4xx. */
  failed: number;
  /** Dropped at the queue bound. */
  dropped: number;
}

interface Item {
  readonly payload: WebhookPayload;
  attempts: number;
}

type Outcome = { readonly ok: true } | { readonly ok: false; readonly retry: boolean; readonly why: string; readonly retryAfterMs?: number };

/**
 * Delivers alerts one at a time, in order, entirely off the hot path: `enqueue` only pushes onto a
 * bounded array. Failures (network, timeout, 408, 429, 5xx) are retried with exponential backoff
 * and jitter up to `maxAttempts`; other 4xx mean the receiver will never take it, so no retry.
 */
export class WebhookSender {
  readonly stats: WebhookStats = { delivered: 0, retried: 0, failed: 0, dropped: 0 };
  private readonly queue: Item[] = [];
  private current: Item | null = null;
  private timer: NodeJS.Timeout | undefined;
  private inflight: AbortController | undefined;
  private stopped = false;
  private readonly maxQueue: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  private readonly random: () => number;

  constructor(private readonly opts: WebhookOptions) {
    this.maxQueue = opts.maxQueue ?? 256;
    this.maxAttempts = opts.maxAttempts ?? 8;
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.fetch = opts.fetch ?? fetch;
    this.random = opts.random ?? Math.random;
  }

  /** Alerts waiting, plus the one being delivered. */
  get backlog(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  enqueue(payload: WebhookPayload): void {
    if (this.stopped) return;
    if (this.queue.length >= this.maxQueue) {
      const lost = this.queue.shift();
      this.stats.dropped += 1;
      this.opts.log('warn', 'webhook queue full: dropped the oldest waiting alert', { bound: this.maxQueue, dropped_total: this.stats.dropped, alert: lost?.payload.id, kind: lost?.payload.kind, scope: lost?.payload.scope });
    }
    this.queue.push({ payload, attempts: 0 });
    this.next();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.inflight?.abort();
    const undelivered = this.backlog;
    this.queue.length = 0;
    this.current = null;
    if (undelivered > 0) this.opts.log('warn', 'daemon stopping: webhook alerts not delivered', { undelivered });
  }

  private next(): void {
    if (this.stopped || this.current) return;
    const item = this.queue.shift();
    if (!item) return;
    this.current = item;
    void this.attempt(item);
  }

  private async attempt(item: Item): Promise<void> {
    const url = this.opts.url();
    if (url === undefined) {
      // The webhook was removed from the config: what waited for it has nowhere to go.
      const discarded = this.backlog;
      this.queue.length = 0;
      this.current = null;
      this.opts.log('info', 'webhook no longer configured: discarded waiting alerts', { discarded });
      return;
    }
    item.attempts += 1;
    const outcome = await this.post(url, item.payload);
    if (this.stopped) return;
    if (outcome.ok) {
      this.stats.delivered += 1;
      return this.done();
    }
    if (!outcome.retry || item.attempts >= this.maxAttempts) {
      this.stats.failed += 1;
      this.opts.log('error', 'webhook alert not delivered', { alert: item.payload.id, kind: item.payload.kind, attempts: item.attempts, reason: outcome.why });
      return this.done();
    }
    this.stats.retried += 1;
    const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (item.attempts - 1));
    // Equal jitter: at least half the backoff, so a down receiver is not hammered.
    const delay = Math.min(this.maxDelayMs, Math.max(outcome.retryAfterMs ?? 0, backoff / 2 + (this.random() * backoff) / 2));
    this.opts.log('debug', 'webhook attempt failed; retrying', { alert: item.payload.id, attempt: item.attempts, delay_ms: Math.round(delay), reason: outcome.why });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt(item);
    }, delay);
    this.timer.unref();
  }

  private done(): void {
    this.current = null;
    this.next();
  }

  private async post(url: string, payload: WebhookPayload): Promise<Outcome> {
    const ac = new AbortController();
    this.inflight = ac;
    const timeout = setTimeout(() => ac.abort(), this.timeoutMs);
    timeout.unref();
    try {
      const res = await this.fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload), signal: ac.signal });
      // Free the keep-alive connection without reading an unbounded body.
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return { ok: true };
      const retry = res.status >= 500 || res.status === 408 || res.status === 429;
      const after = Number(res.headers.get('retry-after'));
      return { ok: false, retry, why: `HTTP ${res.status}`, ...(Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {}) };
    } catch (e) {
      return { ok: false, retry: true, why: ac.signal.aborted ? `no answer within ${this.timeoutMs} ms` : e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e) };
    } finally {
      clearTimeout(timeout);
      this.inflight = undefined;
    }
  }
}
