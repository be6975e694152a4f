import { Box } from 'ink';
import { footerHints } from '../keys.js';
import { MIN_COLUMNS, MIN_ROWS, type Size } from '../layout.js';
import { useTheme } from '../theme.js';
import { Line, seg } from './Line.js';

/**
 * Said instead of drawing a garbled dashboard (SPEC §5). Nothing else is drawn, so nothing else
 * acts: the keys it names are the too-small context's, the only ones the dispatcher reads here.
 */
export function TooSmall({ size }: { size: Size }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column">
      <Line segments={[seg(`terminal too small: ${size.columns}×${size.rows}, need ${MIN_COLUMNS}×${MIN_ROWS}`, theme.warning)]} />
      <Line segments={[seg(footerHints('too-small', size.columns, false), theme.key)]} />
      <Line segments={[seg('other keys wait for a bigger window', theme.muted)]} />
    </Box>
  );
}
