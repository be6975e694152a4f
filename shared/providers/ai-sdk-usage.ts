import type { LanguageModelMiddleware } from 'ai';
import type { GuardUsage } from '../client/guard.js';
import { settledUsage, type StreamMeter, type StreamUsage } from './guarded-stream.js';
import { estimateTokens, MESSAGE_OVERHEAD_TOKENS, type Tokenizer } from './tokens.js';

// The provider interface types, taken from `ai`'s own middleware type rather than a package we do not depend on.
type WrapGenerate = NonNullable<LanguageModelMiddleware['wrapGenerate']>;
export type LanguageModel = Parameters<WrapGenerate>[0]['model'];
export type CallOptions = Parameters<WrapGenerate>[0]['params'];
export type GenerateResult = Awaited<ReturnType<LanguageModel['doGenerate']>>;
export type StreamResult = Awaited<ReturnType<LanguageModel['doStream']>>;
export type StreamPart = StreamResult['stream'] extends ReadableStream<infer P> ? P : never;
type Usage = GenerateResult['usage'];
type ProviderMetadata = GenerateResult['providerMetadata'];

/**
 * In `ai` 5, `inputTokens` is whatever the provider calls input: OpenAI-style providers include
 * cached tokens in it, Anthropic's does not. Decides which, from `model.provider`.
 */
export type InputIncludesCached = (provider: string) => boolean;
export const defaultInputIncludesCached: InputIncludesCached = (provider) => !provider.startsWith('anthropic');

function count(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** Cache writes are only in provider metadata: `anthropic.cacheCreationInputTokens`, `openai.usage.cacheWriteTokens`. */
function cacheWriteOf(meta: ProviderMetadata): number {
  return count(field(meta?.anthropic, 'cacheCreationInputTokens')) || count(field(field(meta?.openai, 'usage'), 'cacheWriteTokens'));
}

/** Anthropic's raw usage rides along in `anthropic.usage`; its `cache_creation` says which writes were 1-hour ones. */
function cacheWrite1hOf(meta: ProviderMetadata): number {
  return count(field(field(field(meta?.anthropic, 'usage'), 'cache_creation'), 'ephemeral_1h_input_tokens'));
}

/**
 * Whether `reasoningTokens` come on top of `outputTokens`. Google reports thoughts beside the
 * candidates (and bills both as output; its total counts both); OpenAI's output already includes
 * reasoning. The reported total tells which; without one, the provider does.
 */
function reasoningBilledApart(usage: Usage, reasoning: number, provider: string): boolean {
  if (reasoning === 0) return false;
  if (usage.totalTokens !== undefined && usage.inputTokens !== undefined && usage.outputTokens !== undefined) {
    return usage.totalTokens >= usage.inputTokens + usage.outputTokens + reasoning;
  }
  return provider.startsWith('google') || provider.startsWith('vertex');
}

/** The provider's usage in the protocol's non-overlapping fields, or undefined when it reported none. */
export function fromAiUsage(usage: Usage, meta: ProviderMetadata, includesCached: boolean, provider = ''): GuardUsage | undefined {
  if (usage.inputTokens === undefined || usage.outputTokens === undefined) return undefined;
  const cacheRead = count(usage.cachedInputTokens);
  const cacheWriteAll = cacheWriteOf(meta);
  const cacheWrite1h = Math.min(cacheWriteAll, cacheWrite1hOf(meta));
  const cacheWrite = cacheWriteAll - cacheWrite1h;
  const reasoning = count(usage.reasoningTokens);
  return {
    input_tokens: includesCached ? Math.max(0, usage.inputTokens - cacheRead - cacheWriteAll) : usage.inputTokens,
    output_tokens: usage.outputTokens + (reasoningBilledApart(usage, reasoning, provider) ? reasoning : 0),
    ...(cacheRead > 0 ? { cache_read_tokens: cacheRead } : {}),
    ...(cacheWrite > 0 ? { cache_write_tokens: cacheWrite } : {}),
    ...(cacheWrite1h > 0 ? { cache_write_1h_tokens: cacheWrite1h } : {}),
  };
}

export function estimateAiInput(params: CallOptions, tokenizer: Tokenizer): number {
  const prompt = estimateTokens(params.prompt, tokenizer) + MESSAGE_OVERHEAD_TOKENS * (params.prompt.length + 1);
  return prompt + estimateTokens([params.tools, params.responseFormat], tokenizer);
}

export function contentText(content: GenerateResult['content']): string {
  let text = '';
  for (const part of content) {
    if (part.type === 'text' || part.type === 'reasoning') text += part.text;
    else if (part.type === 'tool-call') text += part.toolName + part.input;
  }
  return text;
}

/** Usage of a language model stream: the `finish` part's usage, else a count of the received deltas. */
export class AiStreamMeter implements StreamMeter<StreamPart> {
  private id: string | undefined;
  private final: GuardUsage | undefined;
  // Bounded by the granted max output tokens: the provider stops generating there.
  private text = '';

  constructor(
    private readonly inputEstimate: number,
    private readonly tokenizer: Tokenizer,
    private readonly includesCached: boolean,
    private readonly provider: string,
  ) {}

  observe(part: StreamPart): void {
    switch (part.type) {
      case 'response-metadata':
        this.id ??= part.id;
        return;
      case 'text-delta':
      case 'reasoning-delta':
      case 'tool-input-delta':
        this.text += part.delta;
        return;
      case 'tool-input-start':
        this.text += part.toolName;
        return;
      case 'finish':
        this.final = fromAiUsage(part.usage, part.providerMetadata, this.includesCached, this.provider);
        return;
      default:
        return;
    }
  }

  settle(): StreamUsage {
    return settledUsage(this.final, this.id, this.inputEstimate, () => this.tokenizer.count(this.text));
  }
}
