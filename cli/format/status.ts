import type { Pressure } from '../../shared/protocol/agent.js';
import type { ScopeStatus, StatusJson } from '../../shared/protocol/operator.js';
import { formatPressure, pressureRank } from './pressure.js';
import { renderTable } from './table.js';
import { count, duration, plural, usd } from './units.js';

type Amounts = ScopeStatus['limit'];
type Path = readonly [string] | readonly [string, string];

const DIMENSIONS = ['cost_usd', 'tokens', 'input_tokens', 'output_tokens', 'calls'] as const;
const WINDOWS: Readonly<Record<string, string>> = { per_hour: 'hour', per_day: 'today', per_week: 'week', per_month: 'month' };
const KIND_ORDER = ['global', 'user', 'session', 'task', 'agent'];

interface Usage {
  path: Path;
  spent: number;
  reserved: number;
  limit: number | undefined;
  ratio: number;
}

function amountAt(amounts: Amounts, path: Path): number | undefined {
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

function amount(dim: string, n: number): string {
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

export function sortedScopes(status: StatusJson): [string, ScopeStatus][] {
  const rank = (scope: string): number => {
    const kind = scope.split(':')[0] ?? scope;
    const i = KIND_ORDER.indexOf(kind);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return Object.entries(status.scopes).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

export function renderStatusTable(status: StatusJson): string {
  const header = [
    `${plural(status.agents, 'agent')} · ${plural(status.prompts, 'pending prompt')}`,
    status.config.error
      ? `config error: ${status.config.error}`
      : `config: ${status.config.path ?? 'embedded defaults'} (loaded ${new Date(status.config.loaded_at).toLocaleTimeString()})`,
  ].join('\n');
  const scopes = sortedScopes(status);
  if (scopes.length === 0) return `${header}\n\nno scopes yet: no agent has connected\n`;
  const rows = scopes.map(([id, s]) => {
    const usage = bindingUsage(s);
    const dim = usage.path[usage.path.length - 1] ?? 'cost_usd';
    return [
      id,
      formatUsage(usage),
      usage.reserved > 0 ? amount(dim, usage.reserved) : '—',
      formatPressure(s.pressure, s.ratio),
      s.burn_usd_per_min_1m === null ? '—' : usd(s.burn_usd_per_min_1m),
      s.exhaustion_ms === null ? '—' : duration(s.exhaustion_ms),
      String(s.agents),
      s.killed ? 'KILLED' : '—',
      s.breaker,
    ];
  });
  const table = renderTable(
    ['SCOPE', 'SPENT/LIMIT', 'RESERVED', 'PRESSURE', '$/MIN', 'EMPTY IN', 'AGENTS', 'KILLED', 'BREAKER'],
    rows,
    ['left', 'left', 'right', 'left', 'right', 'right', 'right', 'left', 'left'],
  );
  return `${header}\n\n${table}`;
}

/** The worst pressure over all scopes, and which scope has it (highest ratio among equals). */
function worst(status: StatusJson): { scope: string; pressure: Pressure; ratio: number | null } | undefined {
  let found: { scope: string; pressure: Pressure; ratio: number | null } | undefined;
  for (const [scope, s] of Object.entries(status.scopes)) {
    const better =
      !found ||
      pressureRank(s.pressure) > pressureRank(found.pressure) ||
      (s.pressure === found.pressure && (s.ratio ?? -1) > (found.ratio ?? -1));
    if (better) found = { scope, pressure: s.pressure, ratio: s.ratio };
  }
  return found;
}

/**
 * One line for status bars (SPEC §5): `$3.42/$20 today · $0.21/min · 2 prompts · ok`.
 * Spend is global's per_day when it has one, else its total; a non-ok pressure names its scope.
 */
export function renderStatusLine(status: StatusJson): string {
  const global = status.scopes['global'];
  const parts: string[] = [];
  if (global) {
    const daySpent = amountAt(global.spent, ['per_day', 'cost_usd']);
    const dayLimit = amountAt(global.limit, ['per_day', 'cost_usd']);
    if (daySpent !== undefined || dayLimit !== undefined) {
      parts.push(`${usd(daySpent ?? 0)}${dayLimit === undefined ? '' : `/${usd(dayLimit)}`} today`);
    } else {
      const limit = amountAt(global.limit, ['cost_usd']);
      parts.push(`${usd(amountAt(global.spent, ['cost_usd']) ?? 0)}${limit === undefined ? '' : `/${usd(limit)}`} total`);
    }
    parts.push(`${global.burn_usd_per_min_1m === null ? '—' : usd(global.burn_usd_per_min_1m)}/min`);
  } else {
    parts.push(`${usd(0)} today`, '—/min');
  }
  parts.push(plural(status.prompts, 'prompt'));
  const w = worst(status);
  parts.push(!w || w.pressure === 'ok' ? 'ok' : `${formatPressure(w.pressure, w.ratio)} ${w.scope}`);
  const killed = Object.values(status.scopes).filter((s) => s.killed).length;
  if (killed > 0) parts.push(`${killed} killed`);
  return parts.join(' · ');
}
