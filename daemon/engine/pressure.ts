import type { Pressure } from '../../shared/protocol/agent.js';
import { alert, limitsOf, markChanged, periods } from './context.js';
import type { EngineState, EngineView } from './engine-state.js';
import { usedFor } from './fits.js';
import type { ScopeState } from './state.js';

export const LEVEL_NAMES = ['ok', 'warning', 'critical', 'exceeded'] as const;
/** How far below a threshold pressure must fall before crossing it alerts again. */
const REARM_MARGIN = 0.05;

/**
 * Largest used-or-reserved fraction over the scope's own limits (SPEC §3: pressure is always a
 * ratio of the scope's own limit, reserved amounts included); null for a scope without limits.
 */
export function ratioOf(st: EngineView, scope: ScopeState): number | null {
  const p = periods(st);
  let max: number | null = null;
  for (const c of limitsOf(st, scope).checks) {
    const used = usedFor(scope, c, p);
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

/**
 * Raises an alert for every threshold a scope's pressure crossed upward; re-arms when it falls.
 * Returns the chain's largest ratio, which a grant reports as its pressure and delay.
 */
export function checkThresholds(st: EngineState, chain: readonly ScopeState[]): number | null {
  let max: number | null = null;
  for (const scope of chain) {
    markChanged(st, scope);
    scope.active_ms = st.now;
    const ratio = ratioOf(st, scope);
    if (ratio !== null && (max === null || ratio > max)) max = ratio;
    const level = levelOf(ratio, st.config.thresholds);
    if (level > scope.alerted_level) {
      for (let l = scope.alerted_level + 1; l <= level; l++) {
        // Exactly at the limit nothing was overspent: "exceeded" is kept for real overshoot.
        const name = l === 3 && (ratio ?? 0) <= 1 ? 'at limit' : (LEVEL_NAMES[l] ?? 'exceeded');
        alert(st, l >= 2 ? 'critical' : 'warning', 'threshold', scope.id, `${scope.id} ${name}: ${Math.round((ratio ?? 0) * 100)}% of its limit used or reserved`);
      }
      scope.alerted_level = level;
    } else if (level < scope.alerted_level) {
      // Re-arm only well below the crossed threshold: reservations that come and go around
      // it would otherwise raise the same alert again and again.
      const at = [0, st.config.thresholds.warning, st.config.thresholds.critical, 1];
      let l = scope.alerted_level;
      while (l > level && (ratio ?? 0) < (at[l] ?? 1) - REARM_MARGIN) l -= 1;
      scope.alerted_level = l;
    }
  }
  return max;
}
