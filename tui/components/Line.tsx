import { Text } from 'ink';
import type { Style } from '../theme.js';

/** A run of text in one style. */
export interface Segment {
  readonly text: string;
  readonly style?: Style | undefined;
}

export function seg(text: string, style?: Style): Segment {
  return { text, style };
}

/**
 * One terminal line of styled segments. It never wraps: past the width it is cut, so a narrow
 * terminal loses the end of a line, never the lines below it.
 */
export function Line({ segments, style, overlay }: { segments: readonly Segment[]; style?: Style | undefined; overlay?: Style | undefined }) {
  return (
    <Text wrap="truncate-end" {...style}>
      {segments.map((s, i) => (
        <Text key={i} {...s.style} {...overlay}>
          {s.text}
        </Text>
      ))}
    </Text>
  );
}
