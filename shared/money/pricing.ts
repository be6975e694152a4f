import { createRequire } from 'node:module';

type GenaiPrices = typeof import('@pydantic/genai-prices');

/**
 * The catalog takes about 22 MB once loaded: it is loaded when a model is first priced, so a
 * process that prices nothing by model (a CLI command, a daemon whose agents send `cost_usd`)
 * never pays for it. Its CommonJS build, so pricing stays synchronous.
 */
let catalog: GenaiPrices | undefined;
function calcPrice(...args: Parameters<GenaiPrices['calcPrice']>): ReturnType<GenaiPrices['calcPrice']> {
  catalog ??= createRequire(import.meta.url)('@pydantic/genai-prices') as GenaiPrices;
  return catalog.calcPrice(...args);
}
import { mulDivCeil, usdToNano, type Nanousd } from './money.js';

/** Prices in nano-USD per million tokens, so a per-call cost is one integer division. */
export interface FlatPrice {
  readonly input_nano_per_mtok: number;
  readonly output_nano_per_mtok: number;
  readonly cache_read_nano_per_mtok: number;
  readonly cache_write_nano_per_mtok: number;
  /** 1-hour cache writes (Anthropic bills them at twice the input rate; 5-minute writes at 1.25×). */
  readonly cache_write_1h_nano_per_mtok: number;
}

/**
 * A model's price: the base rates, and long-context tiers as the catalog defines them — a call
 * whose total input (fresh + cache read + cache write) is above `above_input_tokens` pays that
 * tier's rates for every token of the call. A price is a function of the whole call.
 */
export interface ModelPrice extends FlatPrice {
  readonly tiers?: ReadonlyArray<{ readonly above_input_tokens: number; readonly price: FlatPrice }>;
}

/** USD per million tokens, as written in YAML. */
export interface PriceUsdPerMtok {
  readonly input: number;
  readonly output: number;
  readonly cache_read?: number | undefined;
  readonly cache_write?: number | undefined;
  readonly cache_write_1h?: number | undefined;
}

/** Token counts never overlap: input excludes cache reads and cache writes (SPEC §4). */
export interface TokenUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_tokens: number;
  /** 5-minute cache writes. */
  readonly cache_write_tokens: number;
  /** 1-hour cache writes, priced apart (never also counted in cache_write_tokens). */
  readonly cache_write_1h_tokens?: number | undefined;
}

export type PriceSource = 'override' | 'catalog' | 'default';

export interface ResolvedPrice {
  readonly price: ModelPrice;
  readonly source: PriceSource;
  /** Set when the model fell back to the default price. */
  readonly warning?: string;
}

const TOKENS_PER_MTOK = 1_000_000;

export function priceFromUsd(p: PriceUsdPerMtok): ModelPrice {
  return {
    input_nano_per_mtok: usdToNano(p.input),
    output_nano_per_mtok: usdToNano(p.output),
    // Without a stated cache price, cached tokens cost what fresh input costs: never cheaper than known.
    cache_read_nano_per_mtok: usdToNano(p.cache_read ?? p.input),
    cache_write_nano_per_mtok: usdToNano(p.cache_write ?? p.input),
    // Unstated: twice the input rate, what a 1-hour write costs where it exists.
    cache_write_1h_nano_per_mtok: usdToNano(p.cache_write_1h ?? p.input * 2),
  };
}

/** The flat rates a call with `totalInputTokens` of input (cache included) is charged at. */
export function priceAt(price: ModelPrice, totalInputTokens: number): FlatPrice {
  let flat: FlatPrice = price;
  for (const t of price.tiers ?? []) if (totalInputTokens > t.above_input_tokens) flat = t.price;
  return flat;
}

export function costOf(model: ModelPrice, usage: TokenUsage): Nanousd {
  const writes1h = usage.cache_write_1h_tokens ?? 0;
  const price = priceAt(model, usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens + writes1h);
  // One rounding per call (up), so a cost is never under-stated.
  const numerator =
    usage.input_tokens * price.input_nano_per_mtok +
    usage.output_tokens * price.output_nano_per_mtok +
    usage.cache_read_tokens * price.cache_read_nano_per_mtok +
    usage.cache_write_tokens * price.cache_write_nano_per_mtok +
    writes1h * price.cache_write_1h_nano_per_mtok;
  if (Number.isSafeInteger(numerator)) return Math.ceil(numerator / TOKENS_PER_MTOK);
  const big =
    BigInt(usage.input_tokens) * BigInt(price.input_nano_per_mtok) +
    BigInt(usage.output_tokens) * BigInt(price.output_nano_per_mtok) +
    BigInt(usage.cache_read_tokens) * BigInt(price.cache_read_nano_per_mtok) +
    BigInt(usage.cache_write_tokens) * BigInt(price.cache_write_nano_per_mtok) +
    BigInt(writes1h) * BigInt(price.cache_write_1h_nano_per_mtok);
  const d = BigInt(TOKENS_PER_MTOK);
  return Number((big + d - 1n) / d);
}

/** Cost of `tokens` output tokens alone, at flat rates (see `priceAt` for a tiered model). */
export function outputCostOf(price: FlatPrice, tokens: number): Nanousd {
  return mulDivCeil(tokens, price.output_nano_per_mtok, TOKENS_PER_MTOK);
}

type CatalogRate = number | { readonly base: number; readonly tiers: ReadonlyArray<{ readonly start: number; readonly price: number }> } | undefined;

/** The catalog's rate of one field for a call whose total input is above `start` (or the base). */
function rateAbove(rate: CatalogRate, start: number | null): number | undefined {
  if (rate === undefined || typeof rate === 'number') return rate;
  let r = rate.base;
  if (start !== null) for (const t of rate.tiers) if (t.start <= start) r = t.price;
  return r;
}

/**
 * The catalog's price of a model, base and every long-context tier, read from its own price
 * table (USD per million tokens, turned into integers once): the tier a call lands in is then
 * chosen per call from its whole input, as the catalog's calculation does.
 */
function catalogPrice(model: string): ModelPrice | undefined {
  let table: Record<string, unknown>;
  try {
    const r = calcPrice({ input_tokens: 0 }, model);
    if (!r) return undefined;
    table = r.model_price as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const field = (key: string): CatalogRate => table[key] as CatalogRate;
  const flat = (start: number | null): FlatPrice | undefined => {
    const input = rateAbove(field('input_mtok'), start);
    const output = rateAbove(field('output_mtok'), start);
    if (input === undefined || output === undefined) return undefined;
    const cacheWrite = rateAbove(field('cache_write_mtok'), start) ?? input;
    return priceFromUsd({ input, output, cache_read: rateAbove(field('cache_read_mtok'), start) ?? input, cache_write: cacheWrite, cache_write_1h: rateAbove(field('cache_write_1h_mtok'), start) });
  };
  const base = flat(null);
  if (!base) return undefined;
  const starts = new Set<number>();
  for (const key of ['input_mtok', 'output_mtok', 'cache_read_mtok', 'cache_write_mtok', 'cache_write_1h_mtok']) {
    const rate = field(key);
    if (rate !== undefined && typeof rate !== 'number') for (const t of rate.tiers) starts.add(t.start);
  }
  const tiers = [...starts].sort((a, b) => a - b).map((start) => ({ above_input_tokens: start, price: flat(start) ?? base }));
  return tiers.length > 0 ? { ...base, tiers } : base;
}

/**
 * The names a model may be priced under, most specific first: as sent, then without gateway
 * prefixes (`openai/gpt-4o`, `openrouter/anthropic/claude-sonnet-4-5`) and without an
 * `@`-version (`claude-sonnet-4-5@20250929`, as Vertex names them). Dated snapshots
 * (`gpt-4o-2024-08-06`) the catalog resolves itself.
 */
export function candidateNames(model: string): string[] {
  const out = [model];
  const add = (name: string): void => {
    if (name.length > 0 && !out.includes(name)) out.push(name);
  };
  const bare = model.slice(model.lastIndexOf('/') + 1);
  add(bare);
  const at = bare.indexOf('@');
  if (at > 0) add(bare.slice(0, at));
  return out;
}

function isFree(p: ModelPrice): boolean {
  return p.input_nano_per_mtok === 0 && p.output_nano_per_mtok === 0;
}

/**
 * Resolves a model to a price: YAML override, then the bundled catalog, then the configured
 * default. An override is taken as written (the config accepts a zero price only with
 * `free: true`); a model the catalog lists as free, or does not know, gets the default price and
 * a warning saying which — nothing passes free unless the operator said so.
 */
export class PriceBook {
  private readonly cache = new Map<string, ResolvedPrice>();
  private static readonly cacheLimit = 4096;

  constructor(
    private readonly defaultPrice: ModelPrice,
    private readonly overrides: ReadonlyMap<string, ModelPrice>,
  ) {}

  resolve(model: string | undefined): ResolvedPrice {
    if (model === undefined) {
      return { price: this.defaultPrice, source: 'default', warning: 'no model given: priced at the default price' };
    }
    const hit = this.cache.get(model);
    if (hit) return hit;
    const resolved = this.lookup(model);
    if (this.cache.size >= PriceBook.cacheLimit) this.cache.clear();
    this.cache.set(model, resolved);
    return resolved;
  }

  private lookup(model: string): ResolvedPrice {
    const names = candidateNames(model);
    const override = names.map((n) => this.overrides.get(n)).find((p) => p !== undefined);
    if (override) return { price: override, source: 'override' };
    const catalog = names.map((n) => catalogPrice(n)).find((p) => p !== undefined);
    if (catalog && !isFree(catalog)) return { price: catalog, source: 'catalog' };
    const warning = catalog
      ? `model ${model} is free in the catalog: priced at the default price (to accept it as free, set pricing.models.${model}.free: true)`
      : `model ${model} has no known price: priced at the default price (set its price under pricing.models.${model})`;
    return { price: this.defaultPrice, source: 'default', warning };
  }
}
