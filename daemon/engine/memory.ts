import { globalScope, scope } from './context.js';
import { isEmpty } from './deltas.js';
import type { EngineState, EngineView } from './engine-state.js';
import { levelOf, ratioOf } from './pressure.js';
import { GLOBAL, type ScopeId } from './scope.js';
import { unsaved, type ScopeCounters, type ScopeState } from './state.js';

/**
 * Memory has a bound: a scope with nothing in flight, no kill, no prompt, no grant or delegation
 * of its own, nothing unsaved and nothing under it leaves memory after a minute idle. Its
 * counters are in the ledger's snapshot; the shell loads them back (the `load` event) before
 * an event that names the scope again.
 */

export const IDLE_MS = 60_000;

export interface LoadedScope {
  readonly id: ScopeId;
  readonly parent: ScopeId | null;
  readonly counters: ScopeCounters;
}

function idle(st: EngineView, s: ScopeState, prompted: ReadonlySet<ScopeState>): boolean {
  return (
    s.id !== GLOBAL &&
    s.kids === 0 &&
    s.conn_refs === 0 &&
    s.connections === 0 &&
    !unsaved(s) &&
    s.killed === null &&
    s.cap === null &&
    s.hold === null &&
    s.live_children.size === 0 &&
    st.now - s.active_ms >= IDLE_MS &&
    isEmpty(s.reserved) &&
    isEmpty(s.grants) &&
    !prompted.has(s) &&
    st.config.scopes[s.id] === undefined &&
    st.runaway.isQuiet(s, st.now)
  );
}


/** Drops every idle scope, leaves first: a parent whose last child left may go in the same sweep. */
export function evictIdle(st: EngineState): number {
  const prompted = new Set<ScopeState>();
  for (const p of st.prompts.values()) {
    prompted.add(p.scope);
    prompted.add(p.agent);
  }
  let evicted = 0;
  for (const s of [...st.scopes.values()]) {
    let x: ScopeState | null = s;
    while (x && st.scopes.get(x.id) === x && idle(st, x, prompted)) {
      st.scopes.delete(x.id);
      st.evicted_ids.push(x.id);
      st.evicted_versions.push(st.version);
      st.evicted_total += 1;
      st.runaway.forget(x);
      const parent: ScopeState | null = x.parent;
      if (parent) parent.kids -= 1;
      evicted += 1;
      x = parent;
    }
  }
  trimEvictionLog(st);
  return evicted;
}

/** Bound on remembered evictions; a feed subscriber further behind than them gets a full frame. */
const MAX_EVICTIONS_LOGGED = 100_000;

function trimEvictionLog(st: EngineState): void {
  const excess = st.evicted_ids.length - MAX_EVICTIONS_LOGGED;
  if (excess <= 0) return;
  const drop = Math.max(excess, MAX_EVICTIONS_LOGGED / 2);
  st.evicted_floor = st.evicted_versions[drop - 1] ?? st.evicted_floor;
  st.evicted_ids.splice(0, drop);
  st.evicted_versions.splice(0, drop);
}

/** Ids of scopes that left memory after version `since`. */
export function evictedSince(st: EngineView, since: number): string[] {
  const out: string[] = [];
  for (let i = st.evicted_versions.length - 1; i >= 0 && (st.evicted_versions[i] ?? 0) > since; i--) out.push(st.evicted_ids[i] as string);
  return out;
}

/** Ids an event may name that are not in memory: the shell looks them up in the ledger first. */
export function missing(st: EngineView, ids: readonly ScopeId[]): ScopeId[] {
  return ids.filter((id) => !st.scopes.has(id));
}

/** Scopes back from the ledger, parents first; one already in memory is left as it is. */
export function load(st: EngineState, scopes: readonly LoadedScope[]): void {
  for (const r of scopes) {
    if (st.scopes.has(r.id) || r.id === GLOBAL) continue;
    const parent = (r.parent && st.scopes.get(r.parent)) || globalScope(st);
    const s = scope(st, r.id, parent);
    s.counters = structuredClone(r.counters);
    s.alerted_level = levelOf(ratioOf(st, s), st.config.thresholds);
  }
}

/** The ledger confirmed these scopes' counters as of `version`. */
export function persisted(st: EngineState, ids: readonly ScopeId[], version: number): void {
  for (const id of ids) {
    const s = st.scopes.get(id);
    if (s && s.saved_version < version) s.saved_version = version;
  }
}

/** Scopes whose counters changed since their last confirmed snapshot (for the shell's next one). */
export function unsavedScopes(st: EngineView): ScopeState[] {
  const out: ScopeState[] = [];
  for (const s of st.scopes.values()) if (unsaved(s)) out.push(s);
  return out;
}
