import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
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
import { anthropicUsage, catalogNano, label, openaiUsage, RECORDS, type Billed } from './testing/billed-records.js';

/**
 * Every path a call's usage can reach the ledger by charges what the catalog's own calculation
 * (`calcPrice`) charges, to the nano-dollar. Each record is what the provider bills; each path
 * encodes it as that path really receives it (the provider's wire format, the `ai` SDK's
 * normalised usage, a Claude Code transcript line) and the daemon's engine prices the result.
 */

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
