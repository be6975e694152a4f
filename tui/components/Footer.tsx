import { footerHints } from '../keys.js';
import type { Layout } from '../layout.js';
import { keyContext, type State } from '../state.js';
import { hintTexts } from '../targets.js';
import { useTheme } from '../theme.js';
import { Line, seg, type Segment } from './Line.js';

/** How long the answer to the last command stays in the footer. */
export const FLASH_MS = 8_000;

/** Key hints from the key table (naming their targets), the filter being typed, or the answer to the last command. */
export function Footer({ state, layout }: { state: State; layout: Layout }) {
  const theme = useTheme();
  const { mode, flash } = state;
  if (mode.kind === 'filter') {
    const hints = footerHints('input', layout.columns - mode.draft.length - 12, state.readonly);
    return <Line segments={[seg('filter: /', theme.key), seg(`${mode.draft}▏`), seg(`  ${hints}`, theme.muted)]} />;
  }
  if (flash && state.now_ms - flash.at_ms < FLASH_MS && mode.kind === 'main') {
    const style = flash.level === 'error' ? theme.danger : flash.level === 'warning' ? theme.warning : theme.good;
    return <Line segments={[seg(flash.text, style)]} />;
  }
  const prefix: Segment[] = state.readonly && mode.kind === 'main' ? [seg('read-only  ', theme.key)] : [];
  const width = layout.columns - (prefix[0]?.text.length ?? 0);
  return <Line segments={[...prefix, seg(footerHints(keyContext(state), width, state.readonly, hintTexts(state)), theme.muted)]} />;
}
