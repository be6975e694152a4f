import { Box } from 'ink';
import { costUsage, formatTokens, tokenUsage } from '../../shared/format/usage.js';
import { usdColumn } from '../../shared/format/units.js';
import type { FeedScope } from '../../shared/protocol/operator.js';
import { bar, delay, fit, fitMiddle, PRESSURE_WIDTH, pressureText } from '../format.js';
import { type Layout, windowStart } from '../layout.js';
import { isStale, selectedKey, sortedPrompts, visibleTree } from '../select.js';
import type { State } from '../state.js';
import { type Theme, useTheme } from '../theme.js';
import type { TreeRow } from '../tree.js';
import { Line, seg, type Segment } from './Line.js';

/** Column widths; the name takes whatever the others leave. Narrow folds delay and breaker into status. */
interface Columns {
  readonly name: number;
  readonly spent: number;
  readonly limit: number;
  readonly tokens: number;
  readonly bar: number;
  readonly reserved: number;
  readonly delay: number;
  readonly breaker: number;
  readonly status: number;
}

const GUTTER = 2;

export function treeColumns(layout: Layout): Columns {
  const fixed = layout.wide
    ? { spent: 9, limit: 9, tokens: 8, bar: 5, reserved: 9, delay: 6, breaker: 9, status: 16 }
    : { spent: 8, limit: 7, tokens: 0, bar: 4, reserved: 7, delay: 0, breaker: 0, status: 10 };
  // Widths are fixed, so the header never moves between frames; tokens never share a dollar cell.
  const cells = [fixed.spent, fixed.limit, fixed.tokens, fixed.bar, PRESSURE_WIDTH, fixed.reserved, fixed.delay, fixed.breaker, fixed.status].filter((w) => w > 0);
  const name = layout.columns - GUTTER - cells.reduce((a, b) => a + b + 1, 0);
  return { ...fixed, name };
}

/**
 * `waiting` comes from the prompt list, which every frame carries whole; a scope's own `state`
 * arrives only when the scope changes, and a prompt ending changes nothing else about it.
 */
export function stateOf(scope: FeedScope, waiting: boolean): FeedScope['state'] {
  if (scope.state === 'killed') return 'killed';
  if (waiting) return 'waiting';
  if (scope.state !== 'waiting') return scope.state;
  return scope.agents > 0 ? 'running' : 'idle';
}

/** The most urgent thing about a scope in one word or two; wide screens give delay and breaker their own cells. */
export function statusText(scope: FeedScope, wide: boolean, waiting = scope.state === 'waiting'): string {
  const state = stateOf(scope, waiting);
  if (state === 'killed') return 'killed';
  if (state === 'waiting') return wide ? 'waiting approval' : 'waiting';
  if (!wide && scope.breaker !== 'closed') return scope.breaker === 'open' ? 'brk open' : 'brk half';
  if (!wide && scope.delay_ms > 0) return `+${delay(scope.delay_ms)}`;
  return state;
}

function statusStyle(scope: FeedScope, waiting: boolean, theme: Theme) {
  const state = stateOf(scope, waiting);
  if (state === 'killed') return theme.danger;
  if (state === 'waiting' || scope.breaker !== 'closed') return theme.warning;
  return state === 'idle' ? theme.muted : undefined;
}

function reservedOf(scope: FeedScope): number {
  return typeof scope.reserved.cost_usd === 'number' ? scope.reserved.cost_usd : 0;
}

/** One row's money cells, formatted as columns over every row of the tree (one number of decimals each). */
interface Money {
  readonly spent: string;
  readonly limit: string;
  readonly reserved: string;
}

/** The dollar columns of the whole tree, not just the rows on screen, so scrolling keeps the decimals. */
export function moneyColumns(scopes: readonly FeedScope[], columns: Pick<Columns, 'spent' | 'limit' | 'reserved'>): Money[] {
  const costs = scopes.map((s) => costUsage(s));
  const spent = usdColumn(costs.map((u) => u.spent), columns.spent);
  const limit = usdColumn(costs.map((u) => u.limit ?? null), columns.limit);
  const reserved = usdColumn(scopes.map(reservedOf), columns.reserved);
  return scopes.map((_, i) => ({ spent: spent[i] ?? '—', limit: limit[i] ?? '—', reserved: reserved[i] ?? '—' }));
}

/** Indent and fold marker kept whole; a long id loses its middle, so siblings stay told apart. */
function treeName(row: TreeRow, toggle: string, width: number, wide: boolean): string {
  const lead = `${' '.repeat(row.depth * (wide ? 2 : 1))}${toggle}`;
  return lead.length >= width ? fit(lead + row.id, width) : lead + fitMiddle(row.id, width - lead.length);
}

function rowSegments(row: TreeRow, s: FeedScope, money: Money, waiting: boolean, columns: Columns, wide: boolean, theme: Theme, selected: boolean): Segment[] {
  const toggle = row.hasChildren ? (row.collapsed ? '▸ ' : '▾ ') : '  ';
  const reserved = reservedOf(s);
  const segments: Segment[] = [
    seg(selected ? '› ' : '  '),
    seg(treeName(row, toggle, columns.name, wide), s.killed ? theme.danger : undefined),
    seg(` ${fit(money.spent, columns.spent, 'right')} ${fit(money.limit, columns.limit, 'right')} `),
    ...(wide ? [seg(`${fit(formatTokens(tokenUsage(s)), columns.tokens, 'right')} `, theme.muted)] : []),
    seg(bar(s.ratio, columns.bar), theme.pressure[s.pressure]),
    seg(` ${fit(pressureText(s.pressure, s.ratio), PRESSURE_WIDTH)} `, theme.pressure[s.pressure]),
    seg(fit(money.reserved, columns.reserved, 'right'), reserved > 0 ? undefined : theme.muted),
  ];
  if (wide) {
    segments.push(seg(` ${fit(s.delay_ms > 0 ? delay(s.delay_ms) : '0', columns.delay, 'right')}`, s.delay_ms > 0 ? theme.warning : theme.muted));
    segments.push(seg(` ${fit(s.breaker, columns.breaker)}`, s.breaker === 'closed' ? theme.muted : theme.warning));
  }
  segments.push(seg(` ${fit(statusText(s, wide, waiting), columns.status)}`, statusStyle(s, waiting, theme)));
  return segments;
}

function emptyText(state: State): string {
  if (state.filter !== '') return `  no ${state.hotOnly ? 'hot ' : ''}scope matches "${state.filter}" (Esc clears the filter${state.hotOnly ? ', h shows all' : ''})`;
  return '  nothing is hot: no scope under pressure, killed or tripped (h shows all)';
}

export function ScopeTree({ state, layout }: { state: State; layout: Layout }) {
  const theme = useTheme();
  const rows = visibleTree(state);
  const columns = treeColumns(layout);
  const key = selectedKey(state);
  const selectedId = key?.startsWith('scope:') ? key.slice('scope:'.length) : null;
  const index = selectedId === null ? null : rows.findIndex((r) => r.id === selectedId);
  const first = windowStart(rows.length, layout.treeRows, index === -1 ? null : index);
  const shown = rows.slice(first, first + layout.treeRows);
  const overlay = isStale(state) ? theme.stale : undefined;
  const waitingAgents = new Set(sortedPrompts(state).map((p) => p.agent));
  const known = rows.flatMap((r) => {
    const scope = state.data?.scopes[r.id];
    return scope ? [[r.id, scope] as const] : [];
  });
  const moneyRows = moneyColumns(known.map(([, scope]) => scope), columns);
  const money = new Map(known.map(([id], i) => [id, moneyRows[i]]));

  const filter = `${state.hotOnly ? ' hot' : ''}${state.sort === 'name' ? '' : ` ↓${state.sort}`}${state.filter === '' ? '' : ` /${state.filter}`}`;
  const range = state.data === null ? '' : shown.length < rows.length ? ` ${first + 1}–${first + shown.length} of ${rows.length}` : ` (${rows.length})`;
  const heading = [
    fit(`Scopes${filter}${range}`, GUTTER + columns.name),
    fit('SPENT', columns.spent, 'right'),
    fit('LIMIT', columns.limit, 'right'),
    ...(layout.wide ? [fit('TOKENS', columns.tokens, 'right')] : []),
    fit('PRESSURE', columns.bar + 1 + PRESSURE_WIDTH),
    fit('RESV', columns.reserved, 'right'),
    ...(layout.wide ? [fit('DELAY', columns.delay, 'right'), fit('BREAKER', columns.breaker)] : []),
    fit('STATUS', columns.status),
  ].join(' ');

  return (
    <Box flexDirection="column" height={layout.treeRows + 1}>
      <Line segments={[seg(heading, theme.title)]} />
      {state.data === null ? <Line segments={[seg('  no scopes yet', theme.muted)]} /> : null}
      {state.data !== null && rows.length === 0 ? <Line segments={[seg(emptyText(state), theme.muted)]} /> : null}
      {shown.map((row) => {
        const scope = state.data?.scopes[row.id];
        const cells = money.get(row.id);
        if (!scope || !cells) return null;
        const selected = row.id === selectedId;
        return <Line key={row.id} segments={rowSegments(row, scope, cells, waitingAgents.has(row.id), columns, layout.wide, theme, selected)} style={selected ? theme.selected : undefined} overlay={overlay} />;
      })}
    </Box>
  );
}
