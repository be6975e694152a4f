import type { Pressure } from '../../shared/protocol/agent.js';
import type { LedgerHealth, ScopeStatus, StatusJson } from '../../shared/protocol/operator.js';
import { formatPressure, isPressure, pressureRank } from '../../shared/format/pressure.js';
import { amountAt, costUsage, formatTokens, tokenUsage, windowOf } from '../../shared/format/usage.js';
import { burnText, exhaustionText, nextExhaustion } from '../../shared/format/projection.js';
import { buildTree, isHot, type SortKey, withAncestors } from '../../shared/format/scope-tree.js';
import { renderTable } from './table.js';
import { duration, plural, usd, usdColumn } from '../../shared/format/units.js';

export interface TreeChoice {
  readonly sort: SortKey;
  /** Only scopes that need the operator, with their ancestors. */
  readonly hot: boolean;
}

/**
 * The scopes as the tree the TUI draws (the same builder): each under its parent, siblings in
 * `sort` order; the id indented two spaces per level.
 */
export function scopeTreeRows(status: StatusJson, choice: TreeChoice = { sort: 'name', hot: false }): [string, ScopeStatus, number][] {
  const keep = choice.hot
    ? withAncestors(
        status.scopes,
        Object.entries(status.scopes)
          .filter(([, s]) => isHot(s))
          .map(([id]) => id),
      )
    : null;
  return buildTree(status.scopes, { sort: choice.sort, keep }).flatMap((row) => {
    const scope = status.scopes[row.id];
    return scope ? [[row.id, scope, row.depth] as [string, ScopeStatus, number]] : [];
  });
}

/**
 * While the ledger cannot be written the daemon fails closed; said first and loudly, in words
 * (no colour needed): `✖ LEDGER UNAVAILABLE since 12:03:04: database or disk is full — …`.
 */
export function ledgerWarning(status: StatusJson): string | null {
  const { ledger } = status;
  if (ledger.writable) return null;
  const since = ledger.since_ms === null ? '' : ` since ${new Date(ledger.since_ms).toLocaleTimeString()}`;
  return `✖ LEDGER UNAVAILABLE${since}: ${ledger.error ?? 'writes fail'} — reserves and delegations are denied UNAVAILABLE and spend is not acknowledged until it can write; free disk space under the state dir`;
}

export function renderStatusTable(status: StatusJson, choice: TreeChoice = { sort: 'name', hot: false }): string {
  const warning = ledgerWarning(status);
  const header = [
    ...(warning === null ? [] : [warning]),
    `${plural(status.agents, 'agent')} · ${plural(status.prompts, 'pending prompt')}`,
    status.config.error
      ? `config error: ${status.config.error}`
      : `config: ${status.config.path ?? 'embedded defaults'} (loaded ${new Date(status.config.loaded_at).toLocaleTimeString()})`,
  ].join('\n');
  const scopes = scopeTreeRows(status, choice);
  if (Object.keys(status.scopes).length === 0) return `${header}\n\nno scopes yet: no agent has connected\n`;
  if (scopes.length === 0) return `${header}\n\nnothing is hot: no scope under pressure, killed or with an open breaker (drop --hot to see all)\n`;
  const costs = scopes.map(([, s]) => costUsage(s));
  // Each dollar column has one number of decimals, so the points line up (issue 13).
  const spent = usdColumn(costs.map((u) => u.spent));
  const limits = usdColumn(costs.map((u) => u.limit ?? null));
  const reserved = usdColumn(costs.map((u) => (u.reserved > 0 ? u.reserved : null)));
  const rows = scopes.map(([id, s, depth], i) => [
    `${'  '.repeat(depth)}${id}`,
    spent[i] ?? '—',
    limits[i] ?? '—',
    windowOf(costs[i] ?? costUsage(s)),
    reserved[i] ?? '—',
    formatTokens(tokenUsage(s)),
    formatPressure(s.pressure, s.ratio),
    // The same string as the TUI header and `status --line` (issue 13): a rate is one figure
    // everywhere, so this column is not padded to common decimals like the amounts are.
    s.burn_usd_per_min_1m === null ? '—' : burnText(s.burn_usd_per_min_1m),
    s.exhaustion_ms === null ? '—' : duration(s.exhaustion_ms),
    String(s.agents),
    killedText(s),
    s.breaker,
  ]);
  const table = renderTable(
    ['SCOPE', 'SPENT', 'LIMIT', 'PER', 'RESERVED', 'TOKENS', 'PRESSURE', 'BURN', 'EMPTY IN', 'AGENTS', 'KILLED', 'BREAKER'],
    rows,
    ['left', 'right', 'right', 'left', 'right', 'right', 'left', 'right', 'right', 'right', 'left', 'left'],
  );
  const shown = status.scopes_total !== undefined && status.scopes_total > Object.keys(status.scopes).length ? `\n${Object.keys(status.scopes).length} of ${status.scopes_total} scopes shown: those that need the operator, then the most recently active\n` : '';
  return `${header}\n\n${table}${shown}`;
}

/** `KILLED` for its own kill, `KILLED (by task:t)` for one inherited from an ancestor: either way it is stopped, and the name says what to resume. */
export function killedText(s: Pick<ScopeStatus, 'killed' | 'killed_by'>): string {
  if (s.killed) return 'KILLED';
  return s.killed_by === null ? '—' : `KILLED (by ${s.killed_by})`;
}

type StatusLineScope = Pick<ScopeStatus, 'limit' | 'spent' | 'pressure' | 'ratio' | 'killed' | 'burn_usd_per_min_1m' | 'exhaustion_ms'> &
  Partial<Pick<ScopeStatus, 'killed_by' | 'burn_tokens_per_min_1m'>>;

/** What `status --line` prints from: a part of `StatusJson`, so a whole status will do. */
export interface StatusLineView {
  readonly scopes: Readonly<Record<string, StatusLineScope>>;
  readonly prompts: number;
  readonly ledger: Pick<LedgerHealth, 'writable'>;
}

/** The worst pressure over all scopes, and which scope has it (highest ratio among equals). */
function worst(status: StatusLineView): { scope: string; pressure: Pressure; ratio: number | null } | undefined {
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
 * While the ledger cannot be written the line ends in `LEDGER UNAVAILABLE` instead of `ok` (a
 * non-ok pressure is still named before it): the daemon is failing closed.
 */
export function renderStatusLine(status: StatusLineView): string {
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
    parts.push(burnText(global.burn_usd_per_min_1m));
  } else {
    parts.push(`${usd(0)} today`, burnText(null));
  }
  // Only a real projection: a status bar has no room for "—". Which scope waits on a prompt is
  // not in this view; the prompt count below says that there is one.
  const next = nextExhaustion(status.scopes);
  if (next.kind !== 'none') parts.push(exhaustionText(next));
  parts.push(plural(status.prompts, 'prompt'));
  const w = worst(status);
  const pressureOk = !w || w.pressure === 'ok';
  if (!pressureOk) parts.push(`${formatPressure(w.pressure, w.ratio)} ${w.scope}`);
  else if (status.ledger.writable) parts.push('ok');
  const killed = Object.values(status.scopes).filter((s) => s.killed).length;
  if (killed > 0) parts.push(`${killed} killed`);
  if (!status.ledger.writable) parts.push('LEDGER UNAVAILABLE');
  return parts.join(' · ');
}

type Read<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * The daemon's `status` body read for `status --line`: the fields the line prints, checked by
 * hand with the same rules as `StatusJson` (a missing `ledger` is writable, as its default says),
 * the rest left unread. `status` and `status --json` check the whole body with the schema; the
 * line is what status bars run every few seconds, and zod alone takes longer to load than node
 * takes to start. status-line.test.ts holds this to `StatusJson`.
 */
export function readStatusLine(raw: unknown): Read<StatusLineView> {
  if (!isRecord(raw)) return fail('status', 'expected an object');
  if (typeof raw.prompts !== 'number') return fail('status.prompts', 'expected a number');
  const ledger = raw.ledger === undefined ? { writable: true } : raw.ledger;
  if (!isRecord(ledger) || typeof ledger.writable !== 'boolean') return fail('status.ledger.writable', 'expected a boolean');
  if (!isRecord(raw.scopes)) return fail('status.scopes', 'expected an object');
  const scopes: Record<string, StatusLineView['scopes'][string]> = {};
  for (const [id, scope] of Object.entries(raw.scopes)) {
    const at = `status.scopes.${id}`;
    if (!isRecord(scope)) return fail(at, 'expected an object');
    const { limit, spent, pressure, ratio, killed, burn_usd_per_min_1m, exhaustion_ms } = scope;
    if (!isAmounts(limit)) return fail(`${at}.limit`, 'expected amounts');
    if (!isAmounts(spent)) return fail(`${at}.spent`, 'expected amounts');
    if (!isPressure(pressure)) return fail(`${at}.pressure`, 'expected ok, warning, critical or exceeded');
    if (!isNumberOrNull(ratio)) return fail(`${at}.ratio`, 'expected a number or null');
    if (typeof killed !== 'boolean') return fail(`${at}.killed`, 'expected a boolean');
    if (!isNumberOrNull(burn_usd_per_min_1m)) return fail(`${at}.burn_usd_per_min_1m`, 'expected a number or null');
    if (!isNumberOrNull(exhaustion_ms)) return fail(`${at}.exhaustion_ms`, 'expected a number or null');
    const killed_by = typeof scope.killed_by === 'string' ? scope.killed_by : null;
    const burn_tokens_per_min_1m = typeof scope.burn_tokens_per_min_1m === 'number' ? scope.burn_tokens_per_min_1m : null;
    scopes[id] = { limit, spent, pressure, ratio, killed, burn_usd_per_min_1m, exhaustion_ms, killed_by, burn_tokens_per_min_1m };
  }
  return { ok: true, value: { scopes, prompts: raw.prompts, ledger: { writable: ledger.writable } } };
}

function fail(path: string, reason: string): { ok: false; reason: string } {
  return { ok: false, reason: `${path}: ${reason}` };
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNumberOrNull(value: unknown): value is number | null {
  return value === null || typeof value === 'number';
}

/** `{ cost_usd: 1, per_day: { cost_usd: 20 } }`: numbers, or one level of numbers by window. */
function isAmounts(value: unknown): value is ScopeStatus['limit'] {
  if (!isRecord(value)) return false;
  return Object.values(value).every((v) => typeof v === 'number' || (isRecord(v) && Object.values(v).every((n) => typeof n === 'number')));
}
