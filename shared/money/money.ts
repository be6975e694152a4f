/**
 * Money is kept as integer nano-dollars (1e-9 USD) everywhere inside spendguard.
 * A JS number holds integers exactly up to 2^53 ≈ 9.0e15 nano-USD ≈ $9,007,199, far above
 * any budget this daemon is meant to guard. Dollars appear only at the JSON boundary.
 */
export type Nanousd = number;

export const NANO_PER_USD = 1_000_000_000;
/** Largest dollar amount accepted on any boundary (frames, config, CLI flags). */
export const MAX_USD = 1_000_000;

export function usdToNano(usd: number): Nanousd {
  if (!Number.isFinite(usd) || usd < 0 || usd > MAX_USD) {
    throw new RangeError(`amount must be a finite number of dollars between 0 and ${MAX_USD}, got ${usd}`);
  }
  return Math.round(usd * NANO_PER_USD);
}

export function nanoToUsd(nano: Nanousd): number {
  return nano / NANO_PER_USD;
}

/** ceil(a * b / d) for non-negative integers without losing precision past 2^53. */
export function mulDivCeil(a: number, b: number, d: number): number {
  const product = a * b;
  if (Number.isSafeInteger(product)) return Math.ceil(product / d);
  const big = BigInt(a) * BigInt(b);
  const bd = BigInt(d);
  return Number((big + bd - 1n) / bd);
}

/** floor(a * b / d) for non-negative integers without losing precision past 2^53. */
export function mulDivFloor(a: number, b: number, d: number): number {
  const product = a * b;
  if (Number.isSafeInteger(product)) return Math.floor(product / d);
  return Number((BigInt(a) * BigInt(b)) / BigInt(d));
}
