import { Box } from 'ink';
import { plural, usd } from '../format.js';
import type { State } from '../state.js';
import { useTheme } from '../theme.js';
import { blastRadius } from '../tree.js';
import { Line, seg } from './Line.js';

/**
 * Names what dies and how much it reaches, from the live feed while the dialog is open.
 * Only `y` kills; any other key cancels, so a stray key press is harmless.
 */
export function ConfirmDialog({ state, target }: { state: State; target: string | null }) {
  const theme = useTheme();
  const scopes = state.data?.scopes ?? {};
  const reach = blastRadius(scopes, target);
  const what = target === null || target === 'global' ? 'global: ALL agents' : target;
  const spent = reach.agents > 0 ? `, which have spent ${usd(reach.agents_spent_usd)} so far` : '';
  return (
    <Box flexDirection="column" borderStyle="double" borderColor={theme.frame.danger} paddingX={1}>
      <Line segments={[seg(`Kill ${what}?`, theme.danger)]} />
      <Line segments={[seg(`It reaches ${plural(reach.agents, 'connected agent')}${spent}.`)]} />
      <Line segments={[seg(`${target ?? 'global'} has spent ${usd(reach.scope_spent_usd)} in all.`)]} />
      <Line segments={[seg('Every request under it is then denied KILLED until it is resumed (r).', theme.muted)]} />
      <Line segments={[seg('y', theme.key), seg(' kill   '), seg('any other key', theme.key), seg(' cancel (default)')]} />
    </Box>
  );
}
