import { nanoToUsd, usdToNano } from '../../shared/money/money.js';
import { priceAt, type ModelPrice } from '../../shared/money/pricing.js';
import type { Reserve } from '../../shared/protocol/agent.js';
import { adaptiveOutput } from './adaptive.js';
import { admit } from './admission.js';
import { createPrompt, tryGrace } from './approvals.js';
import { alert, deny, limitsOf, nextId, periods, send } from './context.js';
import { COST, addInto } from './deltas.js';
import { touchHold } from './delegation.js';
import { MAX_ALERTS, type EngineState } from './engine-state.js';
import { askDeltas, fits, placementsFor, usedFor, type Binding, type CallAsk } from './fits.js';
import { assertPlacedWithin } from './invariants.js';
import { exceededMessage } from './messages.js';
import { checkThresholds, delayFor, pressureOf } from './pressure.js';
import { GLOBAL } from './scope.js';
import { siblingsShare } from './shares.js';
import { fleetOf, type CallReservation, type LiveConnection, type Placement, type ReservationId, type ScopeState } from './state.js';

/** How a parked request is retried after the operator's answer. */
export interface RetryOptions {
  /** The approval limit of this scope is waived for this one request (`once`). */
  readonly onceAt?: ScopeState | undefined;
  /** A grant was not enough: deny rather than prompt again. */
  readonly noPrompt?: boolean | undefined;
  /** A `confirm` tool the operator confirmed. */
  readonly confirmed?: boolean | undefined;
}

/** Once per model (bounded): an operator should know some spend is priced by guesswork. */
export function pricingAlert(st: EngineState, model: string | undefined, warning: string): void {
  const name = model ?? '';
  if (st.priced_by_default.has(name) || st.priced_by_default.size >= MAX_ALERTS) return;
  st.priced_by_default.add(name);
  alert(st, 'warning', 'pricing', GLOBAL, `${warning}; add it under pricing.models in the config to price it exactly`);
}

function askOf(st: EngineState, frame: Reserve, warnings: string[]): CallAsk {
  const fixed = frame.cost_usd === undefined ? undefined : usdToNano(frame.cost_usd);
  const hasTokens = frame.input_tokens !== undefined || frame.max_output_tokens !== undefined;
  let price: ModelPrice = st.prices.resolve(undefined).price;
  if (fixed === undefined && (frame.model !== undefined || hasTokens)) {
    const resolved = st.prices.resolve(frame.model);
    price = resolved.price;
    if (resolved.warning) {
      warnings.push(resolved.warning);
      pricingAlert(st, frame.model, resolved.warning);
    }
  }
  // Priced at the tier its own input lands in (its cache split is unknown: all of it counts as
  // fresh input, the worst case), so a clamp never under-reserves a long-context call.
  const input = frame.input_tokens ?? 0;
  return { kind: 'call', model: frame.model, op: frame.op, price: priceAt(price, input), input_tokens: input, fixed_cost_nano: fixed ?? (frame.model === undefined && !hasTokens ? 0 : undefined) };
}

export function reserve(st: EngineState, conn: LiveConnection, frame: Reserve, opts: RetryOptions): void {
  if (!admit(st, conn, frame.id)) return;
  const warnings: string[] = [];
  const ask = askOf(st, frame, warnings);
  const llm = ask.fixed_cost_nano === undefined;
  let desired = llm ? (frame.max_output_tokens ?? st.config.reservations.default_max_output_tokens) : (frame.max_output_tokens ?? 0);
  if (llm && st.config.reservations.adaptive) desired = adaptiveOutput(st.adaptive, conn.agent.id, frame.model, desired);
  const minOut = llm && desired > 0 ? 1 : 0;
  const refusal = st.runaway.gate(conn.chain, frame, () => (askDeltas(ask, desired)[COST] ?? 0) / 1e9, st.now, (s) => limitsOf(st, s), fleetOf(conn));
  if (refusal && !(refusal.confirm && opts.confirmed)) {
    if (refusal.confirm && !opts.noPrompt) createPrompt(st, conn, frame, 'tool', refusal.scope, refusal.message, ask, desired);
    else deny(st, conn.id, frame.id, refusal.code, refusal.scope.id, refusal.message, refusal.retry_after_ms);
    return;
  }
  const p = periods(st);
  const ev = fits(conn.chain, ask, desired, { periods: p, limitsOf: (s) => limitsOf(st, s).checks, skipApprovalAt: opts.onceAt, withheld: siblingsShare(st, conn.chain, p) });
  let output = Math.min(desired, ev.hard);
  let usedGrace = false;
  const hardBlocked = ev.hard < minOut;
  if (hardBlocked) {
    const b = ev.hard_binding;
    return deny(st, conn.id, frame.id, 'BUDGET_EXCEEDED', b?.scope.id ?? GLOBAL, b ? exceededMessage(st, b, ask) : 'budget exceeded');
  }
  if (ev.approval < desired) {
    // Critical grace stands in for a prompt on an approval-mode limit: never for a hard one.
    const graced = frame.critical ? tryGrace(st, conn.chain, ask, desired, opts.onceAt) : undefined;
    if (graced !== undefined) {
      output = graced;
      usedGrace = true;
      warnings.push('critical grace overdraft used: this scope gets it once');
    } else {
      const b = ev.approval_binding as Binding;
      if (opts.noPrompt) return deny(st, conn.id, frame.id, 'BUDGET_EXCEEDED', b.scope.id, `${exceededMessage(st, b, ask)}; the grant was not enough, ask again`);
      return createPrompt(st, conn, frame, 'budget', b.scope, exceededMessage(st, b, ask), ask, desired);
    }
  }
  const r = place(st, conn, ask, output, frame);
  if (usedGrace) markGraceUsed(st, r.placements);
  for (const b of ev.soft) warnings.push(`soft limit: ${exceededMessage(st, b, ask)}`);
  if (llm && output < desired) warnings.push(`max_output_tokens clamped from ${desired} to ${output} by the remaining budget`);
  const ratio = checkThresholds(st, conn.chain);
  const pressure = pressureOf(ratio, st.config.thresholds);
  const suggested = pressure === 'critical' || pressure === 'exceeded' ? st.config.routing[frame.model ?? ''] : undefined;
  send(st, conn.id, {
    type: 'grant',
    id: frame.id,
    reservation: r.id,
    max_output_tokens: output,
    cost_usd: nanoToUsd(r.cost_nano),
    delay_ms: delayFor(ratio, st.config.backpressure),
    pressure,
    expires_ms: st.config.reservations.lease,
    warnings,
    ...(suggested ? { suggested_model: suggested } : {}),
  });
}

/** Holds `output` tokens' worth of the ask on every scope of the chain that pays for it. */
function place(st: EngineState, conn: LiveConnection, ask: CallAsk, output: number, frame: Reserve): CallReservation {
  const deltas = askDeltas(ask, output);
  const placements = placementsFor(conn.chain, deltas);
  const r: CallReservation = {
    id: nextId(st, 'r') as ReservationId,
    kind: 'call',
    owner: conn.agent,
    chain: conn.chain,
    placements,
    cost_nano: deltas[COST] ?? 0,
    model: frame.model,
    op: frame.op,
    max_output_tokens: output,
    conn: conn.id,
    expires_ms: st.now + st.config.reservations.lease,
  };
  for (const pl of placements) addInto(pl.scope.reserved, pl.deltas);
  assertPlacedWithin(st, placements);
  st.reservations.set(r.id, r);
  st.runaway.recordGrant(conn.chain, st.now, fleetOf(conn));
  st.runaway.granted(conn.chain, st.now);
  touchHold(st, conn.chain);
  return r;
}

/** The scopes whose approval limit the grace stood in for have had theirs. */
function markGraceUsed(st: EngineState, placements: readonly Placement[]): void {
  const p = periods(st);
  for (const pl of placements) {
    const over = limitsOf(st, pl.scope).checks.some((c) => c.mode === 'approval' && c.source === 'config' && usedFor(pl.scope, c, p) > c.limit);
    if (!over) continue;
    pl.scope.counters.grace_used = true;
    // A counter like any other: saved with the next snapshot, so a restart does not give it back.
    pl.scope.counters_version = st.version;
  }
}
