import { NANO_PER_USD } from '../money/money.js';

/** Decimals never go past the ledger's nano-dollar. */
const MAX_DECIMALS = 9;

/**
 * How many decimals `usd` gives an amount: 2 from $1 up (`$5.00`, `$1,234.50`); below $1,
 * 3 significant digits (`$0.0325`, `$0.00412`), trailing zeros trimmed down to 2 (`$0.21`).
 */
export function usdDecimals(amount: number): number {
  const abs = Math.abs(amount);
  if (abs === 0 || abs >= 1 || !Number.isFinite(abs)) return 2;
  const decimals = Math.min(MAX_DECIMALS, Math.max(2, 2 - Math.floor(Math.log10(abs))));
  const text = abs.toFixed(decimals);
  // 0.0999 rounds up to 0.100: one significant digit fewer is the same figure.
  const trimmed = text.replace(/0+$/, '');
  return Math.max(2, trimmed.length - trimmed.indexOf('.') - 1);
}

/** `$5.00`, `$12.50`, `$1,234.50`, `$0.0325`, `$0.00412`: the one money format (issue 13). */
export function usd(amount: number, decimals = usdDecimals(amount)): string {
  const rounded = Math.round(amount * NANO_PER_USD) / NANO_PER_USD;
  const text = Math.abs(rounded).toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return `${rounded < 0 && Number(text.replace(/,/g, '')) !== 0 ? '-' : ''}$${text}`;
}

/**
 * A column of amounts with one number of decimals, the most any of them needs, so the points
 * line up when right-aligned: `$5.0000` over `$0.0325`. `null` is `—`. Given a `width`, fewer
 * decimals (never under 2) rather than a figure cut short.
 */
export function usdColumn(amounts: readonly (number | null)[], width = Infinity): string[] {
  let decimals = Math.max(2, ...amounts.map((a) => (a === null ? 2 : usdDecimals(a))));
  const widest = (d: number): number => Math.max(0, ...amounts.map((a) => (a === null ? 1 : usd(a, d).length)));
  // A fixed-width cell (the TUI) gives up digits past the cents before it cuts a figure.
  while (decimals > 2 && widest(decimals) > width) decimals -= 1;
  return amounts.map((a) => (a === null ? '—' : usd(a, decimals)));
}

/** `950`, `12.3k`, `1.5M`. */
export function count(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1_000) return String(Math.round(n));
  if (abs < 1_000_000) return `${trim1(n / 1_000)}k`;
  if (abs < 1_000_000_000) return `${trim1(n / 1_000_000)}M`;
  return `${trim1(n / 1_000_000_000)}G`;
}

/** `42s`, `3m05s`, `2h07m`, `3d04h`. */
export function duration(msTotal: number): string {
  const s = Math.max(0, Math.floor(msTotal / 1_000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad2(h % 24)}h`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function trim1(n: number): string {
  return n.toFixed(1).replace(/\.0$/, '');
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
