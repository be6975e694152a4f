import { SpendguardAccountingError } from '../client/errors.js';
import { guard, type GuardCallParams, type GuardCallResult, type GuardClient, type GuardUsage } from '../client/guard.js';
import { meteredClient, type CallContext } from './metered-client.js';
import { toGuardOptions, type CallSpec, type UsageSource, type WrapperOptions } from './options.js';

/** What one provider attempt produced, with the usage to commit for it. */
export interface Settled<T> {
  value: T;
  usage: GuardUsage;
  usageSource: UsageSource;
  responseId?: string | undefined;
  /** The `max_tokens` placed in the provider request. */
  sentMaxTokens?: number | undefined;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * `guard()` for one provider call, plus the rule guard cannot know: a request aborted (kill or
 * the caller's signal) after it was sent has still delivered its prompt to the provider, so its
 * estimated input is committed rather than released — never $0 for a call that happened.
 */
export async function guardedCall<T>(
  client: GuardClient,
  spec: CallSpec,
  opts: WrapperOptions,
  send: (p: GuardCallParams) => Promise<Settled<T>>,
): Promise<T> {
  const ctx: CallContext = { usageSource: 'provider' };
  let outcome: Outcome<T>;
  try {
    outcome = await guard(meteredClient(client, spec, opts, ctx), toGuardOptions(spec, opts), async (p): Promise<GuardCallResult<Outcome<T>>> => {
      let done: Settled<T>;
      try {
        done = await send(p);
      } catch (error) {
        if (!p.signal.aborted) throw error;
        ctx.usageSource = 'estimate';
        return { result: { ok: false, error: abortReason(p.signal, error) }, usage: { input_tokens: spec.inputTokens, output_tokens: 0 } };
      }
      ctx.usageSource = done.usageSource;
      return { result: { ok: true, value: done.value }, usage: done.usage, responseId: done.responseId, sentMaxTokens: done.sentMaxTokens };
    });
  } catch (err) {
    throw unwrapAccounting<T>(err);
  }
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** The kill (or the caller's abort reason) explains an aborted call better than the SDK's generic abort error. */
export function abortReason(signal: AbortSignal, fallback: unknown): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : fallback;
}

function isOutcome<T>(value: unknown): value is Outcome<T> {
  return typeof value === 'object' && value !== null && 'ok' in value && typeof value.ok === 'boolean';
}

/** Accounting errors carry the call's result: hand the caller theirs, not our internal wrapper. */
function unwrapAccounting<T>(err: unknown): unknown {
  if (!(err instanceof SpendguardAccountingError) || !isOutcome<T>(err.result)) return err;
  const result = err.result.ok ? err.result.value : undefined;
  return new SpendguardAccountingError(err.code, err.message, result, { cause: err.cause });
}
