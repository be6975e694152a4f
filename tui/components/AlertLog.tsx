import { useMemo } from 'react';
import { Box } from 'ink';
import { alertRows } from '../alert-rows.js';
import { clock, wrapLines } from '../format.js';
import type { State } from '../state.js';
import { type Theme, useTheme } from '../theme.js';
import { LEVEL_LABEL } from './Alerts.js';
import { Line, seg, type Segment } from './Line.js';

/**
 * What the one-line panels cut short, in full: the connection error, the config error and the
 * last answer first (they describe now), then every alert, newest first, wrapped under its
 * time and level. `state.logScroll` alerts are scrolled past.
 */
export function AlertLog({ state, width, height }: { state: State; width: number; height: number }) {
  const theme = useTheme();
  const rows = useMemo(() => alertRows(state.alerts), [state.alerts]);
  const inner = Math.max(10, width - 4);
  const room = Math.max(1, height - 3);
  const lines: Segment[][] = standingLines(state, inner, theme);
  const newestFirst = rows.slice().reverse();
  let last = state.logScroll;
  for (; last < newestFirst.length && lines.length < room; last++) {
    const row = newestFirst[last];
    if (row === undefined) break;
    const head = `${clock(row.alert.at_ms)} ${LEVEL_LABEL[row.alert.level].padEnd(8)}${row.count > 1 ? `×${row.count} ` : ''}`;
    const body = wrapLines(row.alert.message, inner - head.length);
    body.forEach((text, i) => lines.push(i === 0 ? [seg(head.slice(0, 9), theme.muted), seg(head.slice(9), theme.level[row.alert.level]), seg(text)] : [seg(' '.repeat(head.length)), seg(text)]));
  }
  const title =
    rows.length === 0 ? 'Alert log · none yet' : `Alert log · ${state.logScroll + 1}–${last} of ${rows.length}, newest first${last < rows.length ? ' (↓ older)' : ''}`;
  return (
    <Box flexDirection="column" borderStyle="single" borderColor={theme.frame.normal} paddingX={1} height={height}>
      <Line segments={[seg(title, theme.title)]} />
      {lines.slice(0, room).map((segments, i) => (
        <Line key={i} segments={segments} />
      ))}
    </Box>
  );
}

function standingLines(state: State, width: number, theme: Theme): Segment[][] {
  const out: Segment[][] = [];
  const add = (label: string, text: string, style: Theme['danger']): void => {
    for (const [i, line] of wrapLines(`${label}: ${text}`, width).entries()) out.push([seg(line, i === 0 ? style : undefined)]);
  };
  const { connection } = state;
  if ((connection.kind === 'reconnecting' || connection.kind === 'down') && connection.reason) add('connection', connection.reason, theme.warning);
  const configError = state.data?.config.error;
  if (configError) add('config error', configError, theme.danger);
  if (state.flash) add('last answer', state.flash.text, state.flash.level === 'error' ? theme.danger : theme.muted);
  return out;
}
