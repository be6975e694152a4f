import type { DenyCode } from '../../shared/protocol/agent.js';
import type { Config } from '../config/schema.js';
import { AdaptiveSizer } from './adaptive.js';
import { COST, TOKENS, isEmpty } from './deltas.js';
import { MAX_ALERTS, MAX_CHAIN, priceBookOf, usesMinShare, type EngineState, type EngineView } from './engine-state.js';
import type { Alert, Effect } from './events.js';
import { blockFor, compileBlock, type Check, type ScopeLimits } from './limits.js';
import { PeriodClock, type PeriodKeys } from './periods.js';
import { Runaway } from './runaway.js';
import { GLOBAL, type ScopeId } from './scope.js';
import { fleetOf, newScope, type ConnId, type ScopeState } from './state.js';

/** Steps shared by every rule family: ids, scopes, limits, alerts and the frames to send. */

export function createState(opts: { config: Config; config_path: string | null; epoch: number; now: number }): EngineState {
  let self: EngineState | undefined;
  const runaway = new Runaway(opts.config, (level, kind, scope, message) => {
    if (self) alert(self, level, kind, scope, message);
  });
  const st: EngineState = {
    config: opts.config,
    config_path: opts.config_path,
    config_loaded_ms: opts.now,
    config_error: null,
    ledger: { writable: true, error: null, since_ms: null },
    prices: priceBookOf(opts.config),
    clock: new PeriodClock(opts.config.timezone),
    min_share_in_use: usesMinShare(opts.config),
    epoch: opts.epoch,
    seq: 0,
    scopes: new Map(),
    reservations: new Map(),
    conns: new Map(),
    prompts: new Map(),
    keys: new Map(),
    keys_by_hash: new Map(),
    alerts: [],
    alert_seq: 0,
    adaptive: new AdaptiveSizer(),
    runaway,
    overshoot_total: 0,
    priced_by_default: new Set(),
    limits_gen: 0,
    now: opts.now,
    version: 1,
    change_log: [],
    change_versions: [],
    evicted_ids: [],
    evicted_versions: [],
    evicted_floor: 0,
    evicted_total: 0,
    periods_seen: '',
    next_sweep_ms: 0,
    out: [],
  };
  self = st;
  st.scopes.set(GLOBAL, newScope(GLOBAL, null));
  return st;
}

export function emit(st: EngineState, effect: Effect): void {
  st.out.push(effect);
}

export function nextId<P extends 'r' | 'p' | 'h'>(st: EngineState, prefix: P): string {
  st.seq += 1;
  return `${prefix}${st.epoch}-${st.seq}`;
}

export function periods(st: EngineView): PeriodKeys {
  return st.clock.at(st.now);
}

export function globalScope(st: EngineView): ScopeState {
  return st.scopes.get(GLOBAL) as ScopeState;
}

/** The scope `id`, created under `parent` when new; an existing one stays where it is (see `place`). */
export function scope(st: EngineState, id: ScopeId, parent: ScopeState | null): ScopeState {
  let s = st.scopes.get(id);
  if (!s) {
    s = newScope(id, parent);
    s.active_ms = st.now;
    st.scopes.set(id, s);
    markChanged(st, s);
  }
  return s;
}

/** `s` and its ancestors, root first: where an agent spends is always where the tree puts it. */
export function ancestry(s: ScopeState): ScopeState[] {
  const out: ScopeState[] = [];
  for (let x: ScopeState | null = s; x && out.length <= MAX_CHAIN; x = x.parent) out.push(x);
  return out.reverse();
}

/**
 * Whether `s` may move to another parent: nothing lives through its current place — no live
 * connection's chain, no reservation or delegation hold placed on it, no delegated cap. Moving a
 * scope in use would leave chains that no longer match the tree (and caps, shares and memory
 * that follow the tree would stop following the money).
 */
function movable(s: ScopeState): boolean {
  return s.conn_refs === 0 && s.hold === null && s.cap === null && isEmpty(s.reserved);
}

/**
 * The scope `id` under `parent`: created when new, moved when it is not in use, otherwise a
 * message saying where it lives (the caller refuses the request that named it elsewhere).
 */
export function place(st: EngineState, id: ScopeId, parent: ScopeState): ScopeState | string {
  const s = st.scopes.get(id);
  if (!s || s.parent === parent) return scope(st, id, parent);
  if (id === GLOBAL || !movable(s) || isAncestor(s, parent)) return `${id} is in use under ${s.parent?.id ?? 'nothing'}: a scope lives in one place at a time (it may move once nothing runs through it)`;
  if (s.parent) s.parent.kids -= 1;
  parent.kids += 1;
  s.parent = parent;
  st.limits_gen += 1;
  markChanged(st, s);
  return s;
}

/**
 * The scope `id` for a hello that names it under `parent`: where it lives when it is in use there
 * (ids are global: a second agent naming a busy task under another session joins that task
 * where it is, and its welcome says so), moved under `parent` when nothing runs through it.
 */
export function join(st: EngineState, id: ScopeId, parent: ScopeState): ScopeState {
  const placed = place(st, id, parent);
  return typeof placed === 'string' ? (st.scopes.get(id) as ScopeState) : placed;
}

/** Whether `a` is `b` or above it: re-parenting `a` under `b` would make a cycle. */
function isAncestor(a: ScopeState, b: ScopeState): boolean {
  for (let x: ScopeState | null = b, depth = 0; x && depth <= MAX_CHAIN * 4; x = x.parent, depth++) if (x === a) return true;
  return false;
}

/** The view of `s` changed: the live feed sends it with its next delta. */
export function markChanged(st: EngineState, s: ScopeState): void {
  if (s.version === st.version) return;
  s.version = st.version;
  st.change_log.push(s);
  st.change_versions.push(st.version);
}

export function markAllChanged(st: EngineState): void {
  for (const s of st.scopes.values()) markChanged(st, s);
}

/** Compiled limits of a scope: config block, operator grants, delegated cap, max_share of its parent. */
export function limitsOf(st: EngineView, s: ScopeState): ScopeLimits {
  // A memo, not state: it is recomputed whenever the limits generation moves.
  if (s.limits && s.limits.gen === st.limits_gen) return s.limits.limits;
  const limits = computeLimits(st, s);
  s.limits = { gen: st.limits_gen, limits };
  return limits;
}

function computeLimits(st: EngineView, s: ScopeState): ScopeLimits {
  const base = compileBlock(blockFor(st.config, s.id));
  const checks: Check[] = base.checks.map((c) => {
    const extra = s.grants[c.dim];
    return extra ? { ...c, limit: c.limit + extra } : c;
  });
  if (s.cap) {
    for (const dim of [COST, TOKENS]) {
      const cap = s.cap[dim];
      if (cap !== undefined) checks.push({ window: 'life', dim, limit: cap, mode: 'hard', source: 'delegation' });
    }
  }
  if (base.maxShare !== undefined && s.parent && !s.cap) {
    for (const c of limitsOf(st, s.parent).checks) {
      if (c.source === 'max_share') continue;
      checks.push({ window: c.window, dim: c.dim, limit: Math.floor(c.limit * base.maxShare), mode: 'hard', source: 'max_share' });
    }
  }
  return { ...base, checks };
}

export function alert(st: EngineState, level: Alert['level'], kind: Alert['kind'], scopeName: string, message: string): void {
  st.alert_seq += 1;
  const a: Alert = { seq: st.alert_seq, at_ms: st.now, level, kind, scope: scopeName, message };
  st.alerts.push(a);
  if (st.alerts.length > MAX_ALERTS) st.alerts.splice(0, st.alerts.length - MAX_ALERTS);
  emit(st, { type: 'alert', alert: a });
}

export function send(st: EngineState, conn: ConnId, frame: Extract<Effect, { type: 'send' }>['frame']): void {
  if (st.conns.has(conn)) emit(st, { type: 'send', conn, frame });
}

export function deny(st: EngineState, conn: ConnId, id: string, code: DenyCode, scopeName: string, message: string, retry_after_ms?: number): void {
  const c = st.conns.get(conn);
  if (c?.state === 'live') {
    const fleet = fleetOf(c);
    st.runaway.recordDenial(c.chain, code, st.now, fleet);
    // A denial may trip the agent's or its fleet's breaker: their rows change.
    markChanged(st, c.agent);
    const user = fleet ?? c.chain[1];
    if (user) markChanged(st, user);
  }
  send(st, conn, { type: 'deny', id, code, scope: scopeName, message, ...(retry_after_ms === undefined ? {} : { retry_after_ms }) });
}

export function sendError(st: EngineState, conn: ConnId, id: string | undefined, code: 'INVALID' | 'UNKNOWN_RESERVATION' | 'UNAUTHORIZED', message: string): void {
  send(st, conn, { type: 'error', ...(id === undefined ? {} : { id }), code, message });
}

/** Fail closed: nothing that needs a ledger row to be safe is granted while the ledger cannot be written. */
export function unavailable(st: EngineState, conn: ConnId, id: string): boolean {
  if (st.ledger.writable) return false;
  deny(st, conn, id, 'UNAVAILABLE', GLOBAL, `the ledger cannot be written (${st.ledger.error ?? 'unknown error'}); nothing is granted until it can — retry later`, 1_000);
  return true;
}

/** Scopes whose view changed after version `since`, each once (the log keeps every scope's latest change). */
export function changedSince(st: EngineView, since: number): ScopeState[] {
  const versions = st.change_versions;
  let lo = 0;
  let hi = versions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((versions[mid] ?? 0) > since) hi = mid;
    else lo = mid + 1;
  }
  const out: ScopeState[] = [];
  for (let i = lo; i < versions.length; i++) {
    const s = st.change_log[i];
    if (s && s.version === versions[i] && st.scopes.get(s.id) === s) out.push(s);
  }
  return out;
}
