import { delegationRefusal } from './keys.js';
import { usdToNano } from '../../shared/money/money.js';
import type { Delegate } from '../../shared/protocol/agent.js';
import { deny, emit, limitsOf, markChanged, nextId, periods, place, scope, send } from './context.js';
import { COST, TOKENS, addInto, type Deltas } from './deltas.js';
import { MAX_CHAIN, type EngineState } from './engine-state.js';
import { fits, placementsFor } from './fits.js';
import { assertPlacedWithin } from './invariants.js';
import { describeDeltas, exceededMessage } from './messages.js';
import { admit } from './admission.js';
import { checkThresholds } from './pressure.js';
import { releaseReservation } from './settlement.js';
import { siblingsShare } from './shares.js';
import { GLOBAL, scopeId, type ScopeId } from './scope.js';
import type { ConnId, HoldReservation, LiveConnection, Placement, ReservationId, ScopeState } from './state.js';

/**
 * Delegation (SPEC §3): a parent moves part of its remaining budget to a child. The amount is
 * held on the parent's chain (it cannot be spent twice), the child's cap is exactly that
 * amount, and what the child has not spent returns when it says bye or its lease runs out.
 */

/** Whether `chain` runs through exactly `prefix` and then `child`. */
function under(chain: readonly ScopeState[], prefix: readonly ScopeState[], child: ScopeState): boolean {
  return chain[prefix.length] === child && prefix.every((s, i) => chain[i] === s);
}

/** Why `child` cannot take a delegation from `conn`'s agent now, or undefined. */
function aliasedBy(st: EngineState, conn: LiveConnection, child: ScopeState): string | undefined {
  const parent = conn.agent;
  if (conn.chain.includes(child)) return `${child.id} is already in this agent's chain`;
  // The child, and any sub-agent of it, must already run under the delegator: the delegated
  // budget is held on the delegator's chain, and spend through any other chain would escape it.
  for (const c of st.conns.values()) {
    if (c.state !== 'live' || !c.chain.includes(child) || under(c.chain, conn.chain, child)) continue;
    return `${child.id} is connected under ${c.chain.slice(0, c.chain.indexOf(child)).map((s) => s.id).join(' > ')}, not under ${parent.id}: a delegated child (and its sub-agents) must join under its delegator`;
  }
  if (child.hold && child.hold.owner !== parent) return `${child.id} already holds a budget delegated by ${child.hold.owner.id}`;
  // A top-up comes from the chain the budget is held on, or the hold would be split across two.
  if (child.hold && (child.hold.chain.length !== conn.chain.length || !under([...child.hold.chain, child], conn.chain, child))) {
    return `${child.id}'s budget is held under ${child.hold.chain.map((s) => s.id).join(' > ')}; top it up from there`;
  }
  if (child.hold) return undefined;
  // Reservations and delegations the child (or its sub-agents) made on its parent's budget would
  // settle against the new delegation's hold: one budget used as two. They settle first.
  let inFlight = 0;
  for (const r of st.reservations.values()) if (r.owner === child || r.chain.includes(child)) inFlight += 1;
  if (inFlight === 0) return undefined;
  return `${child.id} has ${inFlight} reservation${inFlight === 1 ? '' : 's'} or delegation${inFlight === 1 ? '' : 's'} in flight on its parent's budget; delegate to it once they are settled`;
}

export function delegate(st: EngineState, conn: LiveConnection, frame: Delegate): void {
  if (!admit(st, conn, frame.id)) return;
  const parent = conn.agent;
  const childId = scopeId('agent', frame.child);
  const known = st.scopes.get(childId);
  const foreign = conn.key ? delegationRefusal(st, conn.key, frame.child) : null;
  if (foreign !== null) return deny(st, conn.id, frame.id, 'ALIASED', childId, foreign);
  const aliased = known ? aliasedBy(st, conn, known) : undefined;
  if (aliased) return deny(st, conn.id, frame.id, 'ALIASED', childId, aliased);
  const child = place(st, childId, parent);
  if (typeof child === 'string') return deny(st, conn.id, frame.id, 'ALIASED', childId, child);
  const fanout = st.runaway.fanout(conn.chain, parent, child);
  if (fanout) return deny(st, conn.id, frame.id, fanout.code, fanout.scope.id, fanout.message);
  const deltas: Deltas = {};
  if (frame.limits.cost_usd !== undefined) deltas[COST] = usdToNano(frame.limits.cost_usd);
  if (frame.limits.tokens !== undefined) deltas[TOKENS] = frame.limits.tokens;
  const p = periods(st);
  const ask = { kind: 'amount', deltas } as const;
  const ev = fits(conn.chain, ask, 0, { periods: p, limitsOf: (s) => limitsOf(st, s).checks, withheld: siblingsShare(st, conn.chain, p) });
  // A delegation cannot wait for the operator: an approval-mode limit refuses it like a hard one.
  const binding = ev.hard < 0 ? ev.hard_binding : ev.approval < 0 ? ev.approval_binding : undefined;
  if (binding) return deny(st, conn.id, frame.id, 'BUDGET_EXCEEDED', binding.scope.id, `delegating ${describeDeltas(deltas)}: ${exceededMessage(st, binding, ask)}`);
  const placements = placementsFor(conn.chain, deltas);
  for (const pl of placements) addInto(pl.scope.reserved, pl.deltas);
  if (child.hold) extendHold(st, child.hold, placements, deltas);
  else {
    openHold(st, parent, conn.chain, placements, deltas, child, conn.id);
    // The cap counts what the child already spent, so it can spend exactly the delegated amount more.
    const cap: Deltas = {};
    for (const dim in deltas) cap[dim] = (deltas[dim] ?? 0) + (child.counters.life[dim] ?? 0);
    child.cap = cap;
  }
  st.limits_gen += 1;
  markCapChanged(st, child);
  assertPlacedWithin(st, placements);
  const cap = child.cap ?? {};
  const data = { cost_nano: deltas[COST] ?? null, tokens: deltas[TOKENS] ?? null, cap_cost_nano: cap[COST] ?? null, cap_tokens: cap[TOKENS] ?? null, chain: conn.chain.map((s) => s.id) };
  emit(st, { type: 'action', row: { ts: st.now, kind: 'delegate', scope: child.id, actor: parent.id, data } });
  const limits = { ...(frame.limits.cost_usd !== undefined ? { cost_usd: frame.limits.cost_usd } : {}), ...(frame.limits.tokens !== undefined ? { tokens: frame.limits.tokens } : {}) };
  send(st, conn.id, { type: 'delegated', id: frame.id, child: frame.child, limits });
  checkThresholds(st, conn.chain);
}

function extendHold(st: EngineState, hold: HoldReservation, placements: Placement[], deltas: Deltas): void {
  for (const p of placements) {
    const mine = hold.placements.find((q) => q.scope === p.scope);
    if (mine) addInto(mine.deltas as Deltas, p.deltas);
    else hold.placements.push(p);
  }
  addInto(hold.remaining as Deltas, deltas);
  addInto(hold.child.cap as Deltas, deltas);
  hold.expires_ms = st.now + st.config.reservations.lease;
}

/** The hold on `parent`'s chain that funds `child`'s delegated budget (placements already reserved). */
function openHold(st: EngineState, parent: ScopeState, chain: readonly ScopeState[], placements: Placement[], amount: Deltas, child: ScopeState, conn: ConnId | null): void {
  const hold: HoldReservation = {
    id: nextId(st, 'h') as ReservationId,
    kind: 'hold',
    owner: parent,
    chain,
    placements,
    conn,
    expires_ms: st.now + st.config.reservations.lease,
    child,
    remaining: { ...amount },
  };
  st.reservations.set(hold.id, hold);
  st.runaway.adopt(parent, child);
  child.hold = hold;
}

/** Returns a child's unspent delegated budget to its parent. */
export function endDelegation(st: EngineState, child: ScopeState, why: 'bye' | 'expired'): void {
  const hold = child.hold;
  if (!hold) return;
  // What the child delegated further is funded only by the child's hold: it ends first, or a
  // grandchild would keep spending budget its grandparent already got back.
  for (const r of [...st.reservations.values()]) {
    if (r.kind === 'hold' && r.owner === child) endDelegation(st, r.child, why);
  }
  for (const r of [...st.reservations.values()]) {
    if (r.kind === 'call' && r.owner === child) releaseReservation(st, r);
  }
  const returned = { ...hold.remaining };
  releaseReservation(st, hold);
  markCapChanged(st, child);
  if (child.connections === 0) st.runaway.release(child);
  emit(st, { type: 'action', row: { ts: st.now, kind: 'delegation_end', scope: child.id, actor: 'daemon', data: { why, returned_cost_nano: returned[COST] ?? 0, returned_tokens: returned[TOKENS] ?? 0 } } });
  checkThresholds(st, hold.chain);
}

/** A child's cap came or went: its limits and those of its connected sub-agents (max_share) change. */
function markCapChanged(st: EngineState, child: ScopeState): void {
  markChanged(st, child);
  for (const k of child.live_children) markChanged(st, k);
}

/**
 * Whether the delegation to `child` may end now: no sub-agent of it has a reservation in flight.
 * Those were placed only from the child down, on budget the hold funds; ending the hold under
 * them would give that budget back to the parent while they may still spend it.
 */
export function canEnd(st: EngineState, child: ScopeState): boolean {
  for (const r of st.reservations.values()) if (r.kind === 'call' && r.owner !== child && r.chain.includes(child)) return false;
  return true;
}

/** Usage under a delegated scope keeps its hold alive. */
export function touchHold(st: EngineState, chain: readonly ScopeState[]): void {
  for (const s of chain) if (s.hold) s.hold.expires_ms = Math.max(s.hold.expires_ms, st.now + st.config.reservations.lease);
}

/**
 * A restart voids reservations, but a delegation is budget that *moved*: the child keeps its
 * cap, and what it has not spent stays held on its parent's chain, so neither can spend it
 * twice. It ends as any delegation does: on the child's `bye`, or when its lease runs out
 * without the child connected.
 */
export function restoreDelegation(st: EngineState, childId: ScopeId, chainIds: readonly ScopeId[], cap: Deltas): void {
  if (chainIds[0] !== GLOBAL || chainIds.length >= MAX_CHAIN || chainIds.includes(childId)) return;
  const parentChain: ScopeState[] = [scope(st, GLOBAL, null)];
  for (const id of chainIds.slice(1)) {
    const s = place(st, id, parentChain[parentChain.length - 1] as ScopeState);
    if (typeof s === 'string') return;
    parentChain.push(s);
  }
  const parent = parentChain[parentChain.length - 1] as ScopeState;
  if (parent.id === GLOBAL) return;
  const placed = place(st, childId, parent);
  if (typeof placed === 'string') return;
  const child = placed;
  const remaining: Deltas = {};
  for (const dim in cap) remaining[dim] = Math.max(0, (cap[dim] ?? 0) - (child.counters.life[dim] ?? 0));
  const placements = placementsFor(parentChain, remaining);
  for (const p of placements) addInto(p.scope.reserved, p.deltas);
  openHold(st, parent, parentChain, placements, remaining, child, null);
  child.cap = { ...cap };
}
