import { usdToNano } from '../../shared/money/money.js';
import type { Config, Dims, LimitBlock, Mode } from '../config/schema.js';
import { CALLS, COST, INPUT_TOKENS, OUTPUT_TOKENS, TOKENS, modelCostDim, modelTokensDim, opDim, type Dim } from './deltas.js';
import type { CalendarWindow } from './periods.js';
import { scopeKind, type ScopeId } from './scope.js';

export type Window = 'life' | CalendarWindow;

/** One limit of one scope: `spent[window][dim] + reserved[dim] ≤ limit` (cost in nano-USD). */
export interface Check {
  readonly window: Window;
  readonly dim: Dim;
  readonly limit: number;
  readonly mode: Mode;
  /** Where the figure comes from, for messages and the TUI. */
  readonly source: 'config' | 'delegation' | 'max_share';
}

export interface ScopeLimits {
  readonly mode: Mode;
  readonly checks: readonly Check[];
  readonly maxShare?: number | undefined;
  readonly minShare?: number | undefined;
  readonly wallTimeMs?: number | undefined;
  readonly callsPerMin?: number | undefined;
}

export const NO_LIMITS: ScopeLimits = { mode: 'hard', checks: [] };

const CALENDAR_KEYS: ReadonlyArray<readonly [keyof LimitBlock, CalendarWindow]> = [
  ['per_hour', 'hour'],
  ['per_day', 'day'],
  ['per_week', 'week'],
  ['per_month', 'month'],
];

function dimsToChecks(window: Window, dims: Dims, mode: Mode, out: Check[]): void {
  const add = (dim: Dim, limit: number | undefined): void => {
    if (limit !== undefined) out.push({ window, dim, limit, mode, source: 'config' });
  };
  add(COST, dims.cost_usd === undefined ? undefined : usdToNano(dims.cost_usd));
  add(TOKENS, dims.tokens);
  add(INPUT_TOKENS, dims.input_tokens);
  add(OUTPUT_TOKENS, dims.output_tokens);
  add(CALLS, dims.calls);
  for (const [model, m] of Object.entries(dims.models ?? {})) {
    add(modelTokensDim(model), m.tokens);
    add(modelCostDim(model), m.cost_usd === undefined ? undefined : usdToNano(m.cost_usd));
  }
  for (const [op, n] of Object.entries(dims.ops ?? {})) add(opDim(op), n);
}

export function compileBlock(block: LimitBlock | undefined): ScopeLimits {
  if (!block) return NO_LIMITS;
  const mode = block.mode ?? 'hard';
  const checks: Check[] = [];
  dimsToChecks('life', block, mode, checks);
  for (const [key, window] of CALENDAR_KEYS) {
    const dims = block[key];
    if (dims && typeof dims === 'object') dimsToChecks(window, dims as Dims, mode, checks);
  }
  return { mode, checks, maxShare: block.max_share, minShare: block.min_share, wallTimeMs: block.wall_time, callsPerMin: block.calls_per_min };
}

/** The kind's defaults with the named scope's override laid over them, key by key. */
export function blockFor(config: Config, scope: ScopeId): LimitBlock | undefined {
  const kindDefaults = config.limits[scopeKind(scope)];
  const named = config.scopes[scope];
  if (!named) return kindDefaults;
  return { ...(kindDefaults ?? {}), ...named };
}
