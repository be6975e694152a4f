import wrapAnsi from 'wrap-ansi';
import type { Pressure } from '../shared/protocol/agent.js';
import { formatPressure } from '../shared/format/pressure.js';
import { count, duration, plural, usd } from '../shared/format/units.js';

// Wording shared with the CLI (`ok 42%`, `$3.42`, `3m05s`) comes from shared/format, so the
// dashboard and `spendguard status` can never disagree.
export { count, duration, plural, usd };

/** `ok 42%`, `! warn 74%`, `!! crit 93%`, `X over 104%` (SPEC §5); `ok —` without a limit. */
export function pressureText(pressure: Pressure, ratio: number | null): string {
  return formatPressure(pressure, ratio);
}

/**
 * `text` as lines of at most `width` cells, broken between words (a word longer than a line is
 * broken inside): for the views that show long text in full instead of cutting it.
 */
export function wrapLines(text: string, width: number): string[] {
  return wrapAnsi(text, Math.max(1, width), { hard: true, trim: true }).split('\n');
}

/** The longest `pressureText` for ratios below 1000%: column width. */
export const PRESSURE_WIDTH = 'X over 999%'.length;

/** A number or `—`: never invent a figure for unknown data. */
export function orDash<T>(value: T | null | undefined, format: (v: T) => string): string {
  return value === null || value === undefined ? '—' : format(value);
}

/** A dollar rate without its `$` (the label says `$/min`): `0.21`, `0.0042`, `—`. */
export function rate(usdPerMin: number | null): string {
  return orDash(usdPerMin, (v) => usd(v).slice(1));
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A left-to-right fill of `ratio` (capped at full) in eighths of a cell; blank without a limit. */
export function bar(ratio: number | null, width: number): string {
  if (width <= 0) return '';
  if (ratio === null) return ' '.repeat(width);
  const eighths = Math.round(Math.min(Math.max(ratio, 0), 1) * width * 8);
  const full = Math.floor(eighths / 8);
  const part = EIGHTHS[eighths % 8] ?? '';
  return `${'█'.repeat(full)}${part}`.padEnd(width, '░');
}

const SPARKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** The last `width` buckets, scaled to the largest; an empty bucket is the lowest bar. */
export function sparkline(series: readonly number[], width: number): string {
  const tail = series.slice(-width);
  const max = Math.max(0, ...tail);
  return tail.map((v) => (max <= 0 || v <= 0 ? SPARKS[0] : SPARKS[Math.max(1, Math.ceil((v / max) * (SPARKS.length - 1)))])).join('');
}

/** Local wall-clock time `14:02:09`. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Exactly `width` columns: cut with `…` or padded. Our glyphs and ids are all one column wide. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length > width) return width === 1 ? '…' : `${chars.slice(0, width - 1).join('')}…`;
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
}

/**
 * Like `fit`, but a name too long loses its middle, not its end: `agent:planner.…sub-02` — the
 * end is what tells fan-out siblings and tagged runs apart.
 */
export function fitMiddle(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width || width < 8) return fit(text, width);
  const tail = Math.floor((width - 1) / 2);
  return `${chars.slice(0, width - 1 - tail).join('')}…${chars.slice(chars.length - tail).join('')}`;
}

/** `delay 750ms`, `delay 1.5s`. */
export function delay(ms: number): string {
  return ms < 1_000 ? `${ms}ms` : `${(ms / 1_000).toFixed(ms % 1_000 === 0 ? 0 : 1)}s`;
}
