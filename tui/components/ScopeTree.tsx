import { Box } from 'ink';
import { bindingUsage, formatUsage } from '../../shared/format/usage.js';
import type { FeedScope } from '../../shared/protocol/operator.js';
import { bar, delay, fit, PRESSURE_WIDTH, pressureText, usd } from '../format.js';
import { type Layout, windowStart } from '../layout.js';
import { isStale, selectedKey, sortedPrompts, visibleTree } from '../select.js';
import type { State } from '../state.js';
import { type Theme, useTheme } from '../theme.js';
import type { TreeRow } from '../tree.js';
import { Line, seg, type Segment } from './Line.js';

/** Column widths; the name takes whatever the others leave. Narrow folds delay and breaker into status. */
interface Columns {
  readonly name: number;
  readonly usage: number;
  readonly bar: number;
  readonly reserved: number;
  readonly delay: number;
  readonly breaker: number;
  readonly status: number;
}

const GUTTER = 2;

export function treeColumns(layout: Layout): Columns {
  const fixed = layout.wide
    ? { usage: 18, bar: 10, reserved: 8, delay: 7, breaker: 9, status: 16 }
    : { usage: 14, bar: 5, reserved: 7, delay: 0, breaker: 0, status: 10 };
  const cells = [fixed.usage, fixed.bar, PRESSURE_WIDTH, fixed.reserved, fixed.delay, fixed.breaker, fixed.status].filter((w) => w > 0);
  const name = layout.columns - GUTTER - cells.reduce((a, b) => a + b + 1, 0);
  return { ...fixed, name };
}

/** `$0.50/$1` (narrow) or `$3.42/$20 today` (wide): the limit nearest to running out. */
export function usageText(scope: FeedScope, wide: boolean): string {
  const text = formatUsage(bindingUsage(scope));
  return wide ? text : text.replace(/ (today|hour|week|month)$/, '');
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

function rowSegments(row: TreeRow, s: FeedScope, waiting: boolean, columns: Columns, wide: boolean, theme: Theme, selected: boolean): Segment[] {
  const toggle = row.hasChildren ? (row.collapsed ? '▸ ' : '▾ ') : '  ';
  const reserved = reservedOf(s);
  const segments: Segment[] = [
    seg(selected ? '› ' : '  '),
    seg(fit(`${' '.repeat(row.depth * (wide ? 2 : 1))}${toggle}${row.id}`, columns.name), s.killed ? theme.danger : undefined),
    seg(` ${fit(usageText(s, wide), columns.usage, 'right')} `),
    seg(bar(s.ratio, columns.bar), theme.pressure[s.pressure]),
    seg(` ${fit(pressureText(s.pressure, s.ratio), PRESSURE_WIDTH)} `, theme.pressure[s.pressure]),
    seg(fit(usd(reserved), columns.reserved, 'right'), reserved > 0 ? undefined : theme.muted),
  ];
  if (wide) {
    segments.push(seg(` ${fit(s.delay_ms > 0 ? delay(s.delay_ms) : '0', columns.delay, 'right')}`, s.delay_ms > 0 ? theme.warning : theme.muted));
    segments.push(seg(` ${fit(s.breaker, columns.breaker)}`, s.breaker === 'closed' ? theme.muted : theme.warning));
  }
  segments.push(seg(` ${fit(statusText(s, wide, waiting), columns.status)}`, statusStyle(s, waiting, theme)));
  return segments;
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

  const filter = state.filter === '' ? '' : ` /${state.filter}`;
  const range = state.data === null ? '' : shown.length < rows.length ? ` ${first + 1}–${first + shown.length} of ${rows.length}` : ` (${rows.length})`;
  const heading = [
    fit(`Scopes${filter}${range}`, GUTTER + columns.name),
    fit('SPENT/LIMIT', columns.usage, 'right'),
    fit('PRESSURE', columns.bar + 1 + PRESSURE_WIDTH),
    fit('RESV', columns.reserved, 'right'),
    ...(layout.wide ? [fit('DELAY', columns.delay, 'right'), fit('BREAKER', columns.breaker)] : []),
    fit('STATUS', columns.status),
  ].join(' ');

  return (
    <Box flexDirection="column" height={layout.treeRows + 1}>
      <Line segments={[seg(heading, theme.title)]} />
      {state.data === null ? <Line segments={[seg('  no scopes yet', theme.muted)]} /> : null}
      {state.data !== null && rows.length === 0 ? <Line segments={[seg(`  no scope matches "${state.filter}" (Esc clears the filter)`, theme.muted)]} /> : null}
      {shown.map((row) => {
        const scope = state.data?.scopes[row.id];
        if (!scope) return null;
        const selected = row.id === selectedId;
        return <Line key={row.id} segments={rowSegments(row, scope, waitingAgents.has(row.id), columns, layout.wide, theme, selected)} style={selected ? theme.selected : undefined} overlay={overlay} />;
      })}
    </Box>
  );
}
