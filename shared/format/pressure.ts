import type { Pressure } from '../protocol/agent.js';

/** Word + glyph, so a pressure reads the same without colour and in a screen reader (SPEC §5). */
const LABEL = {
  ok: 'ok',
  warning: '! warn',
  critical: '!! crit',
  exceeded: 'X over',
} as const satisfies Record<Pressure, string>;

const RANK = { ok: 0, warning: 1, critical: 2, exceeded: 3 } as const satisfies Record<Pressure, number>;

/** Exactly at the limit: nothing more fits, but nothing was overspent either (SPEC §5). */
const AT_LIMIT = '■ at limit';

/**
 * `ok 42%`, `! warn 74%`, `!! crit 93%`, `■ at limit 100%`, `X over 104%`; `—` for the number
 * when the scope has no limit. "over" is kept for real overshoot (ratio above 1), which only
 * `spend` events can cause.
 */
export function formatPressure(pressure: Pressure, ratio: number | null): string {
  // Floor, so 99.6% used never reads as a full 100%.
  const percent = ratio === null ? '—' : `${Math.floor(ratio * 100)}%`;
  if (pressure === 'exceeded' && ratio !== null && ratio <= 1) return `${AT_LIMIT} ${percent}`;
  return `${LABEL[pressure]} ${percent}`;
}

export function pressureLabel(pressure: Pressure): string {
  return LABEL[pressure];
}

export function pressureRank(pressure: Pressure): number {
  return RANK[pressure];
}

/** The protocol's `Pressure` values, without loading its zod schema (for `status --line`). */
export function isPressure(value: unknown): value is Pressure {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}
