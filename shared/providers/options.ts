import type { Ack, Deny } from '../protocol/agent.js';
import type { ClientGrant } from '../client/agent-client.js';
import type { GuardOptions, GuardUsage } from '../client/guard.js';
import type { Tokenizer } from './tokens.js';

export type ProviderName = 'openai' | 'anthropic' | 'ai-sdk';

/**
 * Where committed usage came from: the provider's own report; a tokenizer count of what was
 * received (stream cut, aborted or silent about usage); or the input estimate alone (aborted
 * before any response arrived — the provider still received the prompt).
 */
export type UsageSource = 'provider' | 'tokenizer' | 'estimate';

/** What a wrapper reports to `onEvent`: enough to print or log every reservation and its settlement. */
export type ProviderEvent =
  | {
      type: 'reserved';
      provider: ProviderName;
      model: string;
      input_tokens: number;
      requested_max_tokens: number;
      grant: ClientGrant;
    }
  | { type: 'denied'; provider: ProviderName; model: string; deny: Deny }
  | {
      type: 'committed';
      provider: ProviderName;
      reservation: string;
      key: string;
      model: string;
      usage: GuardUsage;
      usage_source: UsageSource;
      ack: Ack;
    }
  | { type: 'released'; provider: ProviderName; reservation: string };

export interface WrapperOptions
  extends Pick<GuardOptions, 'critical' | 'tool' | 'op' | 'maxRetries' | 'retryBaseMs' | 'retryMaxDelayMs' | 'sleep' | 'random'> {
  /** Call the daemon's `suggested_model` (a cheaper model at critical pressure) instead of the requested one. Default false. */
  applySuggestedModel?: boolean;
  /** Output tokens to reserve when a request sets no maximum. Default 4,096. */
  defaultMaxOutputTokens?: number;
  /** Counts input before the call and received text of streams that report no usage. Default o200k_base. */
  tokenizer?: Tokenizer;
  /** Each reservation, denial, commit and release. A throwing hook is ignored. */
  onEvent?: (event: ProviderEvent) => void;
}

export const DEFAULT_MAX_OUTPUT_TOKENS = 4_096;

/** One provider call as spendguard sees it before it is made. */
export interface CallSpec {
  provider: ProviderName;
  model: string;
  /** Estimated uncached input tokens. */
  inputTokens: number;
  /** The most output the caller asked for; the grant may clamp it. */
  maxOutputTokens: number;
  /** The caller's own cancellation. */
  signal?: AbortSignal | undefined;
}

export function toGuardOptions(spec: CallSpec, opts: WrapperOptions): GuardOptions {
  const { applySuggestedModel, critical, tool, op, maxRetries, retryBaseMs, retryMaxDelayMs, sleep, random } = opts;
  return {
    model: spec.model,
    inputTokens: spec.inputTokens,
    maxOutputTokens: spec.maxOutputTokens,
    signal: spec.signal,
    applySuggestedModel,
    critical,
    tool,
    op,
    maxRetries,
    retryBaseMs,
    retryMaxDelayMs,
    sleep,
    random,
  };
}
