import { limitsOf, periods } from './context.js';
import type { Deltas } from './deltas.js';
import type { EngineView } from './engine-state.js';
import { usedFor } from './fits.js';
import type { Placement, ScopeState } from './state.js';

/**
 * Invariants checked at run time, not only in tests (a violation is a programmer error: the
 * daemon stops loudly rather than overspend silently):
 * - right after a grant or delegation is placed, every hard limit and delegated cap it touched
 *   still has `spent + reserved ≤ limit`;
 * - reserved is never negative, and equals the sum of the live placements (after restore and
 *   on a slow tick).
 */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

export function assertPlacedWithin(st: EngineView, placements: readonly Placement[]): void {
  const p = periods(st);
  for (const pl of placements) {
    for (const c of limitsOf(st, pl.scope).checks) {
      if (c.mode !== 'hard' && c.source === 'config') continue;
      if ((pl.deltas[c.dim] ?? 0) <= 0) continue;
      const used = usedFor(pl.scope, c, p);
      if (used > c.limit) throw new InvariantViolation(`${pl.scope.id} ${c.dim} (${c.window}, ${c.source}): ${used} used or reserved after a grant, over its hard limit ${c.limit}`);
    }
  }
}

export function assertNotNegative(scope: ScopeState): void {
  for (const dim in scope.reserved) {
    if ((scope.reserved[dim] ?? 0) < 0) throw new InvariantViolation(`${scope.id} reserved ${dim} is ${scope.reserved[dim]}: released more than was placed`);
  }
}

/** reserved == Σ live placements, for every scope. O(scopes + placements): on restore and a slow tick. */
export function assertReservedMatches(st: EngineView): void {
  const placed = new Map<ScopeState, Deltas>();
  for (const r of st.reservations.values()) {
    for (const pl of r.placements) {
      let d = placed.get(pl.scope);
      if (!d) placed.set(pl.scope, (d = {}));
      for (const k in pl.deltas) d[k] = (d[k] ?? 0) + (pl.deltas[k] ?? 0);
    }
  }
  for (const s of st.scopes.values()) {
    assertNotNegative(s);
    const want = placed.get(s) ?? {};
    for (const dim of new Set([...Object.keys(want), ...Object.keys(s.reserved)])) {
      if ((want[dim] ?? 0) !== (s.reserved[dim] ?? 0)) throw new InvariantViolation(`${s.id} reserved ${dim} is ${s.reserved[dim] ?? 0} but its live placements sum to ${want[dim] ?? 0}`);
    }
  }
}
