import type { Pressure } from '../../shared/protocol/agent.js';
import type { Engine } from './engine.js';
import { usedFor } from './evaluate.js';
import type { ScopeState } from './state.js';

export const LEVEL_NAMES = ['ok', 'warning', 'critical', 'exceeded'] as const;

/**
 * Largest used-or-reserved fraction over the scope's own limits (SPEC §3: pressure is always a
 * ratio of the scope's own limit, reserved amounts included); null for a scope without limits.
 */
export function ratioOf(engine: Engine, scope: ScopeState): number | null {
  const periods = engine.periods();
  let max: number | null = null;
  for (const c of engine.limitsOf(scope).checks) {
    const used = usedFor(scope, c, periods);
    const r = c.limit === 0 ? (used > 0 ? Number.POSITIVE_INFINITY : 0) : used / c.limit;
    if (max === null || r > max) max = r;
  }
  return max;
}

export function levelOf(ratio: number | null, t: { warning: number; critical: number }): number {
  if (ratio === null) return 0;
  if (ratio >= 1) return 3;
  if (ratio >= t.critical) return 2;
  if (ratio >= t.warning) return 1;
  return 0;
}

export function pressureOf(ratio: number | null, t: { warning: number; critical: number }): Pressure {
  return LEVEL_NAMES[levelOf(ratio, t)] ?? 'exceeded';
}

/** Backpressure tiers `[ratio, delay_ms]`: the delay of the highest tier the ratio has reached. */
export function delayFor(ratio: number | null, tiers: ReadonlyArray<readonly [number, number]>): number {
  if (ratio === null) return 0;
  let delay = 0;
  let best = -1;
  for (const [at, ms] of tiers) {
    if (ratio >= at && at > best) {
      best = at;
      delay = ms;
    }
  }
  return delay;
}
