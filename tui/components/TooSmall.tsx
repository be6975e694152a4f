import { Box } from 'ink';
import { MIN_COLUMNS, MIN_ROWS, type Size } from '../layout.js';
import { useTheme } from '../theme.js';
import { Line, seg } from './Line.js';

/** Said instead of drawing a garbled dashboard (SPEC §5). Keys still work: q quits. */
export function TooSmall({ size }: { size: Size }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column">
      <Line segments={[seg(`terminal too small: ${size.columns}×${size.rows}, need ${MIN_COLUMNS}×${MIN_ROWS}`, theme.warning)]} />
      <Line segments={[seg('enlarge the window, or press q to quit', theme.muted)]} />
    </Box>
  );
}
