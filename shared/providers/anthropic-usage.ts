import type { Anthropic } from '@anthropic-ai/sdk';
import type { GuardUsage } from '../client/guard.js';
import type { StreamMeter, StreamUsage } from './guarded-stream.js';
import { estimateTokens, MESSAGE_OVERHEAD_TOKENS, type Tokenizer } from './tokens.js';

type Body = Anthropic.MessageCreateParams;
type Event = Anthropic.RawMessageStreamEvent;

interface UsageCounts {
  input_tokens: number | null;
  output_tokens: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  /** The split of cache_creation_input_tokens by lifetime (5-minute and 1-hour writes are billed apart). */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
}

/**
 * Anthropic's `input_tokens` already excludes cache reads and writes, which it reports
 * separately; 1-hour writes (billed at 2× input, 5-minute ones at 1.25×) go in their own field.
 */
export function fromAnthropicUsage(u: UsageCounts): GuardUsage {
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const cacheWriteAll = u.cache_creation_input_tokens ?? 0;
  const cacheWrite1h = Math.min(cacheWriteAll, u.cache_creation?.ephemeral_1h_input_tokens ?? 0);
  const cacheWrite = cacheWriteAll - cacheWrite1h;
  return {
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens,
    ...(cacheRead > 0 ? { cache_read_tokens: cacheRead } : {}),
    ...(cacheWrite > 0 ? { cache_write_tokens: cacheWrite } : {}),
    ...(cacheWrite1h > 0 ? { cache_write_1h_tokens: cacheWrite1h } : {}),
  };
}

/** An estimate with OpenAI's tokenizer: Anthropic publishes no local one; the commit carries the real count. */
export function estimateAnthropicInput(body: Body, tokenizer: Tokenizer): number {
  const messages = estimateTokens(body.messages, tokenizer) + MESSAGE_OVERHEAD_TOKENS * (body.messages.length + 1);
  return messages + estimateTokens([body.system, body.tools], tokenizer);
}

/**
 * Usage of a Messages stream: `message_start` carries input and cache counts, `message_delta`
 * the cumulative totals. Cut before `message_delta`, the input side is still the provider's and
 * the output is counted from the received deltas.
 */
export class AnthropicStreamMeter implements StreamMeter<Event> {
  private id: string | undefined;
  private started: UsageCounts | undefined;
  private final: UsageCounts | undefined;
  // Bounded by the granted max_tokens: the provider stops generating there.
  private text = '';

  constructor(
    private readonly inputEstimate: number,
    private readonly tokenizer: Tokenizer,
  ) {}

  observe(event: Event): void {
    switch (event.type) {
      case 'message_start':
        this.id = event.message.id;
        this.started = event.message.usage;
        return;
      case 'message_delta': {
        const u = event.usage;
        const start = this.started;
        // Delta fields are cumulative; null means "unchanged since message_start".
        this.final = {
          input_tokens: u.input_tokens ?? start?.input_tokens ?? null,
          output_tokens: u.output_tokens,
          cache_read_input_tokens: u.cache_read_input_tokens ?? start?.cache_read_input_tokens ?? null,
          cache_creation_input_tokens: u.cache_creation_input_tokens ?? start?.cache_creation_input_tokens ?? null,
          cache_creation: start?.cache_creation ?? null,
        };
        return;
      }
      case 'content_block_start':
        if (event.content_block.type === 'tool_use') this.text += event.content_block.name;
        return;
      case 'content_block_delta': {
        const d = event.delta;
        if (d.type === 'text_delta') this.text += d.text;
        else if (d.type === 'input_json_delta') this.text += d.partial_json;
        else if (d.type === 'thinking_delta') this.text += d.thinking;
        return;
      }
      case 'content_block_stop':
      case 'message_stop':
        return;
      default:
        event satisfies never;
    }
  }

  settle(): StreamUsage {
    if (this.final) return { usage: fromAnthropicUsage(this.final), usageSource: 'provider', responseId: this.id };
    const counted = this.tokenizer.count(this.text);
    if (this.started) {
      const output_tokens = Math.max(counted, this.started.output_tokens);
      return { usage: fromAnthropicUsage({ ...this.started, output_tokens }), usageSource: 'tokenizer', responseId: this.id };
    }
    return { usage: { input_tokens: this.inputEstimate, output_tokens: counted }, usageSource: 'tokenizer', responseId: this.id };
  }
}
