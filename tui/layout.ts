/** Below this the screen says so instead of drawing (SPEC §5). */
export const MIN_COLUMNS = 80;
export const MIN_ROWS = 24;
/** From here on every column of the tree has its own cell; below it, panels collapse. */
export const WIDE_COLUMNS = 120;
const TALL_ROWS = 40;

export interface Size {
  readonly columns: number;
  readonly rows: number;
}

/** How many lines each panel gets. Heights add up to `height`, which is one less than the terminal. */
export interface Layout {
  readonly columns: number;
  readonly height: number;
  readonly wide: boolean;
  readonly headerLines: number;
  readonly promptRows: number;
  readonly treeRows: number;
  readonly alertRows: number;
}

export const HEADER_LINES = 3;
/** Titles of approvals, tree and alerts, and the footer. */
const FIXED_LINES = HEADER_LINES + 3 + 1;

export function isTooSmall(size: Size): boolean {
  return size.columns < MIN_COLUMNS || size.rows < MIN_ROWS;
}

/**
 * The approvals panel and the header always keep their place; the tree takes what is left.
 * One line stays free: Ink clears the whole terminal on every frame once its output is as tall as
 * the screen, which flickers.
 */
export function layout(size: Size, counts: { prompts: number; scopes: number; alerts: number }): Layout {
  const height = size.rows - 1;
  const tall = size.rows >= TALL_ROWS;
  const promptRows = Math.min(counts.prompts, tall ? 8 : 3);
  const baseAlerts = Math.min(counts.alerts, tall ? 8 : 2);
  const room = Math.max(1, height - FIXED_LINES - promptRows - baseAlerts);
  // Lines a short tree leaves empty go to the alert log.
  const spare = Math.max(0, room - Math.max(1, counts.scopes));
  const alertRows = Math.min(counts.alerts, baseAlerts + spare);
  const treeRows = room - (alertRows - baseAlerts);
  return { columns: size.columns, height, wide: size.columns >= WIDE_COLUMNS, headerLines: HEADER_LINES, promptRows, treeRows, alertRows };
}

/** First row of a window of `visible` rows over `total` that keeps `selected` in view, centred. */
export function windowStart(total: number, visible: number, selected: number | null): number {
  if (selected === null || total <= visible) return 0;
  return Math.min(Math.max(0, selected - Math.floor(visible / 2)), total - visible);
}
