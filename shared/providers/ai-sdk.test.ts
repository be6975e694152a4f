import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpendguardDeniedError, SpendguardKilledError } from '../client/errors.js';
import { waitUntil } from '../client/test-support/event-log.js';
import { spendguardMiddleware, type SpendguardMiddlewareOptions } from './ai-sdk.js';
import { fromAiUsage } from './ai-sdk-usage.js';
import { eventsOf, gate, startHarness, type Harness } from './testing/harness.js';
import { o200kTokenizer } from './tokens.js';

let h: Harness;
let held: ReturnType<typeof gate>;

beforeEach(async () => {
  h = await startHarness();
  held = gate();
});

afterEach(async () => {
  held.open();
  await h.close();
});

function model(modelId = 'gpt-4o', over: SpendguardMiddlewareOptions = {}) {
  const openai = createOpenAI({ apiKey: 'test', baseURL: h.provider.openaiBaseURL });
  return wrapLanguageModel({ model: openai.chat(modelId), middleware: spendguardMiddleware(h.client, { ...h.opts, ...over }) });
}

const TEXT = 'Three sub-agents finished; the fourth was refused at its cap.';

describe('spendguardMiddleware', () => {
  it('generate: clamps maxOutputTokens on the wire and commits usage with cached tokens subtracted', async () => {
    h.daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 90 });
    h.provider.reply = () => ({ id: 'chatcmpl-g', text: TEXT, usage: { input: 12, output: 11, cacheRead: 100 } });
    const r = await generateText({ model: model(), prompt: 'How did the fan-out go?', maxOutputTokens: 800 });
    expect(r.text).toBe(TEXT);
    expect(h.provider.requests[0]?.body).toMatchObject({ model: 'gpt-4o', max_tokens: 90 });
    expect(h.daemon.framesOf('reserve')[0]).toMatchObject({ model: 'gpt-4o', max_output_tokens: 800 });
    expect(h.daemon.framesOf('commit')).toEqual([
      expect.objectContaining({ key: 'resp-chatcmpl-g', input_tokens: 12, output_tokens: 11, cache_read_tokens: 100 }),
    ]);
  });

  it('stream: commits the finish part usage once the stream is consumed', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-st', text: TEXT, usage: { input: 12, output: 11 } });
    const result = streamText({ model: model(), prompt: 'How did the fan-out go?' });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    expect(text).toBe(TEXT);
    await waitUntil(() => h.daemon.framesOf('commit').length === 1);
    expect(h.daemon.framesOf('commit')[0]).toMatchObject({ key: 'resp-chatcmpl-st', input_tokens: 12, output_tokens: 11 });
  });

  it('a stream cut mid-way commits a tokenizer count of the received text', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-cut', text: TEXT, usage: { input: 12, output: 11 }, cutAfterDeltas: 3 });
    const result = streamText({ model: model(), prompt: 'How did the fan-out go?' });
    let text = '';
    await expect(
      (async () => {
        for await (const part of result.fullStream) if (part.type === 'text-delta') text += part.text;
      })(),
    ).rejects.toThrow();
    await waitUntil(() => h.daemon.framesOf('commit').length === 1);
    const estimate = eventsOf(h.events, 'reserved')[0]?.input_tokens;
    expect(h.daemon.framesOf('commit')[0]).toMatchObject({ key: 'resp-chatcmpl-cut', input_tokens: estimate, output_tokens: o200kTokenizer.count(text) });
  });

  it('a kill mid-stream aborts the request and ends the stream with SpendguardKilledError', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-k', text: TEXT, usage: { input: 12, output: 11 }, hold: held.promise });
    const errors: unknown[] = [];
    const result = streamText({ model: model(), prompt: 'go', onError: ({ error }) => void errors.push(error) });
    const consumed = (async () => {
      for await (const part of result.fullStream) if (part.type === 'error') errors.push(part.error);
    })().catch((e: unknown) => errors.push(e));
    await h.provider.waitForRequests(1);
    await waitUntil(() => eventsOf(h.events, 'reserved').length === 1);
    h.daemon.kill('task:t-1', 'runaway');
    await consumed;
    expect(errors.some((e) => e instanceof SpendguardKilledError)).toBe(true);
    await waitUntil(() => h.provider.requests[0]?.closedEarly === true);
    expect(h.daemon.framesOf('commit')).toHaveLength(1);
  });

  it('a denied call never reaches the provider', async () => {
    h.daemon.onReserve = () => ({ kind: 'deny', code: 'BUDGET_EXCEEDED' });
    await expect(generateText({ model: model(), prompt: 'x', maxRetries: 0 })).rejects.toBeInstanceOf(SpendguardDeniedError);
    expect(h.provider.requests).toHaveLength(0);
  });

  it('calls suggested_model only through the opt-in resolver', async () => {
    h.daemon.onReserve = () => ({ kind: 'grant', suggested_model: 'gpt-4o-mini' });
    const openai = createOpenAI({ apiKey: 'test', baseURL: h.provider.openaiBaseURL });
    await generateText({ model: model(), prompt: 'x' });
    await generateText({ model: model('gpt-4o', { applySuggestedModel: (id) => openai.chat(id) }), prompt: 'x' });
    expect(h.provider.requests.map((r) => r.body.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(h.daemon.framesOf('commit').map((c) => c.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });
});

describe('fromAiUsage', () => {
  const usage = { inputTokens: 1000, outputTokens: 50, totalTokens: 1050, cachedInputTokens: 800 };

  it('subtracts cached tokens for providers that include them (OpenAI), with cache writes from metadata', () => {
    expect(fromAiUsage(usage, { openai: { usage: { cacheWriteTokens: 100 } } }, true)).toEqual({
      input_tokens: 100,
      output_tokens: 50,
      cache_read_tokens: 800,
      cache_write_tokens: 100,
    });
  });

  it('keeps inputTokens as is for Anthropic, whose input excludes cache', () => {
    expect(fromAiUsage({ ...usage, inputTokens: 20 }, { anthropic: { cacheCreationInputTokens: 300 } }, false)).toEqual({
      input_tokens: 20,
      output_tokens: 50,
      cache_read_tokens: 800,
      cache_write_tokens: 300,
    });
  });

  it('adds reasoning tokens only where the provider reports them beside the output (Gemini), not inside it (OpenAI)', () => {
    const google = { inputTokens: 100, outputTokens: 40, totalTokens: 200, reasoningTokens: 60 };
    expect(fromAiUsage(google, undefined, true)?.output_tokens).toBe(100);
    const openai = { inputTokens: 100, outputTokens: 100, totalTokens: 200, reasoningTokens: 60 };
    expect(fromAiUsage(openai, undefined, true)?.output_tokens).toBe(100);
    // No total reported: the provider decides.
    const bare = { inputTokens: 100, outputTokens: 40, totalTokens: undefined, reasoningTokens: 60 };
    expect(fromAiUsage(bare, undefined, true, 'google.vertex.chat')?.output_tokens).toBe(100);
    expect(fromAiUsage(bare, undefined, true, 'openai.responses')?.output_tokens).toBe(40);
  });

  it('is undefined when the provider reported nothing', () => {
    expect(fromAiUsage({ inputTokens: undefined, outputTokens: undefined, totalTokens: undefined }, undefined, true)).toBeUndefined();
  });
});
