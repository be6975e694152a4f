import { calcPrice } from '@pydantic/genai-prices';
import { usdToNano } from '../money.js';

/**
 * Realistic usage records across the catalogued models that matter (issue: exact money), shared
 * by every test that checks a path's price against the catalog's own calculation: each record
 * is what the provider bills, encoded per path as that path really receives it.
 */

export type Family = 'openai' | 'anthropic' | 'google';

/** One call as billed: `input` is fresh input only; `output` includes `reasoning`. */
export interface Billed {
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

export const RECORDS: readonly Billed[] = [
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
export function catalogNano(b: Billed): number {
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
export function openaiUsage(b: Billed): Record<string, unknown> {
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
export function anthropicUsage(b: Billed): Record<string, unknown> {
  return {
    input_tokens: b.input,
    output_tokens: b.output,
    cache_read_input_tokens: b.cacheRead,
    cache_creation_input_tokens: b.write5m + b.write1h,
    cache_creation: { ephemeral_5m_input_tokens: b.write5m, ephemeral_1h_input_tokens: b.write1h },
  };
}

export const label = (b: Billed): string =>
  `${b.model} in ${b.input} read ${b.cacheRead} write5m ${b.write5m} write1h ${b.write1h} out ${b.output} (reasoning ${b.reasoning})`;

