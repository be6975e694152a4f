import { Box } from 'ink';
import { plural, usd } from '../format.js';
import { footerHints } from '../keys.js';
import type { State } from '../state.js';
import { useTheme } from '../theme.js';
import { agentsUnder, hintTexts } from '../targets.js';
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
  // How many: the daemon's own count of connections under the scope, the same figure as the footer's.
  const agents = agentsUnder(state, target);
  const what = target === null || target === 'global' ? 'global: ALL agents' : target;
  const spent = agents > 0 ? `, which have spent ${usd(reach.agents_spent_usd)} so far` : '';
  return (
    <Box flexDirection="column" borderStyle="double" borderColor={theme.frame.danger} paddingX={1}>
      <Line segments={[seg(`Kill ${what}?`, theme.danger)]} />
      <Line segments={[seg(`It reaches ${plural(agents, 'connected agent')}${spent}.`)]} />
      <Line segments={[seg(`${target ?? 'global'} has spent ${usd(reach.scope_spent_usd)} in all.`)]} />
      <Line segments={[seg('Every request under it is then denied KILLED until it is resumed (r).', theme.muted)]} />
      <Line segments={[seg(footerHints('confirm', Number.MAX_SAFE_INTEGER, state.readonly, hintTexts(state)), theme.key)]} />
    </Box>
  );
}

/** `r` on a scope stopped from above: the kill that stops it is what a resume must lift. */
export function ResumeDialog({ state, target, blocked }: { state: State; target: string | null; blocked: string }) {
  const theme = useTheme();
  const what = target === null ? 'the kill of ALL agents' : `the kill of ${target}`;
  return (
    <Box flexDirection="column" borderStyle="double" borderColor={theme.frame.danger} paddingX={1}>
      <Line segments={[seg(`${blocked} is stopped by ${what}.`, theme.warning)]} />
      <Line segments={[seg(`Resume ${target ?? 'ALL'}? It reaches ${plural(agentsUnder(state, target), 'connected agent')}.`)]} />
      <Line segments={[seg('Resuming lets every request under it through again, up to its limits.', theme.muted)]} />
      <Line segments={[seg(footerHints('confirm', Number.MAX_SAFE_INTEGER, state.readonly, hintTexts(state)), theme.key)]} />
    </Box>
  );
}
