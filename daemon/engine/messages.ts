import { usd } from '../../shared/format/units.js';
import { nanoToUsd } from '../../shared/money/money.js';
import { COST, TOKENS, type Deltas } from './deltas.js';
import { limitsOf, periods } from './context.js';
import type { EngineView } from './engine-state.js';
import { askDeltas, usedFor, type Ask, type Binding } from './fits.js';
import type { Check } from './limits.js';
import { pressureOf, ratioOf } from './pressure.js';
import type { ScopeState } from './state.js';

/** How limits, amounts and refusals read in messages and in the welcome's budgets. */

/** Dollars in messages read as everywhere else (shared/format/units.ts `usd`): one money format. */
export function formatNano(nano: number): string {
  return usd(nanoToUsd(nano));
}

export function checkName(c: Check): string {
  const dim = c.dim === COST ? 'cost_usd' : c.dim;
  return c.window === 'life' ? dim : `per_${c.window}.${dim}`;
}

export function checkFigure(c: Check, v: number): string {
  return c.dim === COST || c.dim.endsWith(':cost') ? formatNano(v) : String(v);
}

export function describeDeltas(d: Deltas): string {
  const parts: string[] = [];
  if (d[COST] !== undefined) parts.push(formatNano(d[COST]));
  if (d[TOKENS] !== undefined) parts.push(`${d[TOKENS]} tokens`);
  return parts.join(' and ');
}

export function exceededMessage(st: EngineView, b: Binding, ask: Ask): string {
  const c = b.check;
  const used = usedFor(b.scope, c, periods(st));
  const need = askDeltas(ask, 1)[c.dim] ?? 0;
  return `${b.scope.id} ${checkName(c)} limit ${checkFigure(c, c.limit)} (${c.mode}${c.source !== 'config' ? `, ${c.source}` : ''}): ${checkFigure(c, used)} used or reserved, this request needs at least ${checkFigure(c, need)}`;
}

export function budgetView(st: EngineView, s: ScopeState): { limit: Record<string, number>; spent: Record<string, number>; reserved: Record<string, number>; pressure: ReturnType<typeof pressureOf> } {
  const limit: Record<string, number> = {};
  const spent: Record<string, number> = {};
  const reserved: Record<string, number> = {};
  const p = periods(st);
  for (const c of limitsOf(st, s).checks) {
    const name = checkName(c);
    limit[name] = c.dim === COST ? nanoToUsd(c.limit) : c.limit;
    const used = usedFor(s, c, p) - (s.reserved[c.dim] ?? 0);
    spent[name] = c.dim === COST ? nanoToUsd(used) : used;
  }
  spent.cost_usd = nanoToUsd(s.counters.life[COST] ?? 0);
  spent.tokens = s.counters.life[TOKENS] ?? 0;
  reserved.cost_usd = nanoToUsd(s.reserved[COST] ?? 0);
  reserved.tokens = s.reserved[TOKENS] ?? 0;
  return { limit, spent, reserved, pressure: pressureOf(ratioOf(st, s), st.config.thresholds) };
}
