import type { LanguageModelMiddleware } from 'ai';
import type { GuardCallParams, GuardClient } from '../client/guard.js';
import {
  AiStreamMeter,
  contentText,
  defaultInputIncludesCached,
  estimateAiInput,
  fromAiUsage,
  type CallOptions,
  type GenerateResult,
  type InputIncludesCached,
  type LanguageModel,
  type StreamPart,
  type StreamResult,
} from './ai-sdk-usage.js';
import { guardedCall } from './guarded-call.js';
import { guardedStream } from './guarded-stream.js';
import { DEFAULT_MAX_OUTPUT_TOKENS, type CallSpec, type WrapperOptions } from './options.js';
import { o200kTokenizer } from './tokens.js';

export interface SpendguardMiddlewareOptions extends Omit<WrapperOptions, 'applySuggestedModel'> {
  /**
   * Opt in to the daemon's `suggested_model`: return the model to call for that id, e.g.
   * `(id) => openai.chat(id)`. Without it the requested model is always called.
   */
  applySuggestedModel?: (modelId: string) => LanguageModel;
  /** Default: every provider except Anthropic counts cached tokens inside `inputTokens`. */
  inputIncludesCached?: InputIncludesCached;
}

/**
 * Middleware for `ai`'s `wrapLanguageModel({ model, middleware })`: every generate and stream
 * call reserves, waits `delay_ms`, runs with `maxOutputTokens` clamped by the grant and the kill
 * signal attached, and commits the provider's usage keyed by the response id. `ai` already
 * retries failed calls through the middleware (each under a new reservation), so spendguard's
 * own retries default to none here.
 */
export function spendguardMiddleware(client: GuardClient, opts: SpendguardMiddlewareOptions = {}): LanguageModelMiddleware {
  const tokenizer = opts.tokenizer ?? o200kTokenizer;
  const { applySuggestedModel: resolveModel, inputIncludesCached, ...rest } = opts;
  const includesCached = inputIncludesCached ?? defaultInputIncludesCached;
  const wrapperOpts: WrapperOptions = { ...rest, maxRetries: rest.maxRetries ?? 0, applySuggestedModel: resolveModel !== undefined };

  const specOf = (model: LanguageModel, params: CallOptions): CallSpec => ({
    provider: 'ai-sdk',
    model: model.modelId,
    inputTokens: estimateAiInput(params, tokenizer),
    maxOutputTokens: params.maxOutputTokens ?? opts.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
    signal: params.abortSignal,
  });
  const targetOf = (model: LanguageModel, p: GuardCallParams): LanguageModel =>
    p.model === model.modelId || resolveModel === undefined ? model : resolveModel(p.model);
  const clamped = (params: CallOptions, p: GuardCallParams): CallOptions => ({ ...params, maxOutputTokens: p.maxTokens, abortSignal: p.signal });

  return {
    middlewareVersion: 'v2',
    wrapGenerate: ({ params, model }) => {
      const spec = specOf(model, params);
      return guardedCall(client, spec, wrapperOpts, async (p) => {
        const target = targetOf(model, p);
        const res: GenerateResult = await target.doGenerate(clamped(params, p));
        const reported = fromAiUsage(res.usage, res.providerMetadata, includesCached(target.provider), target.provider);
        const usage = reported ?? { input_tokens: spec.inputTokens, output_tokens: tokenizer.count(contentText(res.content)) };
        return { value: res, usage, usageSource: reported ? 'provider' : 'tokenizer', responseId: res.response?.id, sentMaxTokens: p.maxTokens };
      });
    },
    wrapStream: async ({ params, model }) => {
      const spec = specOf(model, params);
      let opened: StreamResult | undefined;
      let provider = model.provider;
      const stream = await guardedStream(
        client,
        spec,
        wrapperOpts,
        async (p) => {
          const target = targetOf(model, p);
          provider = target.provider;
          opened = await target.doStream(clamped(params, p));
          return { source: readAll(opened.stream), sentMaxTokens: p.maxTokens };
        },
        () => new AiStreamMeter(spec.inputTokens, tokenizer, includesCached(provider), provider),
      );
      if (!opened) throw new Error('unreachable: stream handed over before it was opened');
      return { ...opened, stream: toReadable(stream) };
    },
  };
}

/** A web stream as an async iterable that cancels the source (and so the HTTP request) when left early. */
async function* readAll<T>(stream: ReadableStream<T>): AsyncGenerator<T, void, undefined> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function toReadable(parts: AsyncIterable<StreamPart>): ReadableStream<StreamPart> {
  const it = parts[Symbol.asyncIterator]();
  return new ReadableStream<StreamPart>({
    async pull(controller) {
      try {
        const next = await it.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel() {
      await it.return?.();
    },
  });
}
