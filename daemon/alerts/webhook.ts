import type { Logger } from '../server/log.js';
import type { WebhookPayload } from './payload.js';

export interface WebhookOptions {
  /** Read before every attempt: a config reload may change or remove the URL. */
  readonly url: () => string | undefined;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  /** Alerts waiting behind the one being delivered; beyond it the oldest waiting one is dropped. */
  readonly maxQueue?: number;
  readonly baseDelayMs?: number;
  /** Cap of the backoff between two attempts at the same alert (and of a Retry-After). */
  readonly maxDelayMs?: number;
  readonly timeoutMs?: number;
  /** How long `stop` may spend on a last attempt to flush what is left. */
  readonly stopGraceMs?: number;
  /** 0 ≤ x < 1, for jitter. */
  readonly random?: () => number;
}

export interface WebhookStats {
  delivered: number;
  /** Attempts that failed and were scheduled again. */
  retried: number;
  /** Refused with a 4xx other than 408 / 429: the receiver will never take it. */
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
 * bounded array. Failures (network, timeout, 408, 429, 5xx) are retried with capped exponential
 * backoff and jitter for as long as the daemon runs, so a receiver that is down only delays alerts;
 * other 4xx mean the receiver will never take that alert, so no retry. An alert answered with a
 * 2xx is never sent again.
 *
 * Loss happens only at the queue bound (the oldest waiting alert is dropped, counted and logged),
 * when the webhook is removed from the config, and for what is still undelivered when `stop`'s
 * grace period runs out (logged).
 */
export class WebhookSender {
  readonly stats: WebhookStats = { delivered: 0, retried: 0, failed: 0, dropped: 0 };
  private readonly queue: Item[] = [];
  private current: Item | null = null;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private inflight: AbortController | undefined;
  /** `stop` was called: no more backoff, no new alerts. */
  private stopping: Promise<void> | undefined;
  /** The stop grace period is over: no more attempts. */
  private halted = false;
  private readonly maxQueue: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly stopGraceMs: number;
  private readonly fetch: typeof fetch;
  private readonly random: () => number;

  constructor(private readonly opts: WebhookOptions) {
    this.maxQueue = opts.maxQueue ?? 256;
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.stopGraceMs = opts.stopGraceMs ?? 2_000;
    this.fetch = opts.fetch ?? fetch;
    this.random = opts.random ?? Math.random;
  }

  /** Alerts waiting, plus the one being delivered. */
  get backlog(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  enqueue(payload: WebhookPayload): void {
    if (this.stopping) return;
    if (this.queue.length >= this.maxQueue) {
      // The only loss while the daemon runs: a receiver down long enough to fill the queue costs
      // the oldest waiting alerts, never the newest.
      const lost = this.queue.shift();
      this.stats.dropped += 1;
      this.opts.log('warn', 'webhook queue full: dropped the oldest waiting alert', { bound: this.maxQueue, dropped_total: this.stats.dropped, alert: lost?.payload.id, kind: lost?.payload.kind, scope: lost?.payload.scope });
    }
    this.queue.push({ payload, attempts: 0 });
    this.pump();
  }

  /**
   * Cuts any backoff short and tries once more to deliver what is left, in order, for at most
   * `stopGraceMs`; then aborts the attempt in flight and logs how many alerts were not delivered.
   */
  stop(): Promise<void> {
    this.stopping ??= this.flushAndHalt();
    return this.stopping;
  }

  private async flushAndHalt(): Promise<void> {
    this.wake?.();
    const grace = setTimeout(() => this.halt(), this.stopGraceMs);
    grace.unref();
    // A loop that already gave up (URL removed) leaves nothing; an idle one has nothing to flush.
    this.pump();
    await this.running;
    clearTimeout(grace);
    this.halt();
    const undelivered = this.backlog;
    this.queue.length = 0;
    this.current = null;
    if (undelivered > 0) this.opts.log('warn', 'daemon stopping: webhook alerts not delivered', { undelivered, grace_ms: this.stopGraceMs });
  }

  private halt(): void {
    this.halted = true;
    this.wake?.();
    this.inflight?.abort();
  }

  private pump(): void {
    if (this.running || this.halted) return;
    this.running = this.run()
      .catch((e: unknown) => this.opts.log('error', 'webhook delivery loop failed', { error: e instanceof Error ? e.message : String(e) }))
      .finally(() => {
        this.running = undefined;
      });
  }

  private async run(): Promise<void> {
    while (!this.halted) {
      const item = this.current ?? this.queue.shift();
      if (!item) return;
      this.current = item;
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
      if (outcome.ok) {
        this.stats.delivered += 1;
        this.current = null;
        continue;
      }
      if (!outcome.retry) {
        this.stats.failed += 1;
        this.opts.log('error', 'webhook alert refused by the receiver', { alert: item.payload.id, kind: item.payload.kind, attempts: item.attempts, reason: outcome.why });
        this.current = null;
        continue;
      }
      // Stopping: that was the last attempt; `stop` reports what is left.
      if (this.stopping) return;
      this.stats.retried += 1;
      const delay = this.delayAfter(item.attempts, outcome.retryAfterMs);
      // Logged at every doubling only, so a receiver down for hours does not flood the log.
      const level = (item.attempts & (item.attempts - 1)) === 0 ? 'warn' : 'debug';
      this.opts.log(level, 'webhook attempt failed; retrying', { alert: item.payload.id, attempt: item.attempts, delay_ms: Math.round(delay), waiting: this.queue.length, reason: outcome.why });
      await this.sleep(delay);
    }
  }

  private delayAfter(attempts: number, retryAfterMs = 0): number {
    // The exponent is capped so that 2 ** n stays finite however long the receiver stays down.
    const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempts - 1, 30));
    // Equal jitter: at least half the backoff, so a down receiver is not hammered.
    return Math.min(this.maxDelayMs, Math.max(retryAfterMs, backoff / 2 + (this.random() * backoff) / 2));
  }

  /** Resolves after `ms`, or at once when `stop` cuts the backoff short. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      this.timer = setTimeout(done, ms);
      this.timer.unref();
    });
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
      return { ok: false, retry: true, why: ac.signal.aborted ? (this.halted ? 'aborted at stop' : `no answer within ${this.timeoutMs} ms`) : e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e) };
    } finally {
      clearTimeout(timeout);
      this.inflight = undefined;
    }
  }
}
