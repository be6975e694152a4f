import { Box } from 'ink';
import { usd } from '../format.js';
import type { GrantTarget, State } from '../state.js';
import { useTheme } from '../theme.js';
import { Line, seg, type Segment } from './Line.js';

function describe(state: State, target: GrantTarget): string {
  const limit = state.data?.scopes[target.scope]?.limit.cost_usd;
  const spent = state.data?.scopes[target.scope]?.spent.cost_usd;
  const figures = [typeof spent === 'number' ? `spent ${usd(spent)}` : '', typeof limit === 'number' ? `limit ${usd(limit)}` : 'no cost limit'].filter(Boolean).join(', ');
  const via = target.kind === 'prompt' ? ` (answers prompt ${target.prompt})` : '';
  return `${target.scope}${via}: ${figures}`;
}

/** `g`: an amount typed in place; Enter sends it, Esc cancels. */
export function GrantInput({ state, target, draft, error }: { state: State; target: GrantTarget; draft: string; error: string | null }) {
  const theme = useTheme();
  const increment = state.data?.approvals.increment_usd;
  const lines: Segment[][] = [
    [seg('Grant to ', theme.title), seg(describe(state, target))],
    [seg('amount: ', theme.key), seg(`${draft}▏`)],
    [seg(`dollars like 1.50, or tokens like 20k tok${increment === undefined ? '' : ` · a grants the default ${usd(increment)}`}`, theme.muted)],
    [seg('⏎', theme.key), seg(' grant   '), seg('Esc', theme.key), seg(' cancel')],
  ];
  if (error !== null) lines.push([seg(error, theme.danger)]);
  return (
    <Box flexDirection="column" borderStyle="single" borderColor={theme.frame.normal} paddingX={1}>
      {lines.map((segments, i) => (
        <Line key={i} segments={segments} />
      ))}
    </Box>
  );
}
