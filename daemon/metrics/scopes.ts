import ms from 'ms';
import type { Breaker } from '../../shared/protocol/operator.js';
import type { Engine } from '../engine/engine.js';
import { GLOBAL, type ScopeId } from '../engine/scope.js';
import type { ScopeState } from '../engine/state.js';

/**
 * Per-scope series exist only for `global` and the scopes named under `scopes:` in the config:
 * a bounded set the operator chose, never one series per task or agent that happens to connect.
 */
export function configuredScopes(engine: Engine): ScopeState[] {
  const out: ScopeState[] = [];
  const global = engine.scopes.get(GLOBAL);
  if (global) out.push(global);
  for (const id of Object.keys(engine.config.scopes)) {
    if (id === GLOBAL) continue;
    // A configured scope no agent has used yet has no state: no series rather than invented zeros.
    const s = engine.scopes.get(id as ScopeId);
    if (s) out.push(s);
  }
  return out;
}

export const BREAKER_STATES: readonly Breaker[] = ['closed', 'open', 'half-open'];

export function breakerOf(engine: Engine, s: ScopeState): Breaker {
  return engine.runaway.breakerState(s, engine.now);
}

/** Open and half-open breakers over every scope the daemon knows (denial and burn-rate breakers). */
export function breakerCounts(engine: Engine): Record<Breaker, number> {
  const counts: Record<Breaker, number> = { closed: 0, open: 0, 'half-open': 0 };
  for (const s of engine.scopes.values()) if (s.id !== GLOBAL) counts[breakerOf(engine, s)] += 1;
  return counts;
}

/** USD per minute over `windowMs`, or null while the meter has too little data. */
export function burnUsdPerMin(engine: Engine, s: ScopeState, windowMs: number): number | null {
  const nano = s.burn.ratePerMin(engine.now, windowMs);
  return nano === null ? null : nano / 1e9;
}

/** The burn-rate breaker's threshold as a pace, or null when no burn-rate breaker is configured. */
export function breakerPace(engine: Engine): { window: string; usd_per_min: number } | null {
  const b = engine.config.breakers.burn_rate;
  if (b.cost_usd === undefined || b.window <= 0) return null;
  return { window: ms(b.window), usd_per_min: b.cost_usd / (b.window / 60_000) };
}
