import { Box } from 'ink';
import { usd } from '../format.js';
import { footerHints } from '../keys.js';
import type { GrantTarget, Mode, State } from '../state.js';
import { grantWords, hintTexts, limitChange } from '../targets.js';
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
    [seg(`dollars like 1.50, or tokens like 20k tok; more than 0${increment === undefined ? '' : ` · a grants the default ${usd(increment)}`}`, theme.muted)],
    [seg(footerHints('input', Number.MAX_SAFE_INTEGER, state.readonly), theme.key)],
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

/**
 * A typed grant above the confirmation size: what it adds, the limit before and after, and why it
 * asks. Only `y` sends it; any other key cancels.
 */
export function GrantConfirm({ state, mode }: { state: State; mode: Extract<Mode, { kind: 'confirm-grant' }> }) {
  const theme = useTheme();
  const tokens = 'add_tokens' in mode.amount;
  const lines: Segment[][] = [
    [seg(`Grant ${grantWords(mode.amount)} to ${describe(state, mode.target)}?`, theme.danger)],
    [seg(`It is ${mode.why}: ${limitChange(mode.limit_now, mode.limit_after, tokens)}.`)],
    [seg(footerHints('confirm', Number.MAX_SAFE_INTEGER, state.readonly, hintTexts(state)), theme.key)],
  ];
  return (
    <Box flexDirection="column" borderStyle="double" borderColor={theme.frame.danger} paddingX={1}>
      {lines.map((segments, i) => (
        <Line key={i} segments={segments} />
      ))}
    </Box>
  );
}
