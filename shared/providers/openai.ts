import type { OpenAI } from 'openai';
import type { GuardCallParams, GuardClient } from '../client/guard.js';
import { guardedCall, type Settled } from './guarded-call.js';
import { guardedStream, isAsyncIterable, type GuardedStream } from './guarded-stream.js';
import { DEFAULT_MAX_OUTPUT_TOKENS, type CallSpec, type WrapperOptions } from './options.js';
import { completionText, estimateOpenAIInput, fromOpenAIUsage, OpenAIStreamMeter } from './openai-usage.js';
import { o200kTokenizer } from './tokens.js';

type Body = OpenAI.ChatCompletionCreateParams;
type NonStreaming = OpenAI.ChatCompletionCreateParamsNonStreaming;
type Streaming = OpenAI.ChatCompletionCreateParamsStreaming;
type Chunk = OpenAI.ChatCompletionChunk;
type RequestOptions = OpenAI.RequestOptions;

/** The part of an `openai` client the wrapper calls; structural, so spendguard needs no `openai` at runtime. */
export interface OpenAILike {
  chat: {
    completions: {
      create(body: Body, options?: RequestOptions): PromiseLike<OpenAI.ChatCompletion | AsyncIterable<Chunk>>;
    };
  };
}

export interface GuardedChatCompletions {
  create(body: NonStreaming, options?: RequestOptions): Promise<OpenAI.ChatCompletion>;
  /** Chunks pass through unchanged; usage is committed when iteration ends (completed, cut, aborted or killed). */
  create(body: Streaming, options?: RequestOptions): Promise<GuardedStream<Chunk>>;
  create(body: Body, options?: RequestOptions): Promise<OpenAI.ChatCompletion | GuardedStream<Chunk>>;
}

export interface GuardedOpenAI {
  chat: { completions: GuardedChatCompletions };
}

export interface OpenAIWrapperOptions extends WrapperOptions {
  /**
   * Which request field carries the clamp. Default: the one the request already uses, else
   * `max_completion_tokens` (`max_tokens` is deprecated and refused by reasoning models).
   */
  maxTokensField?: 'max_completion_tokens' | 'max_tokens';
}

/**
 * `chat.completions.create` under spendguard: reserve (input counted with a tokenizer, output
 * clamped by the grant), wait `delay_ms`, call, commit the reported usage keyed by the response
 * id. Retries of transient failures are spendguard's, each under a new reservation, so the
 * SDK's own retries are turned off per request.
 */
export function wrapOpenAI(openai: OpenAILike, client: GuardClient, opts: OpenAIWrapperOptions = {}): GuardedOpenAI {
  const tokenizer = opts.tokenizer ?? o200kTokenizer;

  function create(body: NonStreaming, options?: RequestOptions): Promise<OpenAI.ChatCompletion>;
  function create(body: Streaming, options?: RequestOptions): Promise<GuardedStream<Chunk>>;
  function create(body: Body, options?: RequestOptions): Promise<OpenAI.ChatCompletion | GuardedStream<Chunk>>;
  function create(body: Body, options: RequestOptions = {}): Promise<OpenAI.ChatCompletion | GuardedStream<Chunk>> {
    const choices = Math.max(1, body.n ?? 1);
    const requested = body.max_completion_tokens ?? body.max_tokens ?? opts.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
    const spec: CallSpec = {
      provider: 'openai',
      model: body.model,
      inputTokens: estimateOpenAIInput(body, tokenizer),
      // Each of the n choices may use the full max_tokens.
      maxOutputTokens: requested * choices,
      signal: options.signal ?? undefined,
    };
    const requestOptions = (p: GuardCallParams): RequestOptions => ({ ...options, signal: p.signal, maxRetries: 0 });

    if (body.stream === true) {
      return guardedStream(
        client,
        spec,
        opts,
        async (p) => {
          const { request, sentMaxTokens } = clamp(body, p, choices, opts.maxTokensField);
          const streaming: Streaming = { ...request, stream: true, stream_options: { ...body.stream_options, include_usage: true } };
          const source = await openai.chat.completions.create(streaming, requestOptions(p));
          return { source: asChunks(source), sentMaxTokens };
        },
        () => new OpenAIStreamMeter(spec.inputTokens, tokenizer),
      );
    }
    return guardedCall(client, spec, opts, async (p): Promise<Settled<OpenAI.ChatCompletion>> => {
      const { request, sentMaxTokens } = clamp(body, p, choices, opts.maxTokensField);
      const res = await openai.chat.completions.create({ ...request, stream: false }, requestOptions(p));
      if (isAsyncIterable(res)) throw new TypeError('openai returned a stream for a non-streaming request');
      const usage = res.usage
        ? fromOpenAIUsage(res.usage)
        : { input_tokens: spec.inputTokens, output_tokens: tokenizer.count(completionText(res)) };
      return { value: res, usage, usageSource: res.usage ? 'provider' : 'tokenizer', responseId: res.id, sentMaxTokens };
    });
  }

  return { chat: { completions: { create } } };
}

/** The request as sent: the granted model and the clamp, split evenly over `n` choices. */
function clamp(
  body: Body,
  p: GuardCallParams,
  choices: number,
  field: OpenAIWrapperOptions['maxTokensField'],
): { request: Body; sentMaxTokens: number } {
  const perChoice = Math.max(1, Math.floor(p.maxTokens / choices));
  const { max_tokens, max_completion_tokens, ...rest } = body;
  const useLegacy = field === 'max_tokens' || (field === undefined && max_tokens != null && max_completion_tokens == null);
  const request: Body = useLegacy
    ? { ...rest, model: p.model, max_tokens: perChoice }
    : { ...rest, model: p.model, max_completion_tokens: perChoice };
  return { request, sentMaxTokens: perChoice * choices };
}

function asChunks(value: OpenAI.ChatCompletion | AsyncIterable<Chunk>): AsyncIterable<Chunk> {
  if (!isAsyncIterable(value)) throw new TypeError('openai returned a completion for a streaming request');
  return value;
}
