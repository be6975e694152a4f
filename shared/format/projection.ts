import { duration, usd } from './units.js';

/**
 * The daemon's burn and run-out figures, worded once for every view (TUI header, `status`,
 * `status --line`): they computed and rounded their own before, and showed three different rates.
 */

/** `$0.0325/min`, `$5.46/min`, `—/min`: the daemon's `burn_usd_per_min_*`, never re-derived. */
export function burnText(usdPerMin: number | null): string {
  return `${usdPerMin === null ? '—' : usd(usdPerMin)}/min`;
}

/** What a run-out projection reads from a scope: the daemon's figures, nothing recomputed. */
export interface ProjectionScope {
  readonly exhaustion_ms: number | null;
  readonly killed: boolean;
  /** An ancestor's kill stops it as surely as its own. */
  readonly killed_by?: string | null | undefined;
  readonly burn_usd_per_min_1m: number | null;
  readonly burn_tokens_per_min_1m?: number | null | undefined;
}

export type Exhaustion =
  | { readonly kind: 'none' }
  | { readonly kind: 'runs_out'; readonly scope: string; readonly in_ms: number }
  | { readonly kind: 'waiting'; readonly scope: string };

/** Under a second: at its limit already, which the tree and the table say; this is about what runs out next. */
const AT_LIMIT_MS = 1_000;

/**
 * The scope that runs out first at the current pace. "Not enough data" (`none`) rather than a
 * figure when no scope has a projection: a scope with no burn has none, even if an older frame
 * left an `exhaustion_ms` behind. A scope with a pending prompt on it has run out already and
 * waits for the operator, whatever its burn (a blocked agent stops spending): `waiting` names it
 * first, since that is what blocks the run.
 */
export function nextExhaustion(scopes: Readonly<Record<string, ProjectionScope>>, waiting: Iterable<string> = []): Exhaustion {
  // In the caller's order: oldest prompt first, its limit's scope before its agent.
  for (const id of waiting) {
    const s = scopes[id];
    if (s && !stopped(s)) return { kind: 'waiting', scope: id };
  }
  let best: Exhaustion = { kind: 'none' };
  let best_ms = Infinity;
  for (const id in scopes) {
    const s = scopes[id];
    if (!s || stopped(s) || s.exhaustion_ms === null || s.exhaustion_ms < AT_LIMIT_MS) continue;
    const burning = (s.burn_usd_per_min_1m ?? 0) > 0 || (s.burn_tokens_per_min_1m ?? 0) > 0;
    if (burning && s.exhaustion_ms < best_ms) {
      best_ms = s.exhaustion_ms;
      best = { kind: 'runs_out', scope: id, in_ms: s.exhaustion_ms };
    }
  }
  return best;
}

function stopped(s: ProjectionScope): boolean {
  return s.killed || (s.killed_by ?? null) !== null;
}

/** `runs out in 4m10s: session:nightly`, `session:nightly waiting for approval`, `runs out in —`. */
export function exhaustionText(next: Exhaustion): string {
  switch (next.kind) {
    case 'none':
      return 'runs out in —';
    case 'runs_out':
      return `runs out in ${duration(next.in_ms)}: ${next.scope}`;
    case 'waiting':
      return `${next.scope} waiting for approval`;
    default:
      return next satisfies never;
  }
}
