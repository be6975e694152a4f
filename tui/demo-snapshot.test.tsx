import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usd } from '../shared/format/units.js';
import { FeedFrame } from '../shared/protocol/operator.js';
import { Screen } from './components/Screen.js';
import { reducer } from './reducer.js';
import { initialState, type State } from './state.js';
import { live, plain, renderSized, replay, themed } from './test-support/fixtures.js';
import { MONO_THEME } from './theme.js';

/**
 * The demo as the dashboard draws it: the operator feed of `spendguard demo` recorded from a
 * real daemon (tui/test-support/record-demo.ts writes demo.recorded.jsonl), replayed into the
 * reducer frame by frame at each frame's own time, drawn at the two sizes the dashboard is
 * designed for and pinned as text. Every age and countdown counts from the replayed frame's
 * time, the clock is UTC and the theme has no colours, so the screens do not depend on when or
 * where the test runs. Re-recording the demo changes them: review the new screens, then `-u`.
 */

const FRAMES: readonly FeedFrame[] = readFileSync(new URL('./test-support/demo.recorded.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => FeedFrame.parse(JSON.parse(line)));

const FIRST = FRAMES[0] as FeedFrame;

/** The dashboard after every recorded frame: the busiest moment, with prompts, alerts and the whole tree. */
function demoState(): State {
  const start = reducer(initialState({ readonly: false, now_ms: FIRST.at_ms }), live(FIRST.at_ms));
  return replay(FRAMES, { state: start });
}

function screen(state: State, columns: number, rows: number): string {
  const rendered = renderSized(themed(<Screen state={state} size={{ columns, rows }} />, MONO_THEME), columns, rows);
  const text = plain(rendered.lastFrame());
  rendered.unmount();
  return text;
}

/** The scope tree: its header line and the rows under it, up to the alerts' title. */
function treeLines(text: string): { header: string; rows: string[] } {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Scopes'));
  if (at < 0) throw new Error(`no scope tree on screen:\n${text}`);
  const rows: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!/^[ ›] /.test(line)) break;
    rows.push(line);
  }
  return { header: lines[at] as string, rows };
}

/** Where a right-aligned heading ends: the last column of its cells. */
function headingEnd(header: string, title: string): number {
  const at = header.search(new RegExp(`\\b${title}\\b`));
  if (at < 0) throw new Error(`no ${title} in "${header}"`);
  return at + title.length;
}

/**
 * Columns of the decimal points of the dollar figures in the cell that ends at `end`: a cell
 * reads back from its end to the blank before it.
 */
function pointsOfColumn(rows: readonly string[], end: number): number[] {
  return rows.flatMap((row) => {
    const chars = [...row];
    let start = end;
    while (start > 0 && chars[start - 1] !== ' ') start -= 1;
    const cell = chars.slice(start, end).join('');
    return /^\$[\d,]+\.\d+$/.test(cell) ? [start + cell.indexOf('.')] : [];
  });
}

const SIZES = [
  { columns: 80, rows: 24 },
  { columns: 120, rows: 40 },
] as const;

describe('the recorded demo on screen', () => {
  let savedTz: string | undefined;
  beforeAll(() => {
    savedTz = process.env.TZ;
    process.env.TZ = 'UTC';
  });
  afterAll(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('is a recording of the whole story: prompts, alerts and several scopes', () => {
    const state = demoState();
    expect(FRAMES.length).toBeGreaterThan(10);
    expect(state.connection.kind).toBe('live');
    expect(state.now_ms).toBe(FRAMES.at(-1)?.at_ms);
    expect(state.data?.prompts.length).toBeGreaterThan(0);
    expect(state.alerts.length).toBeGreaterThan(0);
    expect(Object.keys(state.data?.scopes ?? {}).length).toBeGreaterThan(5);
  });

  for (const { columns, rows } of SIZES) {
    describe(`at ${columns}×${rows}`, () => {
      it('draws the screen pinned by its snapshot', async () => {
        const text = screen(demoState(), columns, rows);
        await expect(`${text}\n`).toMatchFileSnapshot(`./__snapshots__/demo-${columns}x${rows}.txt`);
      });

      it('draws the same screen every time', () => {
        expect(screen(demoState(), columns, rows)).toBe(screen(demoState(), columns, rows));
      });

      it('fits every line in the width and no more lines than the terminal', () => {
        const lines = screen(demoState(), columns, rows).split('\n');
        expect(lines.length).toBeLessThan(rows);
        for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(columns);
      });

      it('lines up the decimal points of the SPENT, LIMIT and RESV columns of the tree', () => {
        const { header, rows: tree } = treeLines(screen(demoState(), columns, rows));
        expect(tree.length).toBeGreaterThan(3);
        const shown = [header, ...tree].join('\n');
        // Every row has a spend and a reservation (zero is a figure); scopes without a cost limit show `—`.
        expect(pointsOfColumn(tree, headingEnd(header, 'SPENT')), shown).toHaveLength(tree.length);
        expect(pointsOfColumn(tree, headingEnd(header, 'RESV')), shown).toHaveLength(tree.length);
        for (const title of ['SPENT', 'LIMIT', 'RESV']) {
          const points = pointsOfColumn(tree, headingEnd(header, title));
          expect(points.length, `${title} figures in\n${shown}`).toBeGreaterThan(1);
          expect(new Set(points).size, `${title} points at ${points.join(',')} in\n${shown}`).toBe(1);
        }
      });

      it("shows the global scope's spend today in the header, as usd() words it", () => {
        const state = demoState();
        const global = state.data?.scopes.global;
        const perDay = global?.spent.per_day;
        const limit = global?.limit.per_day;
        if (typeof perDay !== 'object' || typeof limit !== 'object') throw new Error('the demo config gives global a per_day limit');
        const text = screen(state, columns, rows);
        const header = text.split('\n')[1] ?? '';
        expect(header).toContain(`today ${usd(perDay.cost_usd ?? 0)}/${usd(limit.cost_usd ?? 0)}`);
        // The tree's global row says the same amount (with the column's decimals).
        const { header: heading, rows: tree } = treeLines(text);
        const row = tree.find((r) => /^[ ›] [▾▸ ] global /.test(r)) ?? '';
        const cell = [...row].slice(0, headingEnd(heading, 'SPENT')).join('').trim().split(' ').at(-1) ?? '';
        expect(cell, row).toMatch(/^\$[\d,]+\.\d+$/);
        expect(usd(Number(cell.slice(1).replace(/,/g, '')), 2)).toBe(usd(perDay.cost_usd ?? 0, 2));
      });
    });
  }
});
