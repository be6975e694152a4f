import { formatUsd, NANO_PER_USD } from '../money/money.js';

/** `$20`, `$3.42`, `$0.21`, `$0.0042`: shared/money's digits, without trailing zeros past the cents. */
export function usd(amount: number): string {
  const text = formatUsd(Math.round(amount * NANO_PER_USD));
  if (/\.0+$/.test(text)) return text.replace(/\.0+$/, '');
  return text.replace(/(\.\d\d\d*?)0+$/, '$1');
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
