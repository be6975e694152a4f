import { useMemo } from 'react';
import { Box } from 'ink';
import type { AlertJson } from '../../shared/protocol/operator.js';
import { alertRows } from '../alert-rows.js';
import { clock } from '../format.js';
import type { Layout } from '../layout.js';
import type { State } from '../state.js';
import { useTheme } from '../theme.js';
import { Line, seg } from './Line.js';

/** Level as a glyph and a word, readable without colour like pressure. */
export const LEVEL_LABEL = { info: '· info', warning: '! warn', critical: '!! crit' } as const satisfies Record<AlertJson['level'], string>;

/** Newest first: the line under the title is always the latest thing that happened. */
export function Alerts({ state, layout }: { state: State; layout: Layout }) {
  const theme = useTheme();
  // Superseded warnings dropped and floods told once (tui/alert-rows.ts); the title counts lines.
  const rows = useMemo(() => alertRows(state.alerts), [state.alerts]);
  const newest = rows.slice(-layout.alertRows).reverse();
  return (
    <Box flexDirection="column">
      <Line segments={[seg(`Recent alerts${rows.length === 0 ? '' : ` (${rows.length})`}`, theme.title), ...(rows.length === 0 ? [seg(' · none', theme.muted)] : [])]} />
      {newest.map(({ alert: a, count }) => (
        <Line
          key={`${a.at_ms}/${a.seq}`}
          segments={[seg(`${clock(a.at_ms)} `, theme.muted), seg(LEVEL_LABEL[a.level].padEnd(8), theme.level[a.level]), ...(count > 1 ? [seg(`×${count} `, theme.level[a.level])] : []), seg(a.message)]}
        />
      ))}
    </Box>
  );
}
