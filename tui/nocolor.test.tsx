import { cleanup } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';

// chalk decides its colour level when it is first imported: force full colour, so the test
// proves the monochrome theme (not a colourless test terminal) is what keeps codes out.
vi.hoisted(() => {
  process.env.FORCE_COLOR = '3';
});

const { Screen } = await import('./components/Screen.js');
const { COLOR_THEME, themeFromEnv } = await import('./theme.js');
const { delta, press, renderSized, replay, run, scope, T0, themed } = await import('./test-support/fixtures.js');
const { reducer } = await import('./reducer.js');

afterEach(() => cleanup());

const SGR = '\x1b[';

function hot() {
  const state = replay();
  return reducer(state, {
    type: 'feed',
    frame: delta({
      'session:nightly': { ...(state.data?.scopes['session:nightly'] ?? scope({ kind: 'session', parent: 'user:bob' })), pressure: 'exceeded', ratio: 1.04 },
      'session:s-42': { ...(state.data?.scopes['session:s-42'] ?? scope({ kind: 'session', parent: 'user:alice' })), pressure: 'critical', ratio: 0.93 },
      'task:t-7': { ...(state.data?.scopes['task:t-7'] ?? scope({ kind: 'task', parent: 'session:s-42' })), pressure: 'warning', ratio: 0.74 },
    }),
    now_ms: T0,
  });
}

describe('NO_COLOR', () => {
  it('the colour theme does colour (the control)', () => {
    const out = renderSized(themed(<Screen state={hot()} size={{ columns: 80, rows: 24 }} />, COLOR_THEME), 80, 24);
    expect(out.lastFrame()).toContain(SGR);
  });

  it.each([
    [80, 24],
    [120, 40],
  ])('at %i×%i: no escape codes at all, and pressure still reads from words and glyphs', (columns, rows) => {
    const theme = themeFromEnv({ NO_COLOR: '1' });
    for (const state of [hot(), run(hot(), press('j'), press('j')), run(hot(), press('X')), run(hot(), press('?'))]) {
      const frame = renderSized(themed(<Screen state={state} size={{ columns, rows }} />, theme), columns, rows).lastFrame() ?? '';
      expect(frame).not.toContain(SGR);
      expect(frame).not.toContain('\x1b');
    }
    const frame = renderSized(themed(<Screen state={hot()} size={{ columns, rows }} />, theme), columns, rows).lastFrame() ?? '';
    expect(frame).toMatch(/session:nightly .* X over 104%/);
    expect(frame).toMatch(/session:s-42 .* !! crit 93%/);
    expect(frame).toMatch(/task:t-7 .* ! warn 74%/);
    expect(frame).toMatch(/task:build .* ok 14%/);
  });

  it('stale numbers are dimmed while the daemon is away', () => {
    const DIM = `${SGR}2m`;
    const live = hot();
    const dimmedLines = (state: typeof live) =>
      (renderSized(themed(<Screen state={state} size={{ columns: 100, rows: 30 }} />, COLOR_THEME), 100, 30).lastFrame() ?? '').split('\n').filter((l) => l.includes(DIM) && /\$\d/.test(l));
    const away = reducer(live, { type: 'connection', connection: { kind: 'reconnecting', attempt: 1, next_at_ms: T0 + 5_000, since_ms: T0, reason: 'connection closed (code 1006)' }, now_ms: T0 + 2_000 });
    const before = dimmedLines(live).length;
    // Every scope row with money on it goes dim (the tree, the header figures).
    expect(dimmedLines(away).length).toBeGreaterThan(before + 5);
    expect(dimmedLines(away).some((l) => l.includes('session:nightly'))).toBe(true);
  });

  it('an empty NO_COLOR does not count (no-color.org)', () => {
    expect(themeFromEnv({ NO_COLOR: '' })).toBe(COLOR_THEME);
    expect(themeFromEnv({}).monochrome).toBe(false);
    expect(themeFromEnv({ NO_COLOR: '1' }).monochrome).toBe(true);
  });
});
