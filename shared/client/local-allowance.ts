import { mulDivFloor, usdToNano, type Nanousd } from '../money/money.js';
import { costOf, outputCostOf, priceAt, type PriceBook } from '../money/pricing.js';
import type { Reserve } from '../protocol/agent.js';

const TOKENS_PER_MTOK = 1_000_000;
const MAX_TOKENS = 1_000_000_000;

export type LocalPlan =
  | { readonly ok: true; readonly holdNano: Nanousd; readonly maxOutputTokens: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Sizes a fail-open local grant the way the daemon sizes a real one: the hold is the input cost
 * plus the cost of the granted output, and the output is clamped to what is left, so that the
 * allowance can never be overshot by a caller that passes `max_output_tokens` on.
 */
export function planLocalGrant(req: Reserve, leftNano: Nanousd, prices: PriceBook): LocalPlan {
  if (req.cost_usd !== undefined) {
    const holdNano = usdToNano(req.cost_usd);
    if (holdNano > leftNano) return { ok: false, reason: 'emergency allowance used up' };
    return { ok: true, holdNano, maxOutputTokens: req.max_output_tokens ?? 0 };
  }
  // At the tier the request's own input lands in, as the daemon prices a reservation.
  const price = priceAt(prices.resolve(req.model).price, req.input_tokens ?? 0);
  const inputNano = costOf(price, {
    input_tokens: req.input_tokens ?? 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
  });
  if (inputNano > leftNano) return { ok: false, reason: 'emergency allowance used up' };
  const affordable =
    price.output_nano_per_mtok === 0
      ? MAX_TOKENS
      : Math.min(MAX_TOKENS, mulDivFloor(leftNano - inputNano, TOKENS_PER_MTOK, price.output_nano_per_mtok));
  const maxOutputTokens = Math.min(req.max_output_tokens ?? affordable, affordable);
  if (maxOutputTokens === 0 && (req.max_output_tokens ?? 0) > 0) {
    return { ok: false, reason: 'emergency allowance cannot pay for any output' };
  }
  return { ok: true, holdNano: inputNano + outputCostOf(price, maxOutputTokens), maxOutputTokens };
}

interface Held {
  nano: Nanousd;
  readonly model: string | undefined;
}

/**
 * Money spent without the daemon's supervision (fail-open). A local reservation holds its
 * estimate; a commit replaces that with the actual cost, which stays counted until the daemon
 * acknowledges the resulting `spend` — from then on the daemon's own limits govern it.
 */
export class EmergencyAllowance {
  private readonly held = new Map<string, Held>();
  private usedNano: Nanousd = 0;

  constructor(
    readonly limitNano: Nanousd,
    private readonly maxEntries: number,
  ) {}

  get used(): Nanousd {
    return this.usedNano;
  }

  get left(): Nanousd {
    return Math.max(0, this.limitNano - this.usedNano);
  }

  has(reservation: string): boolean {
    return this.held.has(reservation);
  }

  modelOf(reservation: string): string | undefined {
    return this.held.get(reservation)?.model;
  }

  /** False when the amount does not fit, or the table of local reservations is at its bound. */
  hold(reservation: string, nano: Nanousd, model: string | undefined): boolean {
    if (this.held.size >= this.maxEntries || nano > this.left || this.held.has(reservation)) return false;
    this.held.set(reservation, { nano, model });
    this.usedNano += nano;
    return true;
  }

  /** Replace the hold with the actual cost (which may be above it: spent money is counted). */
  settle(reservation: string, actualNano: Nanousd): void {
    const h = this.held.get(reservation);
    if (!h) return;
    this.usedNano += actualNano - h.nano;
    h.nano = actualNano;
  }

  free(reservation: string): void {
    const h = this.held.get(reservation);
    if (!h) return;
    this.usedNano -= h.nano;
    this.held.delete(reservation);
  }

  clear(): void {
    this.held.clear();
    this.usedNano = 0;
  }
}
