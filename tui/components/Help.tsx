import { Box } from 'ink';
import { fit } from '../format.js';
import { disabledByReadonly, helpSections } from '../keys.js';
import { useTheme } from '../theme.js';
import { Line, seg, type Segment } from './Line.js';

const LABEL_WIDTH = 11;
const GAP = 2;

/** The `?` overlay, generated from the key table; as many columns as the height needs. */
export function Help({ readonly, width, height }: { readonly: boolean; width: number; height: number }) {
  const theme = useTheme();
  const cells: Segment[][] = [];
  for (const section of helpSections(readonly)) {
    cells.push([seg(section.title, theme.title)]);
    for (const row of section.rows) cells.push([seg(fit(row.keys, LABEL_WIDTH), theme.key), seg(row.help)]);
  }
  const note = readonly ? `read-only: ${disabledByReadonly()} are off` : 'a/o/d act on the highlighted prompt, or the oldest when none is';
  const inside = Math.max(1, height - 3);
  const columns = Math.max(1, Math.ceil(cells.length / inside));
  const columnWidth = Math.floor((width - 4 - GAP * (columns - 1)) / columns);
  const perColumn = Math.ceil(cells.length / columns);
  return (
    <Box flexDirection="column" borderStyle="single" borderColor={theme.frame.normal} paddingX={1} height={height}>
      <Box flexDirection="row" gap={GAP} height={inside}>
        {Array.from({ length: columns }, (_, c) => (
          <Box key={c} flexDirection="column" width={columnWidth}>
            {cells.slice(c * perColumn, (c + 1) * perColumn).map((segments, i) => (
              <Line key={i} segments={segments} />
            ))}
          </Box>
        ))}
      </Box>
      <Line segments={[seg(note, theme.muted)]} />
    </Box>
  );
}
