import { calcPrice } from '@pydantic/genai-prices';
import { mulDivCeil, usdToNano, type Nanousd } from './money.js';

/** Prices in nano-USD per million tokens, so a per-call cost is one integer division. */
export interface ModelPrice {
  readonly input_nano_per_mtok: number;
  readonly output_nano_per_mtok: number;
  readonly cache_read_nano_per_mtok: number;
  readonly cache_write_nano_per_mtok: number;
}

/** USD per million tokens, as written in YAML. */
export interface PriceUsdPerMtok {
  readonly input: number;
  readonly output: number;
  readonly cache_read?: number | undefined;
  readonly cache_write?: number | undefined;
}

/** Token counts never overlap: input excludes cache reads and cache writes (SPEC §4). */
export interface TokenUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_tokens: number;
  readonly cache_write_tokens: number;
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
  };
}

export function costOf(price: ModelPrice, usage: TokenUsage): Nanousd {
  // One rounding per call (up), so a cost is never under-stated.
  const numerator =
    usage.input_tokens * price.input_nano_per_mtok +
    usage.output_tokens * price.output_nano_per_mtok +
    usage.cache_read_tokens * price.cache_read_nano_per_mtok +
    usage.cache_write_tokens * price.cache_write_nano_per_mtok;
  if (Number.isSafeInteger(numerator)) return Math.ceil(numerator / TOKENS_PER_MTOK);
  const big =
    BigInt(usage.input_tokens) * BigInt(price.input_nano_per_mtok) +
    BigInt(usage.output_tokens) * BigInt(price.output_nano_per_mtok) +
    BigInt(usage.cache_read_tokens) * BigInt(price.cache_read_nano_per_mtok) +
    BigInt(usage.cache_write_tokens) * BigInt(price.cache_write_nano_per_mtok);
  const d = BigInt(TOKENS_PER_MTOK);
  return Number((big + d - 1n) / d);
}

/** Cost of `tokens` output tokens alone. */
export function outputCostOf(price: ModelPrice, tokens: number): Nanousd {
  return mulDivCeil(tokens, price.output_nano_per_mtok, TOKENS_PER_MTOK);
}

function catalogPrice(model: string): ModelPrice | undefined {
  const perMtok = (usage: Parameters<typeof calcPrice>[0]): number | undefined => {
    try {
      const r = calcPrice(usage, model);
      return r ? r.total_price : undefined;
    } catch {
      return undefined;
    }
  };
  const input = perMtok({ input_tokens: TOKENS_PER_MTOK });
  const output = perMtok({ output_tokens: TOKENS_PER_MTOK });
  if (input === undefined || output === undefined) return undefined;
  const cacheRead = perMtok({ input_tokens: TOKENS_PER_MTOK, cache_read_tokens: TOKENS_PER_MTOK });
  const cacheWrite = perMtok({ input_tokens: TOKENS_PER_MTOK, cache_write_tokens: TOKENS_PER_MTOK });
  return priceFromUsd({ input, output, cache_read: cacheRead ?? input, cache_write: cacheWrite ?? input });
}

function isZero(p: ModelPrice): boolean {
  return p.input_nano_per_mtok === 0 && p.output_nano_per_mtok === 0;
}

/**
 * Resolves a model to a price: YAML override, then the bundled catalog, then the configured
 * default. Unknown and zero-priced models get the default and a warning — they never pass free.
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
    const override = this.overrides.get(model);
    if (override && !isZero(override)) return { price: override, source: 'override' };
    const catalog = catalogPrice(model);
    if (catalog && !isZero(catalog)) return { price: catalog, source: 'catalog' };
    const why = override || catalog ? 'is priced at zero' : 'has no known price';
    return { price: this.defaultPrice, source: 'default', warning: `model ${model} ${why}: priced at the default price` };
  }
}
