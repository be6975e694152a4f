import { createHash } from 'node:crypto';
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Ack } from '../protocol/agent.js';
import type { ClientGrant, SpendguardClient } from './agent-client.js';
import { backoffDelayMs } from './backoff.js';
import {
  SpendguardAccountingError,
  SpendguardDeniedError,
  SpendguardTimeoutError,
  SpendguardUnavailableError,
} from './errors.js';
import { classifyFailure } from './transient.js';

/** SPEC §7: at most 3 retries of a transient provider failure. */
export const MAX_GUARD_RETRIES = 3;

export interface GuardOptions {
  model: string;
  /** Estimated uncached input tokens of the call. */
  inputTokens: number;
  /** The most output the caller wants; the grant may clamp it. */
  maxOutputTokens: number;
  critical?: boolean;
  tool?: string;
  op?: string;
  argsHash?: string;
  /** Use the daemon's `suggested_model` (a cheaper model at critical pressure). Default false. */
  applySuggestedModel?: boolean;
  /** The caller's own cancellation; combined with `client.killSignal`. */
  signal?: AbortSignal;
  /** 0–3, default 3. */
  maxRetries?: number;
  /** First retry backoff; doubles per retry. Default 500 ms. */
  retryBaseMs?: number;
  /** Longest wait between retries; a provider asking for longer (Retry-After) is not retried. Default 60 s. */
  retryMaxDelayMs?: number;
  /** Injected for tests; must reject when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface GuardCallParams {
  /** The grant's `max_output_tokens`: pass it to the provider as `max_tokens`. */
  maxTokens: number;
  model: string;
  signal: AbortSignal;
  reservation: string;
  /** 0 for the first try, then 1..3 for retries. */
  attempt: number;
}

export interface GuardUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  /** 1-hour cache writes (Anthropic's `cache_creation.ephemeral_1h_input_tokens`), priced apart. */
  cache_write_1h_tokens?: number;
  /** For calls whose price the caller knows better than the daemon's catalog. */
  cost_usd?: number;
}

export interface GuardCallResult<T> {
  result: T;
  usage: GuardUsage;
  /** The `max_tokens` that actually went into the provider request, to verify the clamp reached it. */
  sentMaxTokens?: number;
  /** The provider's response id: makes the commit key stable across re-commits of one response. */
  responseId?: string;
}

export type GuardClient = Pick<SpendguardClient, 'reserve' | 'commit' | 'release' | 'killSignal' | 'emit' | 'state'>;

const DEFAULT_RETRY_BASE_MS = 500;
const DEFAULT_RETRY_MAX_DELAY_MS = 60_000;
const MAX_KEY_LENGTH = 128;

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> => sleepFor(ms, undefined, { signal });

/** `resp-<id>`, or a digest of it when the provider's id would not fit the protocol's 128 characters. */
export function responseKey(responseId: string): string {
  const plain = `resp-${responseId}`;
  if (plain.length <= MAX_KEY_LENGTH) return plain;
  return `resp-sha256-${createHash('sha256').update(responseId).digest('hex')}`;
}

/**
 * Runs one provider call under a reservation (SPEC §3, §7): reserve → wait `delay_ms` → call
 * with the clamped `max_tokens` → commit the actual usage; release on failure. Transient
 * failures (429, 5xx, resets, timeouts) are retried, each under a new reservation.
 */
export async function guard<T>(
  client: GuardClient,
  opts: GuardOptions,
  call: (p: GuardCallParams) => Promise<GuardCallResult<T>>,
): Promise<T> {
  const maxRetries = Math.min(Math.max(opts.maxRetries ?? MAX_GUARD_RETRIES, 0), MAX_GUARD_RETRIES);
  const sleep = opts.sleep ?? defaultSleep;
  const backoff = { initialMs: opts.retryBaseMs ?? DEFAULT_RETRY_BASE_MS, maxMs: opts.retryMaxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS };

  for (let attempt = 0; ; attempt++) {
    const outcome = await client.reserve({
      model: opts.model,
      input_tokens: opts.inputTokens,
      max_output_tokens: opts.maxOutputTokens,
      ...(opts.critical === undefined ? {} : { critical: opts.critical }),
      ...(opts.tool === undefined ? {} : { tool: opts.tool }),
      ...(opts.op === undefined ? {} : { op: opts.op }),
      ...(opts.argsHash === undefined ? {} : { args_hash: opts.argsHash }),
    });
    if (outcome.kind === 'deny') throw new SpendguardDeniedError(outcome.deny);
    const grant = outcome.grant;
    // Read after the grant: a grant that follows a kill comes with a fresh kill signal.
    const signal = combine(client.killSignal, opts.signal);
    const model = opts.applySuggestedModel && grant.suggested_model !== undefined ? grant.suggested_model : opts.model;

    let done: GuardCallResult<T>;
    try {
      if (grant.delay_ms > 0) await sleep(grant.delay_ms, signal);
      signal.throwIfAborted();
      done = await call({ maxTokens: grant.max_output_tokens, model, signal, reservation: grant.reservation, attempt });
    } catch (err) {
      releaseInBackground(client, grant);
      if (signal.aborted) throw abortReason(signal, err);
      const failure = classifyFailure(err);
      if (!failure.transient || attempt >= maxRetries) throw err;
      if (failure.retryAfterMs !== undefined && failure.retryAfterMs > backoff.maxMs) throw err;
      const delay_ms = Math.max(backoffDelayMs(backoff, attempt, opts.random), failure.retryAfterMs ?? 0);
      client.emit({ type: 'retry', attempt: attempt + 1, delay_ms, reason: failure.reason });
      await sleep(delay_ms, combine(client.killSignal, opts.signal));
      continue;
    }
    return settle(client, grant, model, done);
  }
}

async function settle<T>(
  client: GuardClient,
  grant: ClientGrant,
  model: string,
  done: GuardCallResult<T>,
): Promise<T> {
  const { usage } = done;
  let committing: Promise<Ack>;
  try {
    committing = client.commit({
      reservation: grant.reservation,
      key: done.responseId !== undefined ? responseKey(done.responseId) : grant.reservation,
      model,
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      ...(usage.cache_read_tokens === undefined ? {} : { cache_read_tokens: usage.cache_read_tokens }),
      ...(usage.cache_write_tokens === undefined ? {} : { cache_write_tokens: usage.cache_write_tokens }),
      ...(usage.cache_write_1h_tokens === undefined ? {} : { cache_write_1h_tokens: usage.cache_write_1h_tokens }),
      ...(usage.cost_usd === undefined ? {} : { cost_usd: usage.cost_usd }),
    });
  } catch (err) {
    throw new SpendguardAccountingError('COMMIT_REJECTED', `commit for ${grant.reservation} was not accepted`, done.result, {
      cause: err,
    });
  }
  let ack: Ack | undefined;
  if (client.state !== 'open') {
    // Queued in the outbox and sent on reconnect; the agent need not stall until then.
    client.emit({ type: 'commit_queued', reservation: grant.reservation, message: 'daemon not connected' });
    committing.catch((err: unknown) => {
      if (err instanceof SpendguardTimeoutError) return; // still queued; the outbox keeps delivering it
      client.emit({ type: 'commit_failed', reservation: grant.reservation, message: err instanceof Error ? err.message : String(err) });
    });
  } else {
    try {
      ack = await committing;
    } catch (err) {
      if (err instanceof SpendguardTimeoutError || err instanceof SpendguardUnavailableError) {
        client.emit({ type: 'commit_queued', reservation: grant.reservation, message: err.message });
      } else {
        throw new SpendguardAccountingError('COMMIT_REJECTED', `commit for ${grant.reservation} was rejected`, done.result, {
          cause: err,
        });
      }
    }
  }
  // Usage above the reservation: more output than granted, or a settled cost above the hold.
  const costOver = ack?.cost_usd !== undefined && ack.cost_usd > grant.cost_usd;
  if (costOver || usage.output_tokens > grant.max_output_tokens) {
    client.emit({
      type: 'overshoot',
      reservation: grant.reservation,
      reserved_usd: grant.cost_usd,
      cost_usd: ack?.cost_usd,
      output_tokens: usage.output_tokens,
      granted_output_tokens: grant.max_output_tokens,
    });
  }
  if (done.sentMaxTokens !== undefined && done.sentMaxTokens > grant.max_output_tokens) {
    client.emit({
      type: 'cap_bypassed',
      reservation: grant.reservation,
      granted_max_tokens: grant.max_output_tokens,
      sent_max_tokens: done.sentMaxTokens,
    });
    throw new SpendguardAccountingError(
      'CAP_BYPASSED',
      `provider request carried max_tokens ${done.sentMaxTokens}, above the granted ${grant.max_output_tokens}: the cap did not reach the provider`,
      done.result,
    );
  }
  return done.result;
}

/**
 * Not awaited: the release is queued in the client's outbox ahead of any retry's reserve, and
 * the caller's error should not wait on the daemon (the lease expires on its own anyway).
 */
function releaseInBackground(client: GuardClient, grant: ClientGrant): void {
  const failed = (err: unknown): void =>
    client.emit({ type: 'release_failed', reservation: grant.reservation, message: err instanceof Error ? err.message : String(err) });
  try {
    client.release({ reservation: grant.reservation }).catch(failed);
  } catch (err) {
    failed(err);
  }
}

function combine(kill: AbortSignal, own: AbortSignal | undefined): AbortSignal {
  return own ? AbortSignal.any([kill, own]) : kill;
}

function abortReason(signal: AbortSignal, fallback: unknown): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : fallback;
}
