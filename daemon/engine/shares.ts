import { limitsOf } from './context.js';
import type { EngineView } from './engine-state.js';
import { usedFor } from './fits.js';
import type { Check } from './limits.js';
import type { PeriodKeys } from './periods.js';
import type { ScopeState } from './state.js';

/**
 * min_share: at the requesting agent's parent, each connected sibling with a `min_share` keeps
 * that share of the parent's limit, less what it already used or holds, out of this request's
 * reach. Shares that add up to more than the whole are scaled down, so they can never refuse
 * everyone. Undefined, at no cost, when the config has no min_share.
 */
export function siblingsShare(st: EngineView, chain: readonly ScopeState[], periods: PeriodKeys): ((scope: ScopeState, check: Check) => number) | undefined {
  if (!st.min_share_in_use) return undefined;
  const agent = chain[chain.length - 1];
  const parent = chain[chain.length - 2];
  if (!agent || !parent || parent.live_children.size < 2) return undefined;
  const siblings: Array<{ scope: ScopeState; share: number }> = [];
  let total = limitsOf(st, agent).minShare ?? 0;
  for (const s of parent.live_children) {
    if (s === agent || s.connections === 0 || s.cap) continue;
    const share = limitsOf(st, s).minShare;
    if (!share) continue;
    siblings.push({ scope: s, share });
    total += share;
  }
  if (siblings.length === 0) return undefined;
  const scale = total > 1 ? 1 / total : 1;
  return (scope, check) => {
    if (scope !== parent) return 0;
    let kept = 0;
    for (const { scope: s, share } of siblings) kept += Math.max(0, Math.floor(check.limit * share * scale) - usedFor(s, check, periods));
    return kept;
  };
}
