export type Align = 'left' | 'right';

/**
 * Plain aligned columns (like `kubectl get`): greppable, pasteable, readable without colour.
 * Cells are single-line; the last column is not padded.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    widths
      .map((w, i) => {
        const cell = cells[i] ?? '';
        if (align[i] === 'right') return cell.padStart(w);
        return i === widths.length - 1 ? cell : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
