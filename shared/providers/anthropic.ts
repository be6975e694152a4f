import type { Anthropic } from '@anthropic-ai/sdk';
import type { GuardCallParams, GuardClient } from '../client/guard.js';
import { AnthropicStreamMeter, estimateAnthropicInput, fromAnthropicUsage } from './anthropic-usage.js';
import { guardedCall, type Settled } from './guarded-call.js';
import { guardedStream, isAsyncIterable, type GuardedStream } from './guarded-stream.js';
import type { CallSpec, WrapperOptions } from './options.js';
import { o200kTokenizer } from './tokens.js';

type Body = Anthropic.MessageCreateParams;
type NonStreaming = Anthropic.MessageCreateParamsNonStreaming;
type Streaming = Anthropic.MessageCreateParamsStreaming;
type Event = Anthropic.RawMessageStreamEvent;
type RequestOptions = Anthropic.RequestOptions;

/** The part of an `@anthropic-ai/sdk` client the wrapper calls; structural, so spendguard needs no SDK at runtime. */
export interface AnthropicLike {
  messages: {
    create(body: Body, options?: RequestOptions): PromiseLike<Anthropic.Message | AsyncIterable<Event>>;
  };
}

export interface GuardedMessages {
  create(body: NonStreaming, options?: RequestOptions): Promise<Anthropic.Message>;
  /** Events pass through unchanged; usage is committed when iteration ends (completed, cut, aborted or killed). */
  create(body: Streaming, options?: RequestOptions): Promise<GuardedStream<Event>>;
  create(body: Body, options?: RequestOptions): Promise<Anthropic.Message | GuardedStream<Event>>;
}

export interface GuardedAnthropic {
  messages: GuardedMessages;
}

/**
 * `messages.create` under spendguard: reserve (input estimated with a tokenizer, `max_tokens`
 * clamped by the grant), wait `delay_ms`, call, commit the reported usage — cache reads and
 * writes priced as such — keyed by the message id. Transient failures are retried by spendguard
 * under new reservations, so the SDK's own retries are turned off per request.
 */
export function wrapAnthropic(anthropic: AnthropicLike, client: GuardClient, opts: WrapperOptions = {}): GuardedAnthropic {
  const tokenizer = opts.tokenizer ?? o200kTokenizer;

  function create(body: NonStreaming, options?: RequestOptions): Promise<Anthropic.Message>;
  function create(body: Streaming, options?: RequestOptions): Promise<GuardedStream<Event>>;
  function create(body: Body, options?: RequestOptions): Promise<Anthropic.Message | GuardedStream<Event>>;
  function create(body: Body, options: RequestOptions = {}): Promise<Anthropic.Message | GuardedStream<Event>> {
    const spec: CallSpec = {
      provider: 'anthropic',
      model: body.model,
      inputTokens: estimateAnthropicInput(body, tokenizer),
      maxOutputTokens: body.max_tokens,
      signal: options.signal ?? undefined,
    };
    const requestOptions = (p: GuardCallParams): RequestOptions => ({ ...options, signal: p.signal, maxRetries: 0 });

    if (body.stream === true) {
      return guardedStream(
        client,
        spec,
        opts,
        async (p) => {
          const source = await anthropic.messages.create({ ...body, model: p.model, max_tokens: p.maxTokens, stream: true }, requestOptions(p));
          if (!isAsyncIterable(source)) throw new TypeError('anthropic returned a message for a streaming request');
          return { source, sentMaxTokens: p.maxTokens };
        },
        () => new AnthropicStreamMeter(spec.inputTokens, tokenizer),
      );
    }
    return guardedCall(client, spec, opts, async (p): Promise<Settled<Anthropic.Message>> => {
      const res = await anthropic.messages.create({ ...body, model: p.model, max_tokens: p.maxTokens, stream: false }, requestOptions(p));
      if (isAsyncIterable(res)) throw new TypeError('anthropic returned a stream for a non-streaming request');
      return { value: res, usage: fromAnthropicUsage(res.usage), usageSource: 'provider', responseId: res.id, sentMaxTokens: p.maxTokens };
    });
  }

  return { messages: { create } };
}
