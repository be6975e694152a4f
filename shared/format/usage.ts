import type { ScopeStatus } from '../protocol/operator.js';
import { count, usd } from './units.js';

/** Which of a scope's limits binds (the most used one), and how to say it: `$3.42/$20 today`. */

type Amounts = ScopeStatus['limit'];
type Path = readonly [string] | readonly [string, string];

const DIMENSIONS = ['cost_usd', 'tokens', 'input_tokens', 'output_tokens', 'calls'] as const;
const WINDOWS: Readonly<Record<string, string>> = { per_hour: 'hour', per_day: 'today', per_week: 'week', per_month: 'month' };

export interface Usage {
  path: Path;
  spent: number;
  reserved: number;
  limit: number | undefined;
  ratio: number;
}

export function amountAt(amounts: Amounts, path: Path): number | undefined {
  const top = amounts[path[0]];
  if (path.length === 1) return typeof top === 'number' ? top : undefined;
  return typeof top === 'object' ? top[path[1]] : undefined;
}

/** The scope's limits it has, cost first, then tokens and calls; plain totals before windows. */
function limitPaths(limit: Amounts): Path[] {
  const paths: Path[] = [];
  for (const dim of DIMENSIONS) if (typeof limit[dim] === 'number') paths.push([dim]);
  for (const window of Object.keys(WINDOWS)) {
    const block = limit[window];
    if (typeof block !== 'object') continue;
    for (const dim of DIMENSIONS) if (typeof block[dim] === 'number') paths.push([window, dim]);
  }
  return paths;
}

function usageAt(scope: ScopeStatus, path: Path): Usage {
  const spent = amountAt(scope.spent, path) ?? 0;
  // A reservation weighs on every window of its dimension; a daemon may report it only once, unwindowed.
  const reserved = amountAt(scope.reserved, path) ?? (path.length === 2 ? amountAt(scope.reserved, [path[1]]) : undefined) ?? 0;
  const limit = amountAt(scope.limit, path);
  const used = spent + reserved;
  const ratio = limit === undefined ? 0 : limit > 0 ? used / limit : used > 0 ? Infinity : 0;
  return { path, spent, reserved, limit, ratio };
}

/** The limit closest to running out — the one an operator must watch; spent cost when there is none. */
export function bindingUsage(scope: ScopeStatus): Usage {
  let best: Usage | undefined;
  for (const path of limitPaths(scope.limit)) {
    const usage = usageAt(scope, path);
    if (!best || usage.ratio > best.ratio) best = usage;
  }
  return best ?? usageAt(scope, ['cost_usd']);
}

/** The binding limit among the cost dimension only: what the dollar columns show. */
export function costUsage(scope: ScopeStatus): Usage {
  return bindingOf(scope, (dim) => dim === 'cost_usd') ?? usageAt(scope, ['cost_usd']);
}

/** The binding limit among tokens and calls, else lifetime tokens: what the TOKENS column shows. */
export function tokenUsage(scope: ScopeStatus): Usage {
  return bindingOf(scope, (dim) => dim !== 'cost_usd') ?? usageAt(scope, ['tokens']);
}

function bindingOf(scope: ScopeStatus, keep: (dim: string) => boolean): Usage | undefined {
  let best: Usage | undefined;
  for (const path of limitPaths(scope.limit)) {
    if (!keep(path[path.length - 1] ?? '')) continue;
    const usage = usageAt(scope, path);
    if (!best || usage.ratio > best.ratio) best = usage;
  }
  return best;
}

/** A TOKENS cell: `90k/100k`, `3/10 calls`, `12.3k` without a limit. */
export function formatTokens(usage: Usage): string {
  const dim = usage.path[usage.path.length - 1] ?? 'tokens';
  const unit = dim === 'tokens' ? '' : dim === 'calls' ? ' calls' : ` ${dim.replace('_tokens', '')}`;
  const window = usage.path.length === 2 ? WINDOWS[usage.path[0]] : undefined;
  return `${count(usage.spent)}${usage.limit === undefined ? '' : `/${count(usage.limit)}`}${unit}${window ? ` ${window}` : ''}`;
}

/** `today`, `hour`, … for a windowed usage; `—` for a lifetime one. */
export function windowOf(usage: Usage): string {
  return usage.path.length === 2 ? (WINDOWS[usage.path[0]] ?? '—') : '—';
}

export function amount(dim: string, n: number): string {
  return dim === 'cost_usd' ? usd(n) : count(n);
}

/** `$3.42/$20 today`, `120k/500k tok`, `$0.80/—`. */
export function formatUsage(usage: Usage): string {
  const dim = usage.path[usage.path.length - 1] ?? 'cost_usd';
  const window = usage.path.length === 2 ? WINDOWS[usage.path[0]] : undefined;
  const limit = usage.limit === undefined ? '—' : amount(dim, usage.limit);
  const unit = dim === 'cost_usd' ? '' : dim === 'calls' ? ' calls' : dim === 'tokens' ? ' tok' : ` ${dim.replace('_tokens', '')} tok`;
  return `${amount(dim, usage.spent)}/${limit}${unit}${window ? ` ${window}` : ''}`;
}

