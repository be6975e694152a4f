import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { calcPrice } from '@pydantic/genai-prices';
import { generateText, wrapLanguageModel } from 'ai';
import { MockLanguageModelV2 } from 'ai/test';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineDriver } from '../../daemon/engine/testing.js';
import { parseTranscriptLine } from '../claude-code/transcript.js';
import type { Commit } from '../protocol/agent.js';
import { spendguardMiddleware } from '../providers/ai-sdk.js';
import { wrapAnthropic } from '../providers/anthropic.js';
import { wrapOpenAI } from '../providers/openai.js';
import { startHarness, type Harness } from '../providers/testing/harness.js';
import { usdToNano } from './money.js';

/**
 * Every path a call's usage can reach the ledger by charges what the catalog's own calculation
 * (`calcPrice`) charges, to the nano-dollar. Each record is what the provider bills; each path
 * encodes it as that path really receives it (the provider's wire format, the `ai` SDK's
 * normalised usage, a Claude Code transcript line) and the daemon's engine prices the result.
 */

type Family = 'openai' | 'anthropic' | 'google';

/** One call as billed: `input` is fresh input only; `output` includes `reasoning`. */
interface Billed {
  model: string;
  family: Family;
  input: number;
  cacheRead: number;
  write5m: number;
  write1h: number;
  output: number;
  reasoning: number;
}

const bill = (model: string, family: Family, u: Partial<Omit<Billed, 'model' | 'family'>>): Billed => ({
  model,
  family,
  input: 0,
  cacheRead: 0,
  write5m: 0,
  write1h: 0,
  output: 0,
  reasoning: 0,
  ...u,
});

const RECORDS: readonly Billed[] = [
  bill('gpt-4o', 'openai', { input: 1_000, cacheRead: 4_000, output: 500 }),
  bill('gpt-4o', 'openai', { input: 30_000, output: 2_000 }),
  bill('gpt-4o-mini', 'openai', { input: 12_345, cacheRead: 2_048, output: 678 }),
  bill('gpt-4.1', 'openai', { input: 80_000, cacheRead: 20_000, output: 3_000 }),
  bill('o3', 'openai', { input: 5_000, cacheRead: 1_024, output: 8_000, reasoning: 6_000 }),
  bill('o4-mini', 'openai', { input: 2_000, output: 12_000, reasoning: 11_000 }),
  bill('claude-sonnet-4-5', 'anthropic', { input: 2_000, cacheRead: 30_000, write5m: 5_000, output: 1_200 }),
  bill('claude-sonnet-4-5', 'anthropic', { input: 150_000, cacheRead: 60_000, output: 800 }),
  bill('claude-sonnet-4-5', 'anthropic', { input: 3_000, write5m: 2_000, write1h: 10_000, output: 900 }),
  bill('claude-sonnet-4-5', 'anthropic', { input: 180_000, cacheRead: 10_000, write1h: 20_000, output: 500 }),
  bill('claude-opus-4-1', 'anthropic', { input: 2_000, write1h: 10_000, output: 500 }),
  bill('claude-opus-4-1', 'anthropic', { input: 4_000, cacheRead: 50_000, write5m: 3_000, output: 2_000 }),
  bill('claude-haiku-4-5', 'anthropic', { input: 8_000, cacheRead: 20_000, write5m: 4_000, write1h: 1_000, output: 700 }),
  bill('gemini-2.5-pro', 'google', { input: 50_000, output: 5_000, reasoning: 3_000 }),
  bill('gemini-2.5-pro', 'google', { input: 300_000, cacheRead: 40_000, output: 5_500, reasoning: 4_000 }),
  bill('gemini-2.5-flash', 'google', { input: 20_000, cacheRead: 5_000, output: 2_000, reasoning: 1_200 }),
  bill('gemini-2.5-flash', 'google', { input: 1_000, output: 300 }),
];

/** The catalog's price: its `input_tokens` include cache tokens, `cache_write_tokens` both kinds of write. */
function catalogNano(b: Billed): number {
  const r = calcPrice(
    {
      input_tokens: b.input + b.cacheRead + b.write5m + b.write1h,
      cache_read_tokens: b.cacheRead,
      cache_write_tokens: b.write5m + b.write1h,
      cache_write_1h_tokens: b.write1h,
      output_tokens: b.output,
    },
    b.model,
  );
  if (!r) throw new Error(`no catalog price for ${b.model}`);
  return usdToNano(r.total_price);
}

/** OpenAI's usage object: prompt includes cached tokens, completion includes reasoning. */
function openaiUsage(b: Billed): Record<string, unknown> {
  const prompt = b.input + b.cacheRead;
  return {
    prompt_tokens: prompt,
    completion_tokens: b.output,
    total_tokens: prompt + b.output,
    prompt_tokens_details: { cached_tokens: b.cacheRead },
    completion_tokens_details: { reasoning_tokens: b.reasoning },
  };
}

/** Anthropic's usage object: input excludes the cache; cache_creation splits writes by lifetime. */
function anthropicUsage(b: Billed): Record<string, unknown> {
  return {
    input_tokens: b.input,
    output_tokens: b.output,
    cache_read_input_tokens: b.cacheRead,
    cache_creation_input_tokens: b.write5m + b.write1h,
    cache_creation: { ephemeral_5m_input_tokens: b.write5m, ephemeral_1h_input_tokens: b.write1h },
  };
}

/**
 * What `@ai-sdk/anthropic` 2.x and `@ai-sdk/google` 2.x hand the middleware (neither is a
 * dependency here). Google: `inputTokens` is promptTokenCount (cache included), `outputTokens`
 * candidatesTokenCount (thoughts excluded), `reasoningTokens` thoughtsTokenCount, and the total
 * counts all three.
 */
function aiSdkResult(b: Billed): { provider: string; usage: Record<string, number>; providerMetadata: Record<string, Record<string, unknown>> } {
  if (b.family === 'anthropic') {
    return {
      provider: 'anthropic.messages',
      usage: { inputTokens: b.input, outputTokens: b.output, totalTokens: b.input + b.output, cachedInputTokens: b.cacheRead },
      providerMetadata: { anthropic: { usage: anthropicUsage(b), cacheCreationInputTokens: b.write5m + b.write1h } },
    };
  }
  const prompt = b.input + b.cacheRead;
  const candidates = b.output - b.reasoning;
  return {
    provider: 'google.generative-ai',
    usage: { inputTokens: prompt, outputTokens: candidates, totalTokens: prompt + candidates + b.reasoning, reasoningTokens: b.reasoning, cachedInputTokens: b.cacheRead },
    providerMetadata: { google: { usageMetadata: { promptTokenCount: prompt, candidatesTokenCount: candidates, thoughtsTokenCount: b.reasoning, cachedContentTokenCount: b.cacheRead } } },
  };
}

/** The cost the daemon's engine records for one `spend` carrying these usage fields. */
function ledgerNano(model: string, usage: Pick<Commit, 'input_tokens' | 'output_tokens' | 'cache_read_tokens' | 'cache_write_tokens' | 'cache_write_1h_tokens'>): number {
  const d = new EngineDriver({});
  const c = d.connect({ agent: 'a', session: 's', task: 't' });
  const { input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens } = usage;
  const ack = d.request(c, {
    type: 'spend',
    id: 'sp',
    key: 'k',
    model,
    input_tokens,
    output_tokens,
    ...(cache_read_tokens === undefined ? {} : { cache_read_tokens }),
    ...(cache_write_tokens === undefined ? {} : { cache_write_tokens }),
    ...(cache_write_1h_tokens === undefined ? {} : { cache_write_1h_tokens }),
  });
  if (ack.type !== 'ack') throw new Error(JSON.stringify(ack));
  const row = d.ledger.at(-1);
  if (!row) throw new Error('no ledger row');
  return row.cost_nano;
}

function lastCommit(h: Harness): Commit {
  const frame = h.daemon.framesOf('commit').at(-1);
  if (!frame) throw new Error('the wrapper sent no commit');
  return frame;
}

const label = (b: Billed): string =>
  `${b.model} in ${b.input} read ${b.cacheRead} write5m ${b.write5m} write1h ${b.write1h} out ${b.output} (reasoning ${b.reasoning})`;

describe('priced as billed, on every path (catalog calcPrice = ledger, to the nano-dollar)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('covers the acceptance set: ≥ 15 records, both tiers of the tiered models, both cache-write lifetimes, reasoning', () => {
    expect(RECORDS.length).toBeGreaterThanOrEqual(15);
    const total = (b: Billed): number => b.input + b.cacheRead + b.write5m + b.write1h;
    for (const model of ['claude-sonnet-4-5', 'gemini-2.5-pro']) {
      expect(RECORDS.some((b) => b.model === model && total(b) > 200_000)).toBe(true);
      expect(RECORDS.some((b) => b.model === model && total(b) <= 200_000)).toBe(true);
    }
    expect(RECORDS.some((b) => b.model === 'claude-sonnet-4-5' && b.write5m > 0)).toBe(true);
    expect(RECORDS.some((b) => b.model === 'claude-sonnet-4-5' && b.write1h > 0)).toBe(true);
    expect(RECORDS.filter((b) => b.reasoning > 0).map((b) => b.model)).toEqual(expect.arrayContaining(['o3', 'o4-mini', 'gemini-2.5-pro']));
  });

  it.each(RECORDS.map((b) => [label(b), b] as const))('agent spend: %s', (_, b) => {
    const usage = {
      input_tokens: b.input,
      output_tokens: b.output,
      cache_read_tokens: b.cacheRead,
      cache_write_tokens: b.write5m,
      cache_write_1h_tokens: b.write1h,
    };
    expect(ledgerNano(b.model, usage)).toBe(catalogNano(b));
  });

  it.each(RECORDS.filter((b) => b.family === 'openai').map((b) => [label(b), b] as const))('openai wrapper, over HTTP: %s', async (_, b) => {
    h.provider.reply = () => ({ id: 'chatcmpl-p', text: 'ok', usage: { input: 0, output: 0 }, rawUsage: openaiUsage(b) });
    const client = wrapOpenAI(new OpenAI({ apiKey: 'test', baseURL: h.provider.openaiBaseURL }), h.client, h.opts);
    await client.chat.completions.create({ model: b.model, messages: [{ role: 'user', content: 'price me' }], max_completion_tokens: 20_000 });
    expect(ledgerNano(b.model, lastCommit(h))).toBe(catalogNano(b));
  });

  it.each(RECORDS.filter((b) => b.family === 'anthropic').map((b) => [label(b), b] as const))('anthropic wrapper, over HTTP: %s', async (_, b) => {
    h.provider.reply = () => ({ id: 'msg_p', text: 'ok', usage: { input: 0, output: 0 }, rawUsage: anthropicUsage(b) });
    const client = wrapAnthropic(new Anthropic({ apiKey: 'test', baseURL: h.provider.anthropicBaseURL }), h.client, h.opts);
    await client.messages.create({ model: b.model, max_tokens: 4_000, messages: [{ role: 'user', content: 'price me' }] });
    expect(ledgerNano(b.model, lastCommit(h))).toBe(catalogNano(b));
  });

  it.each(RECORDS.filter((b) => b.family === 'openai').map((b) => [label(b), b] as const))('ai SDK + @ai-sdk/openai, over HTTP (reasoning not counted twice): %s', async (_, b) => {
    h.provider.reply = () => ({ id: 'chatcmpl-a', text: 'ok', usage: { input: 0, output: 0 }, rawUsage: openaiUsage(b) });
    const openai = createOpenAI({ apiKey: 'test', baseURL: h.provider.openaiBaseURL });
    await generateText({ model: wrapLanguageModel({ model: openai.chat(b.model), middleware: spendguardMiddleware(h.client, h.opts) }), prompt: 'price me' });
    expect(ledgerNano(b.model, lastCommit(h))).toBe(catalogNano(b));
  });

  it.each(RECORDS.filter((b) => b.family !== 'openai').map((b) => [label(b), b] as const))('ai SDK, Anthropic and Google usage (thinking billed as output): %s', async (_, b) => {
    const reported = aiSdkResult(b);
    const model = new MockLanguageModelV2({
      provider: reported.provider,
      modelId: b.model,
      doGenerate: async () => ({
        content: [{ type: 'text', text: 'ok' }],
        finishReason: 'stop',
        usage: reported.usage as { inputTokens: number; outputTokens: number; totalTokens: number },
        providerMetadata: reported.providerMetadata as Record<string, Record<string, never>>,
        warnings: [],
      }),
    });
    await generateText({ model: wrapLanguageModel({ model, middleware: spendguardMiddleware(h.client, h.opts) }), prompt: 'price me' });
    expect(ledgerNano(b.model, lastCommit(h))).toBe(catalogNano(b));
  });

  it.each(RECORDS.filter((b) => b.family === 'anthropic').map((b) => [label(b), b] as const))('Claude Code transcript reader: %s', (_, b) => {
    const line = parseTranscriptLine(
      JSON.stringify({ type: 'assistant', sessionId: 's', requestId: 'req_1', message: { id: 'msg_t', model: b.model, stop_reason: 'end_turn', usage: anthropicUsage(b) } }),
    );
    if (line.kind !== 'usage') throw new Error(JSON.stringify(line));
    expect(ledgerNano(b.model, line.line.usage)).toBe(catalogNano(b));
  });
});
