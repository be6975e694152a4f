import { remember, type KeyRecord } from './keys.js';
import { scope } from './context.js';
import { addInto, usageDeltas, type Deltas } from './deltas.js';
import { restoreDelegation } from './delegation.js';
import { MAX_CHAIN, type EngineState } from './engine-state.js';
import { assertReservedMatches } from './invariants.js';
import type { LoadedScope } from './memory.js';
import { PeriodClock } from './periods.js';
import { levelOf, ratioOf } from './pressure.js';
import { GLOBAL, type ScopeId } from './scope.js';
import { recordSpent, type ScopeState } from './state.js';

export type RestoredScope = LoadedScope;

/** A usage row written after the last counters snapshot: replayed onto the counters at start. */
export interface ReplayRow {
  readonly ts: number;
  readonly chain: readonly ScopeId[];
  readonly model: string | null;
  readonly op: string | null;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cost_nano: number;
}

export interface RestoredState {
  readonly scopes: readonly RestoredScope[];
  readonly replay?: readonly ReplayRow[];
  readonly grants: ReadonlyArray<{ readonly scope: ScopeId; readonly deltas: Deltas }>;
  readonly kills: ReadonlyArray<{ readonly scope: ScopeId; readonly reason: string; readonly at_ms: number }>;
  /** Delegations still open at the last stop: the child's cap, funded again from its parent. */
  readonly delegations?: ReadonlyArray<{ readonly child: ScopeId; readonly chain: readonly ScopeId[]; readonly cap: Deltas }>;
  /** Keys bound to a scope, as created and revoked (hashes only). */
  readonly keys?: readonly RestoredKey[];
}

/** A key as its ledger rows describe it (what only a running daemon knows left out). */
export type RestoredKey = Omit<KeyRecord, 'last_used_ms' | 'expiry_handled'>;

/** Rebuilds counters, grants, kills and open delegations from what the ledger read back. */
export function restore(st: EngineState, restored: RestoredState): void {
  for (const k of restored.keys ?? []) remember(st, { ...k, last_used_ms: null, expiry_handled: false });
  const byId = new Map(restored.scopes.map((s) => [s.id, s]));
  const built = new Set<ScopeId>();
  const build = (id: ScopeId, depth: number): ScopeState => {
    const existing = st.scopes.get(id);
    const r = byId.get(id);
    if (existing && (built.has(id) || !r)) return existing;
    built.add(id);
    if (existing && r) {
      existing.counters = structuredClone(r.counters);
      return existing;
    }
    const parent = r?.parent && depth < MAX_CHAIN ? build(r.parent, depth + 1) : id === GLOBAL ? null : scope(st, GLOBAL, null);
    const s = scope(st, id, parent);
    if (r) s.counters = structuredClone(r.counters);
    return s;
  };
  for (const r of restored.scopes) build(r.id, 0);
  const replayClock = new PeriodClock(st.config.timezone);
  for (const row of restored.replay ?? []) {
    let parent: ScopeState | null = null;
    const deltas = usageDeltas({ model: row.model ?? undefined, op: row.op ?? undefined, input_tokens: row.input_tokens, output_tokens: row.output_tokens, cost_nano: row.cost_nano });
    const periods = replayClock.at(row.ts);
    for (const id of row.chain) {
      const s: ScopeState = st.scopes.get(id) ?? scope(st, id, parent);
      recordSpent(s, deltas, periods, row.ts, st.version);
      parent = s;
    }
  }
  for (const g of restored.grants) addInto(scope(st, g.scope, null).grants, g.deltas);
  for (const k of restored.kills) scope(st, k.scope, null).killed = { reason: k.reason, at_ms: k.at_ms };
  for (const d of restored.delegations ?? []) restoreDelegation(st, d.child, d.chain, d.cap);
  st.limits_gen += 1;
  for (const s of st.scopes.values()) s.alerted_level = levelOf(ratioOf(st, s), st.config.thresholds);
  assertReservedMatches(st);
}
