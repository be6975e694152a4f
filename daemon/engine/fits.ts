import type { ModelPrice } from '../../shared/money/pricing.js';
import { costOf } from '../../shared/money/pricing.js';
import { COST, INPUT_TOKENS, OUTPUT_TOKENS, TOKENS, usageDeltas, type Deltas, type Dim } from './deltas.js';
import type { Check } from './limits.js';
import type { PeriodKeys } from './periods.js';
import { spentIn, type Placement, type ScopeState } from './state.js';

/** What a reservation asks for, as a function of the output tokens it will be granted. */
export interface CallAsk {
  readonly kind: 'call';
  readonly model: string | undefined;
  readonly op: string | undefined;
  readonly price: ModelPrice;
  readonly input_tokens: number;
  /** Set for non-LLM tools: the cost does not depend on output tokens. */
  readonly fixed_cost_nano: number | undefined;
}

/** A fixed amount that does not depend on output tokens: a delegation, or usage already spent. */
export interface AmountAsk {
  readonly kind: 'amount';
  readonly deltas: Deltas;
}

export type Ask = CallAsk | AmountAsk;

export function askDeltas(ask: Ask, outputTokens: number): Deltas {
  if (ask.kind === 'amount') return ask.deltas;
  const cost_nano =
    ask.fixed_cost_nano ??
    costOf(ask.price, { input_tokens: ask.input_tokens, output_tokens: outputTokens, cache_read_tokens: 0, cache_write_tokens: 0 });
  return usageDeltas({ model: ask.model, op: ask.op, input_tokens: ask.input_tokens, output_tokens: outputTokens, cost_nano });
}

const COVERABLE: readonly Dim[] = [COST, TOKENS];

/**
 * Index into `chain` (root first) of the first scope that holds budget for `dim`. A delegated
 * child's cost and tokens are funded by the hold on its parent, so scopes above the nearest
 * delegated scope are neither checked nor charged for those dimensions (the hold already is).
 */
export function segmentStart(chain: readonly ScopeState[], dim: Dim): number {
  if (!COVERABLE.includes(dim)) return 0;
  for (let i = chain.length - 1; i >= 0; i--) {
    const cap = chain[i]?.cap;
    if (cap && cap[dim] !== undefined) return i;
  }
  return 0;
}

/** Splits `deltas` into what each scope of the chain is charged. */
export function placementsFor(chain: readonly ScopeState[], deltas: Deltas): Placement[] {
  // No delegated scope on the chain (the common case): every scope is charged everything.
  if (!chain.some((s) => s.cap)) return chain.map((scope) => ({ scope, deltas: { ...deltas } }));
  const starts = new Map<number, Deltas>();
  for (const dim in deltas) {
    const start = segmentStart(chain, dim);
    let d = starts.get(start);
    if (!d) starts.set(start, (d = {}));
    d[dim] = deltas[dim] ?? 0;
  }
  const out: Placement[] = [];
  for (let i = 0; i < chain.length; i++) {
    const scope = chain[i];
    if (!scope) continue;
    const d: Deltas = {};
    let any = false;
    for (const [start, part] of starts) {
      if (start <= i) {
        Object.assign(d, part);
        any = true;
      }
    }
    if (any) out.push({ scope, deltas: d });
  }
  return out;
}

export function usedFor(scope: ScopeState, check: Check, periods: PeriodKeys): number {
  return (spentIn(scope, check.window, periods)[check.dim] ?? 0) + (scope.reserved[check.dim] ?? 0);
}

const UNBOUNDED = Number.POSITIVE_INFINITY;
const IMPOSSIBLE = -1;

/** Largest output-token count that keeps `used + ask ≤ limit` for this check. */
export function maxOutputUnder(ask: Ask, dim: Dim, remaining: number, modelCostDim: Dim | undefined, modelTokensDim: Dim | undefined): number {
  if (ask.kind === 'amount') return (ask.deltas[dim] ?? 0) <= remaining ? UNBOUNDED : IMPOSSIBLE;
  if (dim === COST || dim === modelCostDim) {
    if (ask.fixed_cost_nano !== undefined) return ask.fixed_cost_nano <= remaining ? UNBOUNDED : IMPOSSIBLE;
    if (remaining < 0) return IMPOSSIBLE;
    // ceil((i·pin + o·pout) / 1e6) ≤ R  ⇔  i·pin + o·pout ≤ R·1e6 (all integers)
    const budget = BigInt(remaining) * 1_000_000n - BigInt(ask.input_tokens) * BigInt(ask.price.input_nano_per_mtok);
    if (budget < 0n) return IMPOSSIBLE;
    if (ask.price.output_nano_per_mtok === 0) return UNBOUNDED;
    const o = budget / BigInt(ask.price.output_nano_per_mtok);
    return o > BigInt(Number.MAX_SAFE_INTEGER) ? UNBOUNDED : Number(o);
  }
  if (dim === TOKENS || dim === modelTokensDim) return remaining - ask.input_tokens >= 0 ? remaining - ask.input_tokens : IMPOSSIBLE;
  if (dim === OUTPUT_TOKENS) return remaining >= 0 ? remaining : IMPOSSIBLE;
  if (dim === INPUT_TOKENS) return ask.input_tokens <= remaining ? UNBOUNDED : IMPOSSIBLE;
  // calls, op:* — one per request
  return remaining >= 1 ? UNBOUNDED : IMPOSSIBLE;
}

export interface Binding {
  readonly scope: ScopeState;
  readonly check: Check;
  readonly max_output: number;
}

export interface Evaluation {
  /** Largest output each mode allows (−1: not even with zero output). */
  readonly hard: number;
  readonly approval: number;
  readonly hard_binding: Binding | undefined;
  readonly approval_binding: Binding | undefined;
  /** Soft checks the request crosses at `desired` output. */
  readonly soft: Binding[];
}

export interface FitOptions {
  readonly periods: PeriodKeys;
  /** Checks to leave out (an approval limit waived once by the operator). */
  readonly skipApprovalAt?: ScopeState | undefined;
  /** Extra allowance per scope (critical grace), added to hard and approval limits. */
  readonly grace?: ((scope: ScopeState, check: Check) => number) | undefined;
  /** Budget of a scope kept back from this request (siblings' min_share). */
  readonly withheld?: ((scope: ScopeState, check: Check) => number) | undefined;
  readonly limitsOf: (scope: ScopeState) => readonly Check[];
}

/**
 * The one place that decides whether an amount fits every limit of a chain — cost, tokens,
 * calls, per-model, per-op, calendar windows, shares and delegated caps — for reserve, delegate
 * and critical grace alike: how much output each mode allows, and which limit binds.
 */
export function fits(chain: readonly ScopeState[], ask: Ask, desired: number, opts: FitOptions): Evaluation {
  const dims = askDeltas(ask, desired);
  const model = ask.kind === 'call' ? ask.model : undefined;
  const modelCost = model === undefined ? undefined : `model:${model}:cost`;
  const modelTokens = model === undefined ? undefined : `model:${model}:tokens`;
  let hard = UNBOUNDED;
  let approval = UNBOUNDED;
  let hardBinding: Binding | undefined;
  let approvalBinding: Binding | undefined;
  const soft: Binding[] = [];
  const starts = new Map<Dim, number>();
  for (let i = 0; i < chain.length; i++) {
    const scope = chain[i];
    if (!scope) continue;
    for (const check of opts.limitsOf(scope)) {
      if (!(check.dim in dims)) continue;
      let start = starts.get(check.dim);
      if (start === undefined) starts.set(check.dim, (start = segmentStart(chain, check.dim)));
      if (i < start) continue;
      const extra = (opts.grace ? opts.grace(scope, check) : 0) - (opts.withheld ? opts.withheld(scope, check) : 0);
      const remaining = check.limit + extra - usedFor(scope, check, opts.periods);
      const o = maxOutputUnder(ask, check.dim, remaining, modelCost, modelTokens);
      if (check.mode === 'hard' || check.source !== 'config') {
        if (o < hard) {
          hard = o;
          hardBinding = { scope, check, max_output: o };
        }
      } else if (check.mode === 'approval') {
        if (opts.skipApprovalAt === scope) continue;
        if (o < approval) {
          approval = o;
          approvalBinding = { scope, check, max_output: o };
        }
      } else if (o < desired) {
        soft.push({ scope, check, max_output: o });
      }
    }
  }
  return { hard, approval, hard_binding: hardBinding, approval_binding: approvalBinding, soft };
}

/**
 * Whether usage already recorded took any scope of the chain past a limit that is not soft, in
 * the dimensions it touched (spend events always record; this is what they report as `over`).
 */
export function crossed(chain: readonly ScopeState[], dims: Deltas, periods: PeriodKeys, limitsOf: (scope: ScopeState) => readonly Check[]): boolean {
  for (const s of chain) {
    for (const c of limitsOf(s)) {
      if (c.mode !== 'soft' && c.dim in dims && usedFor(s, c, periods) > c.limit) return true;
    }
  }
  return false;
}
