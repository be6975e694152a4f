import { Box, Text } from 'ink';
import type { FeedScope } from '../../shared/protocol/operator.js';
import type { Prompt } from '../feed.js';
import { count, delay, duration, fit, orDash, plural, pressureText, rate, usd, wrapLines } from '../format.js';
import { usdColumn } from '../../shared/format/units.js';
import { isStale, promptAge, promptExpiresIn, promptOf, sortedPrompts } from '../select.js';
import { footerHints } from '../keys.js';
import { keyContext, type RowKey, type State } from '../state.js';
import { hintTexts } from '../targets.js';
import { type Theme, useTheme } from '../theme.js';
import { blastRadius, descendantCounts, killerOf } from '../tree.js';
import { asked } from './Approvals.js';
import { Line, seg, type Segment } from './Line.js';
import { stateOf } from './ScopeTree.js';

type Amounts = FeedScope['limit'];

/** Every limit of a scope as `[path, limit]`: `cost_usd`, `tokens`, `per_day.cost_usd`, … */
function limitPaths(limit: Amounts): Array<[string[], number]> {
  const out: Array<[string[], number]> = [];
  for (const [key, value] of Object.entries(limit)) {
    if (typeof value === 'number') out.push([[key], value]);
    else for (const [inner, v] of Object.entries(value)) out.push([[key, inner], v]);
  }
  return out;
}

function at(amounts: Amounts, path: readonly string[]): number | undefined {
  const top = amounts[path[0] ?? ''];
  if (path.length === 1) return typeof top === 'number' ? top : undefined;
  return typeof top === 'object' ? top[path[1] ?? ''] : undefined;
}

function isCost(path: readonly string[]): boolean {
  return path.at(-1)?.endsWith('cost_usd') === true || path.at(-1) === 'cost';
}

function limitLines(scope: FeedScope, theme: Theme): Segment[][] {
  const head = [seg(`${fit('LIMIT', 22)} ${fit('SPENT', 10, 'right')} ${fit('RESERVED', 10, 'right')} ${fit('LIMIT', 10, 'right')}  USED`, theme.title)];
  const figures = limitPaths(scope.limit).map(([path, limit]) => {
    const spent = at(scope.spent, path);
    const reserved = at(scope.reserved, path) ?? at(scope.reserved, path.slice(-1));
    return { path, limit, spent, reserved };
  });
  // Dollar cells share one number of decimals over the table (issue 13); token and call counts keep their own form.
  const money = figures.filter((f) => isCost(f.path));
  const dollars = usdColumn(money.flatMap((f) => [f.spent ?? null, f.reserved ?? null, f.limit]), 10);
  const cell = (f: (typeof figures)[number], i: 0 | 1 | 2, value: number | undefined): string => {
    if (value === undefined) return '—';
    return isCost(f.path) ? (dollars[money.indexOf(f) * 3 + i] ?? '—') : count(value);
  };
  const rows = figures.map((f) => {
    const used = f.limit > 0 ? Math.floor((((f.spent ?? 0) + (f.reserved ?? 0)) / f.limit) * 100) : null;
    return [seg(`${fit(f.path.join('.'), 22)} ${fit(cell(f, 0, f.spent), 10, 'right')} ${fit(cell(f, 1, f.reserved), 10, 'right')} ${fit(cell(f, 2, f.limit), 10, 'right')}  ${orDash(used, (u) => `${u}%`)}`)];
  });
  return rows.length === 0 ? [[seg('no limits of its own (its parents still apply)', theme.muted)]] : [head, ...rows];
}

const STATE_WORDS = { running: 'running', waiting: 'waiting for approval', killed: 'killed', idle: 'idle' } as const satisfies Record<FeedScope['state'], string>;

function scopeLines(state: State, id: string, scope: FeedScope, theme: Theme, width: number): Segment[][] {
  const scopes = state.data?.scopes ?? {};
  const under = descendantCounts(scopes, id);
  const reach = blastRadius(scopes, id);
  const killer = killerOf(scopes, id);
  const children = (['user', 'session', 'task', 'agent'] as const).filter((k) => under[k] > 0).map((k) => plural(under[k], k));
  const killText = killer === null ? null : killer === id ? `killed: ${scope.kill_reason ?? ''} (r resumes)` : `stopped by the kill of ${killer}: ${scope.kill_reason ?? ''}`;
  const killed = killText === null ? [[seg('not killed')]] : wrapLines(killText, width).map((line) => [seg(line, theme.danger)]);
  return [
    [seg(id, theme.title), seg(`  ${scope.kind}${scope.parent ? ` under ${scope.parent}` : ''} · ${STATE_WORDS[stateOf(scope, sortedPrompts(state).some((p) => p.agent === id))]}`)],
    [seg('pressure '), seg(pressureText(scope.pressure, scope.ratio), theme.pressure[scope.pressure]), seg(` · mode ${scope.mode} · limits from ${scope.limit_source}`)],
    [seg(`breaker ${scope.breaker} · delay ${delay(scope.delay_ms)} · ${plural(scope.agents, 'agent')} connected here`)],
    ...limitLines(scope, theme),
    [seg(`burn $/min ${rate(scope.burn_usd_per_min_1m)} now · ${rate(scope.burn_usd_per_min_10m)} 10m · runs out in ${orDash(scope.exhaustion_ms, duration)}`)],
    [seg(`under it: ${children.length > 0 ? children.join(', ') : 'nothing'} · ${plural(reach.agents, 'connected agent')}`)],
    ...killed,
    keyLine(state, theme),
  ];
}

/** The keys that work in this view, from the key table the dispatcher reads (nothing listed that does nothing). */
function keyLine(state: State, theme: Theme): Segment[] {
  return [seg(footerHints(keyContext(state), Number.MAX_SAFE_INTEGER, state.readonly, hintTexts(state)).replaceAll('  ', ' · '), theme.muted)];
}

function promptLines(state: State, prompt: Prompt, theme: Theme, width: number): Segment[][] {
  const limit = prompt.limit_usd ?? state.data?.scopes[prompt.scope]?.limit.cost_usd;
  return [
    [seg(`prompt ${prompt.id}`, theme.title), seg(`  ${prompt.agent} on ${prompt.scope}`)],
    [seg(`asks ${asked(prompt)} · spend if granted ${orDash(prompt.projected_usd, usd)}${typeof limit === 'number' ? ` of a ${usd(limit)} limit` : ''}`)],
    [seg(`times out in ${duration(promptExpiresIn(state, prompt))} (then denied APPROVAL_TIMEOUT) · waiting ${duration(promptAge(state, prompt))}`)],
    // The reason is what the operator decides on: shown whole, wrapped, never cut.
    ...wrapLines(`reason: ${prompt.reason}`, width).map((line) => [seg(line)]),
    ...(state.readonly ? [[seg('read-only: answer it with spendguard grant / deny', theme.muted)]] : []),
    keyLine(state, theme),
  ];
}

/** Everything the feed says about the row under the cursor; Esc closes. */
export function Details({ state, row, height, width }: { state: State; row: RowKey; height: number; width: number }) {
  const theme = useTheme();
  const prompt = promptOf(state, row);
  const id = row.slice(row.indexOf(':') + 1);
  const scope = state.data?.scopes[id];
  // Inside the border and its padding.
  const inner = Math.max(10, width - 4);
  let lines: Segment[][];
  if (row.startsWith('prompt:')) lines = prompt ? promptLines(state, prompt, theme, inner) : [[seg(`prompt ${id} is answered or gone`, theme.muted)]];
  else lines = scope ? scopeLines(state, id, scope, theme, inner) : [[seg(`${id} is no longer in the feed`, theme.muted)]];
  const overlay = isStale(state) ? theme.stale : undefined;
  const inside = Math.max(0, height - 2);
  const room = lines.length > inside ? inside - 1 : inside;
  return (
    <Box flexDirection="column" height={height} borderStyle="single" borderColor={theme.frame.normal} paddingX={1}>
      {lines.slice(0, room).map((segments, i) => (
        <Line key={i} segments={segments} overlay={overlay} />
      ))}
      {lines.length > room ? <Text>… (a taller terminal shows the rest)</Text> : null}
    </Box>
  );
}
