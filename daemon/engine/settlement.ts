import { nanoToUsd, usdToNano } from '../../shared/money/money.js';
import { costOf } from '../../shared/money/pricing.js';
import { idempotencyKey, type AgentRequest, type Commit, type Release, type Spend } from '../../shared/protocol/agent.js';
import { alert, emit, limitsOf, periods, send, sendError } from './context.js';
import { COST, TOKENS, addInto, usageDeltas, type Deltas } from './deltas.js';
import { touchHold } from './delegation.js';
import type { EngineState, EngineView } from './engine-state.js';
import { scopeKind } from './scope.js';
import type { UsageRow } from './events.js';
import { crossed } from './fits.js';
import { assertNotNegative } from './invariants.js';
import { formatNano } from './messages.js';
import { checkThresholds } from './pressure.js';
import { pricingAlert } from './reservations.js';
import { recordSpent, type ConnId, type LiveConnection, type Reservation, type ReservationId, type ScopeState } from './state.js';

/** Settling money: commit (a reservation's actual usage), release, spend (usage without one). */

export function releaseReservation(st: EngineState, r: Reservation): void {
  // Once only: ending a delegation releases its child's reservations, and the same sweep of
  // expired leases may reach them again.
  if (!st.reservations.delete(r.id)) return;
  for (const p of r.placements) {
    addInto(p.scope.reserved, p.deltas, -1);
    assertNotNegative(p.scope);
  }
  if (r.kind === 'call') st.runaway.settled(r.chain);
  else {
    r.child.cap = null;
    r.child.hold = null;
    st.limits_gen += 1;
  }
}

/** Ids this daemon issued, in this boot or an earlier one (SPEC §3: spent money is never refused). */
function issuedHere(st: EngineState, id: string): boolean {
  const m = /^r(\d+)-(\d+)$/.exec(id);
  if (!m) return false;
  const epoch = Number(m[1]);
  return epoch < st.epoch || (epoch === st.epoch && Number(m[2]) <= st.seq);
}

/**
 * The live call reservation `id` if `conn`'s agent owns it (`undefined`: it is no longer live),
 * or `null` when it is live but someone else's: only the identity it was granted to settles it.
 */
function ownCall(st: EngineState, conn: LiveConnection, id: string): Extract<Reservation, { kind: 'call' }> | undefined | null {
  const r = st.reservations.get(id as ReservationId);
  if (r === undefined) return undefined;
  return r.kind === 'call' && r.owner === conn.agent ? r : null;
}

/**
 * Idempotency keys live in a namespace: the session, or for an agent holding a key bound below
 * the session (a task, an agent), that key's scope. A key used first by one agent can never make
 * spend outside its own namespace count zero, and the same key retried in the same namespace
 * counts once, across restarts. Within a session, the shared token and session keys trust each
 * other (the proxy and `watch claude-code` must see one call once).
 */
export function namespaceOf(conn: LiveConnection): string {
  const key = conn.key;
  if (key !== null && (scopeKind(key.scope) === 'task' || scopeKind(key.scope) === 'agent')) return key.scope;
  return conn.chain.find((s) => scopeKind(s.id) === 'session')?.id ?? 'session:';
}

/** The ledger's (namespace, key) pair as one string (namespaces never contain a newline). */
export function namespacedKey(ns: string, key: string): string {
  return `${ns}\n${key}`;
}

/** The namespaced key a commit or spend on `conn` would be recorded under (the shell looks it up first). */
export function ledgerKeyFor(st: EngineView, conn: ConnId, frame: AgentRequest): string | undefined {
  const c = st.conns.get(conn);
  const key = idempotencyKey(frame);
  return c?.state === 'live' && key !== undefined ? namespacedKey(namespaceOf(c), key) : undefined;
}

export function commit(st: EngineState, conn: LiveConnection, frame: Commit, keyKnown: boolean): void {
  const key = frame.key ?? frame.reservation;
  const r = ownCall(st, conn, frame.reservation);
  if (r === null) {
    sendError(st, conn.id, frame.id, 'UNKNOWN_RESERVATION', `reservation: ${frame.reservation} was not granted to this agent`);
    return;
  }
  if (!r && !issuedHere(st, frame.reservation)) {
    sendError(st, conn.id, frame.id, 'UNKNOWN_RESERVATION', `reservation: ${frame.reservation} was never issued to this agent`);
    return;
  }
  const model = frame.model ?? r?.model;
  const { cost, warning } = usageCost(st, model, frame);
  const warnings = warning === undefined ? {} : { warnings: [warning] };
  if (keyKnown) {
    // Counted once already; this reservation's hold is still released, or it would pin
    // budget until its lease ends.
    if (r) {
      releaseReservation(st, r);
      checkThresholds(st, r.chain);
    }
    send(st, conn.id, { type: 'ack', id: frame.id, cost_usd: nanoToUsd(cost), duplicate: true, ...warnings });
    return;
  }
  let chain = conn.chain;
  if (r) {
    chain = r.chain;
    releaseReservation(st, r);
    st.adaptive.observe(r.owner.id, model, frame.output_tokens);
  }
  const over = recordUsage(st, conn, chain, 'commit', key, frame, model, cost, r?.cost_nano);
  send(st, conn.id, { type: 'ack', id: frame.id, cost_usd: nanoToUsd(cost), duplicate: false, over, ...warnings });
}

export function release(st: EngineState, conn: LiveConnection, frame: Release): void {
  const r = ownCall(st, conn, frame.reservation);
  if (r === null) {
    sendError(st, conn.id, frame.id, 'UNKNOWN_RESERVATION', `reservation: ${frame.reservation} was not granted to this agent`);
    return;
  }
  if (r) {
    releaseReservation(st, r);
    checkThresholds(st, r.chain);
  } else if (!issuedHere(st, frame.reservation)) {
    sendError(st, conn.id, frame.id, 'UNKNOWN_RESERVATION', `reservation: ${frame.reservation} was never issued to this agent`);
    return;
  }
  send(st, conn.id, { type: 'ack', id: frame.id });
}

export function spend(st: EngineState, conn: LiveConnection, frame: Spend, keyKnown: boolean): void {
  const { cost, warning } = usageCost(st, frame.model, frame);
  const warnings = warning === undefined ? {} : { warnings: [warning] };
  if (keyKnown) {
    send(st, conn.id, { type: 'ack', id: frame.id, cost_usd: nanoToUsd(cost), duplicate: true, over: false, ...warnings });
    return;
  }
  const over = recordUsage(st, conn, conn.chain, 'spend', frame.key, frame, frame.model, cost, undefined);
  send(st, conn.id, { type: 'ack', id: frame.id, cost_usd: nanoToUsd(cost), duplicate: false, over, ...warnings });
}

type UsageFields = { model?: string | undefined; op?: string | undefined; tool?: string | undefined; input_tokens?: number | undefined; output_tokens?: number | undefined; cache_read_tokens?: number | undefined; cache_write_tokens?: number | undefined; cache_write_1h_tokens?: number | undefined; cost_usd?: number | undefined };

function usageCost(st: EngineState, model: string | undefined, u: UsageFields): { cost: number; warning?: string | undefined } {
  if (u.cost_usd !== undefined) return { cost: usdToNano(u.cost_usd) };
  const tokens = (u.input_tokens ?? 0) + (u.output_tokens ?? 0) + (u.cache_read_tokens ?? 0) + (u.cache_write_tokens ?? 0) + (u.cache_write_1h_tokens ?? 0);
  if (model === undefined && tokens === 0) return { cost: 0 };
  const resolved = st.prices.resolve(model);
  if (resolved.warning) pricingAlert(st, model, resolved.warning);
  const cost = costOf(resolved.price, { input_tokens: u.input_tokens ?? 0, output_tokens: u.output_tokens ?? 0, cache_read_tokens: u.cache_read_tokens ?? 0, cache_write_tokens: u.cache_write_tokens ?? 0, cache_write_1h_tokens: u.cache_write_1h_tokens ?? 0 });
  return { cost, warning: resolved.warning };
}

interface RowNames {
  readonly ids: readonly string[];
  readonly user: string;
  readonly session: string;
  readonly task: string;
}

/** A chain's ids and names as its ledger rows carry them; a chain is fixed for a connection's life, so once. */
const rowNamesOf = new WeakMap<readonly ScopeState[], RowNames>();

function rowNames(chain: readonly ScopeState[]): RowNames {
  let names = rowNamesOf.get(chain);
  if (names) return names;
  const ids = chain.map((s) => s.id);
  const named = (kind: string): string => ids.find((id) => id.startsWith(`${kind}:`))?.slice(kind.length + 1) ?? '';
  names = { ids, user: named('user'), session: named('session'), task: named('task') };
  rowNamesOf.set(chain, names);
  return names;
}

/** Records spent money on every scope of the chain; returns whether a hard limit is now crossed. */
/** `model`: the usage's own, or its reservation's when the commit names none. */
function recordUsage(st: EngineState, conn: LiveConnection, chain: readonly ScopeState[], kind: 'commit' | 'spend', key: string, u: UsageFields, model: string | undefined, cost: number, reservedCost: number | undefined): boolean {
  const deltas = usageDeltas({ model, op: u.op, input_tokens: u.input_tokens ?? 0, output_tokens: u.output_tokens ?? 0, cost_nano: cost });
  applyUsage(st, chain, deltas);
  const over = crossed(chain, deltas, periods(st), (s) => limitsOf(st, s).checks);
  const aboveReservation = reservedCost !== undefined && cost > reservedCost;
  if (over || aboveReservation) {
    st.overshoot_total += 1;
    const message = `${kind} ${key} of ${formatNano(cost)}${aboveReservation ? ` exceeds its reservation of ${formatNano(reservedCost)}` : ''}${over ? ' and crosses a limit' : ''}`;
    // Over a limit, every later spend is over too: one alert per crossing (the counter still
    // counts each). A commit above its own reservation is its own event and always says so.
    if (over) st.runaway.notify(conn.agent, 'overshoot', 'critical', 'overshoot', message);
    else alert(st, 'critical', 'overshoot', conn.agent.id, message);
  }
  // Back under every limit: the next crossing alerts again.
  if (!over) st.runaway.rearm(conn.agent, 'overshoot');
  const names = rowNames(chain);
  // The row names the scopes it was charged to (a delegated child's are its delegator's), not what the hello said.
  const row: UsageRow = {
    key,
    ns: namespaceOf(conn),
    ts: st.now,
    kind,
    user: names.user || 'default',
    session: names.session,
    task: names.task,
    agent: conn.agent.id.slice('agent:'.length),
    chain: names.ids,
    model: model ?? null,
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens ?? 0,
    cache_read_tokens: u.cache_read_tokens ?? 0,
    // One column for both kinds of cache write; cost_nano prices each at its own rate.
    cache_write_tokens: (u.cache_write_tokens ?? 0) + (u.cache_write_1h_tokens ?? 0),
    cost_nano: cost,
    tool: u.tool ?? null,
    op: u.op ?? null,
    overshoot: over || aboveReservation,
  };
  emit(st, { type: 'usage', row });
  touchHold(st, chain);
  checkThresholds(st, chain);
  return over;
}

/** Adds spent to every scope; draws every delegation hold on the way up, so nothing counts twice. */
export function applyUsage(st: EngineState, chain: readonly ScopeState[], deltas: Deltas): void {
  const p = periods(st);
  for (const s of chain) {
    recordSpent(s, deltas, p, st.now, st.version);
    s.burn.add(st.now, deltas[COST] ?? 0);
    s.burn_tokens.add(st.now, deltas[TOKENS] ?? 0);
  }
  st.runaway.spent(chain, st.now, deltas[COST] ?? 0);
  for (let i = chain.length - 1; i >= 0; i--) {
    const hold = chain[i]?.hold;
    if (!hold) continue;
    const drawn: Deltas = {};
    for (const dim in hold.remaining) {
      const d = Math.min(deltas[dim] ?? 0, hold.remaining[dim] ?? 0);
      if (d > 0) drawn[dim] = d;
    }
    addInto(hold.remaining as Deltas, drawn, -1);
    for (const pl of hold.placements) {
      const part: Deltas = {};
      for (const dim in drawn) if (dim in pl.deltas) part[dim] = drawn[dim] ?? 0;
      addInto(pl.deltas as Deltas, part, -1);
      addInto(pl.scope.reserved, part, -1);
    }
  }
}
