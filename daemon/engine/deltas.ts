/**
 * A usage or reservation expressed per limit dimension. Dimensions are strings so that every
 * limit kind (cost, tokens, per-model, per-op) is counted, checked and persisted the same way:
 *   cost (nano-USD) · tokens · input_tokens · output_tokens · calls ·
 *   model:<name>:tokens · model:<name>:cost · op:<name>
 */
export type Dim = string;
export type Deltas = Record<Dim, number>;

export const COST: Dim = 'cost';
export const TOKENS: Dim = 'tokens';
export const INPUT_TOKENS: Dim = 'input_tokens';
export const OUTPUT_TOKENS: Dim = 'output_tokens';
export const CALLS: Dim = 'calls';
export const modelTokensDim = (model: string): Dim => `model:${model}:tokens`;
export const modelCostDim = (model: string): Dim => `model:${model}:cost`;
export const opDim = (op: string): Dim => `op:${op}`;

export interface UsageAmounts {
  readonly model?: string | undefined;
  readonly op?: string | undefined;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cost_nano: number;
}

/** Cache tokens are priced but, per SPEC §3, `tokens` counts input + output only. */
export function usageDeltas(u: UsageAmounts): Deltas {
  // Plain keys (the values of COST … CALLS): a literal V8 builds from one template, fast.
  const d: Deltas = { cost: u.cost_nano, tokens: u.input_tokens + u.output_tokens, input_tokens: u.input_tokens, output_tokens: u.output_tokens, calls: 1 };
  if (u.model !== undefined) {
    d[modelTokensDim(u.model)] = u.input_tokens + u.output_tokens;
    d[modelCostDim(u.model)] = u.cost_nano;
  }
  if (u.op !== undefined) d[opDim(u.op)] = 1;
  return d;
}

/** Whether no dimension holds an amount (addInto deletes zeros, so empty means zero). */
export function isEmpty(d: Deltas): boolean {
  for (const _ in d) return false;
  return true;
}

export function addInto(target: Deltas, d: Deltas, sign: 1 | -1 = 1): void {
  for (const k in d) {
    const v = (target[k] ?? 0) + sign * (d[k] ?? 0);
    if (v === 0) delete target[k];
    else target[k] = v;
  }
}
