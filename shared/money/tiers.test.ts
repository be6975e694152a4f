import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { EngineDriver } from '../../daemon/engine/testing.js';
import { usdToNano } from './money.js';
import { parseTranscriptLine } from '../claude-code/transcript.js';
import { fromAnthropicUsage } from '../providers/anthropic-usage.js';
import { costOf, PriceBook, priceFromUsd, type TokenUsage } from './pricing.js';

/**
 * Long-context tiers (issue: Sonnet calls priced 65 % high): a call is priced as a whole, at the
 * tier its total input lands in, exactly as the catalog's own calculation does.
 */

const book = new PriceBook(priceFromUsd({ input: 1, output: 4 }), new Map());

/** The catalog's own price of one call, in nano-USD (its input_tokens include cache tokens). */
function catalogNano(model: string, u: TokenUsage): number {
  const r = calcPrice({ input_tokens: u.input_tokens + u.cache_read_tokens + u.cache_write_tokens, cache_read_tokens: u.cache_read_tokens, cache_write_tokens: u.cache_write_tokens, output_tokens: u.output_tokens }, model);
  if (!r) throw new Error(`no catalog price for ${model}`);
  return usdToNano(r.total_price);
}

const CALLS: ReadonlyArray<[string, TokenUsage]> = [
  ['claude-sonnet-4-5', { input_tokens: 2_000, cache_read_tokens: 30_000, cache_write_tokens: 5_000, output_tokens: 1_200 }],
  ['claude-sonnet-4-5', { input_tokens: 250_000, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 1_000 }],
  ['claude-sonnet-4-5', { input_tokens: 150_000, cache_read_tokens: 60_000, cache_write_tokens: 0, output_tokens: 800 }],
  ['claude-sonnet-4-5', { input_tokens: 200_000, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 10 }],
  ['gemini-2.5-pro', { input_tokens: 50_000, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 2_000 }],
  ['gemini-2.5-pro', { input_tokens: 300_000, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 2_000 }],
  ['gpt-4o', { input_tokens: 1_000, cache_read_tokens: 4_000, cache_write_tokens: 0, output_tokens: 500 }],
  ['gpt-4o-mini', { input_tokens: 12_345, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 678 }],
];

describe('pricing: long-context tiers', () => {
  it.each(CALLS)('%s %o costs what the catalog computes, to the nano-dollar', (model, usage) => {
    expect(costOf(book.resolve(model).price, usage)).toBe(catalogNano(model, usage));
  });

  it('an ordinary Claude Code call on claude-sonnet-4-5 costs $0.05175 (it was charged $0.0855); a 250k-input one pays the long-context rates on every token', () => {
    const price = book.resolve('claude-sonnet-4-5').price;
    expect(costOf(price, { input_tokens: 2_000, cache_read_tokens: 30_000, cache_write_tokens: 5_000, output_tokens: 1_200 })).toBe(51_750_000);
    expect(costOf(price, { input_tokens: 250_000, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 1_000 })).toBe(1_522_500_000);
  });

  it('a reservation is priced at the tier its own input lands in, and is never below what the call is then charged', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 100, mode: 'hard' } } });
    const c = d.connect({ agent: 'a', session: 's', task: 't' });
    const small = d.request(c, { type: 'reserve', id: 'r1', model: 'claude-sonnet-4-5', input_tokens: 10_000, max_output_tokens: 1_000 });
    expect(small).toMatchObject({ type: 'grant', cost_usd: 0.045 });
    for (const input of [199_000, 200_000, 200_001, 250_000, 400_000]) {
      const g = d.request(c, { type: 'reserve', id: `big-${input}`, model: 'claude-sonnet-4-5', input_tokens: input, max_output_tokens: 4_000 });
      if (g.type !== 'grant') throw new Error(JSON.stringify(g));
      const charged = catalogNano('claude-sonnet-4-5', { input_tokens: input, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: g.max_output_tokens });
      expect(usdToNano(g.cost_usd), `input ${input}`).toBeGreaterThanOrEqual(charged);
      const ack = d.request(c, { type: 'commit', id: `c-${input}`, reservation: g.reservation, model: 'claude-sonnet-4-5', input_tokens: input, output_tokens: g.max_output_tokens });
      expect(ack).toMatchObject({ type: 'ack', cost_usd: g.cost_usd });
    }
  });
});

describe('pricing: model names as gateways and clouds send them', () => {
  it.each([
    ['openai/gpt-4o', 'gpt-4o'],
    ['anthropic/claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['openrouter/anthropic/claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-5@20250929', 'claude-sonnet-4-5'],
    ['google/gemini-2.5-pro', 'gemini-2.5-pro'],
  ])('%s is priced as %s, with no default-price warning', (sent, catalogued) => {
    const resolved = book.resolve(sent);
    expect(resolved.source).toBe('catalog');
    expect(resolved.warning).toBeUndefined();
    expect(resolved.price).toEqual(book.resolve(catalogued).price);
  });

  it('a name that still resolves to nothing gets the default price and the warning', () => {
    expect(book.resolve('acme/unknown-model-9')).toMatchObject({ source: 'default', warning: expect.stringContaining('no known price') });
  });
});

describe('pricing: 1-hour cache writes', () => {
  /** Anthropic's own usage object for one call: 2k fresh input, 10k written to the 1-hour cache, 3k to the 5-minute one. */
  const anthropicUsage = { input_tokens: 2_000, output_tokens: 500, cache_read_input_tokens: 0, cache_creation_input_tokens: 13_000, cache_creation: { ephemeral_5m_input_tokens: 3_000, ephemeral_1h_input_tokens: 10_000 } };
  const catalog = (model: string): number => {
    const r = calcPrice({ input_tokens: 15_000, output_tokens: 500, cache_write_tokens: 13_000, cache_write_1h_tokens: 10_000 }, model);
    if (!r) throw new Error(model);
    return usdToNano(r.total_price);
  };

  it.each(['claude-opus-4-1', 'claude-sonnet-4-5', 'claude-haiku-4-5'])('%s: the wrapper, the transcript reader and an agent spend all charge what the catalog does', (model) => {
    const fromWrapper = fromAnthropicUsage(anthropicUsage);
    expect(fromWrapper).toMatchObject({ cache_write_tokens: 3_000, cache_write_1h_tokens: 10_000 });
    const line = parseTranscriptLine(JSON.stringify({ type: 'assistant', sessionId: 's', requestId: 'q', message: { id: 'm1', model, stop_reason: 'end_turn', usage: anthropicUsage } }));
    if (line.kind !== 'usage') throw new Error(JSON.stringify(line));
    expect(line.line.usage).toMatchObject({ cache_write_tokens: 3_000, cache_write_1h_tokens: 10_000 });
    const d = new EngineDriver({});
    const c = d.connect({ agent: 'a', session: 's', task: 't' });
    const ack = d.request(c, { type: 'spend', id: 's', key: `k-${model}`, model, ...line.line.usage });
    expect(ack).toMatchObject({ type: 'ack' });
    expect(d.ledger.at(-1)?.cost_nano).toBe(catalog(model));
    expect(costOf(book.resolve(model).price, { ...fromWrapper, cache_read_tokens: 0, cache_write_tokens: fromWrapper.cache_write_tokens ?? 0 })).toBe(catalog(model));
  });
});
