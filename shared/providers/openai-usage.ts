import type { OpenAI } from 'openai';
import type { GuardUsage } from '../client/guard.js';
import { settledUsage, type StreamMeter, type StreamUsage } from './guarded-stream.js';
import { estimateTokens, MESSAGE_OVERHEAD_TOKENS, type Tokenizer } from './tokens.js';

type Body = OpenAI.ChatCompletionCreateParams;

/**
 * OpenAI's `prompt_tokens` includes cached tokens (and cache writes, where reported); the
 * protocol's `input_tokens` is uncached input only, so they are subtracted.
 */
export function fromOpenAIUsage(u: OpenAI.CompletionUsage): GuardUsage {
  const cacheRead = u.prompt_tokens_details?.cached_tokens ?? 0;
  const cacheWrite = u.prompt_tokens_details?.cache_write_tokens ?? 0;
  return {
    input_tokens: Math.max(0, u.prompt_tokens - cacheRead - cacheWrite),
    output_tokens: u.completion_tokens,
    ...(cacheRead > 0 ? { cache_read_tokens: cacheRead } : {}),
    ...(cacheWrite > 0 ? { cache_write_tokens: cacheWrite } : {}),
  };
}

export function estimateOpenAIInput(body: Body, tokenizer: Tokenizer): number {
  const messages = estimateTokens(body.messages, tokenizer) + MESSAGE_OVERHEAD_TOKENS * (body.messages.length + 1);
  return messages + estimateTokens([body.tools, body.functions, body.response_format, body.prediction], tokenizer);
}

/** Text the model produced in a completed response, for a provider that returned no usage. */
export function completionText(res: OpenAI.ChatCompletion): string {
  let text = '';
  for (const choice of res.choices) {
    text += (choice.message.content ?? '') + (choice.message.refusal ?? '');
    for (const call of choice.message.tool_calls ?? []) {
      text += call.type === 'function' ? call.function.name + call.function.arguments : call.custom.name + call.custom.input;
    }
  }
  return text;
}

/** Usage of a chat completion stream: the final `include_usage` chunk, else a count of the received deltas. */
export class OpenAIStreamMeter implements StreamMeter<OpenAI.ChatCompletionChunk> {
  private id: string | undefined;
  private reported: OpenAI.CompletionUsage | undefined;
  // Bounded by the granted max_tokens: the provider stops generating there.
  private text = '';

  constructor(
    private readonly inputEstimate: number,
    private readonly tokenizer: Tokenizer,
  ) {}

  observe(chunk: OpenAI.ChatCompletionChunk): void {
    this.id ??= chunk.id;
    if (chunk.usage) this.reported = chunk.usage;
    for (const choice of chunk.choices) {
      const delta = choice.delta;
      this.text += (delta.content ?? '') + (delta.refusal ?? '');
      for (const call of delta.tool_calls ?? []) this.text += (call.function?.name ?? '') + (call.function?.arguments ?? '');
    }
  }

  settle(): StreamUsage {
    return settledUsage(this.reported && fromOpenAIUsage(this.reported), this.id, this.inputEstimate, () => this.tokenizer.count(this.text));
  }
}
