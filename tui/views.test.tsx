import { cleanup } from 'ink-testing-library';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AlertJson } from '../shared/protocol/operator.js';
import { Screen } from './components/Screen.js';
import { reducer } from './reducer.js';
import { selectedKey, visibleTree } from './select.js';
import type { State } from './state.js';
import { delta, plain, press, renderSized, replay, run, T0, themed, widest } from './test-support/fixtures.js';
import { MONO_THEME } from './theme.js';

beforeAll(() => {
  process.env.TZ = 'UTC';
});
afterEach(() => cleanup());

function draw(state: State, columns = 80, rows = 24): string {
  const frame = renderSized(themed(<Screen state={state} size={{ columns, rows }} />, MONO_THEME), columns, rows).lastFrame();
  expect(widest(frame)).toBeLessThanOrEqual(columns);
  return plain(frame);
}

const ids = (state: State): string[] => visibleTree(state).map((r) => r.id);

describe('issue 13: sorting and the hot-only filter for large fleets', () => {
  it('s cycles name → spend → burn → pressure → name; siblings reorder under their parent; the cursor stays on its scope', () => {
    let state = run(replay(), press('j'), press('j'), press('j'));
    const cursor = selectedKey(state);
    const byName = ids(state);
    state = reducer(state, press('s'));
    expect(state.sort).toBe('spend');
    const scopes = state.data?.scopes ?? {};
    // Every parent's children come in descending spend.
    for (const row of visibleTree(state)) {
      const kids = visibleTree(state).filter((r) => r.parent === row.id).map((r) => scopes[r.id]?.spent.cost_usd ?? 0);
      expect(kids).toEqual([...kids].sort((a, b) => (b as number) - (a as number)));
    }
    expect(new Set(ids(state))).toEqual(new Set(byName));
    expect(selectedKey(state)).toBe(cursor);
    expect(draw(state)).toMatch(/Scopes ↓spend/);
    state = run(state, press('s'), press('s'));
    expect(state.sort).toBe('pressure');
    state = reducer(state, press('s'));
    expect(state.sort).toBe('name');
    expect(ids(state)).toEqual(byName);
  });

  it('h shows only scopes under pressure, killed or waiting, with the scopes above them; h again shows all', () => {
    const all = replay();
    const hot = reducer(all, press('h'));
    const shown = ids(hot);
    expect(shown.length).toBeLessThan(ids(all).length);
    // task:t-8 is killed, session:nightly is over 70 % with a prompt: both stay, with their parents.
    for (const id of ['global', 'user:alice', 'session:s-42', 'task:t-8', 'user:bob', 'session:nightly']) expect(shown).toContain(id);
    const scopes = hot.data?.scopes ?? {};
    for (const id of shown) {
      const s = scopes[id];
      const needed = s !== undefined && (s.pressure !== 'ok' || s.killed || s.killed_by !== null || s.breaker !== 'closed' || s.state === 'waiting');
      const above = shown.some((other) => scopes[other]?.parent === id);
      expect(needed || above, `${id} is neither hot nor above a hot scope`).toBe(true);
    }
    expect(draw(hot)).toMatch(/Scopes hot/);
    expect(ids(reducer(hot, press('h')))).toEqual(ids(all));
  });
});

function alert(seq: number, message: string, level: AlertJson['level'] = 'critical'): AlertJson {
  return { seq: 100 + seq, at_ms: T0 + seq * 1_000, level, kind: 'detector', scope: `agent:a${seq}`, message };
}

const LONG = 'retry loop: agent:a1 sent the same request 12 times in 30 s; the breaker is open for 60 s — check the tool it retries (its last error was a 429 from the provider) before resuming';

describe('issue 13: the alert log scrolls and shows long text in full', () => {
  const withAlerts = (n: number): State => reducer(replay(), { type: 'feed', frame: delta({}, { alerts: Array.from({ length: n }, (_, i) => alert(i + 1, i === n - 1 ? LONG : `event number ${i + 1} on agent:a${i + 1} with detail ${'x'.repeat(i)}`, i % 2 === 0 ? 'critical' : 'warning')) }), now_ms: T0 });

  it('the panel cuts a long alert; l opens the log, where it is whole, wrapped', () => {
    const state = withAlerts(3);
    expect(draw(state)).not.toContain('before resuming');
    const log = reducer(state, press('l'));
    expect(log.mode.kind).toBe('log');
    const screen = draw(log);
    const joined = screen.replace(/\s*│\s*/g, ' ').replace(/\s+/g, ' ');
    expect(joined).toContain(LONG);
    expect(screen).toContain('Alert log · 1–');
    expect(screen).toMatch(/↑↓ PgUp PgDn scroll/);
  });

  it('↓ and PgDn scroll towards older alerts and stop at the oldest; Esc closes', () => {
    const state = reducer(withAlerts(30), press('l'));
    const scrolled = run(state, press('down'), press('down'));
    expect(scrolled.logScroll).toBe(2);
    expect(draw(scrolled)).toContain('Alert log · 3–');
    const bottom = run(scrolled, press('pagedown'), press('pagedown'), press('pagedown'), press('pagedown'));
    const total = bottom.logScroll + 1;
    expect(draw(bottom)).toMatch(new RegExp(`Alert log · ${total}–\\d+ of ${total}`));
    expect(reducer(bottom, press('pagedown')).logScroll).toBe(bottom.logScroll);
    expect(run(bottom, press('up')).logScroll).toBe(bottom.logScroll - 1);
    expect(reducer(bottom, press('escape')).mode.kind).toBe('main');
    // Keys of the dashboard do nothing in the log: x does not open a kill.
    expect(reducer(state, press('x')).mode.kind).toBe('log');
  });

  it('the details of a prompt show a long reason whole', () => {
    const base = replay();
    const prompt = base.data?.prompts[0];
    if (!prompt) throw new Error('the recording has a prompt');
    const reason = `${'the session is over its approval threshold because agent:loop-3 kept calling the build tool; '.repeat(2)}END-OF-REASON`;
    const state = reducer(base, { type: 'feed', frame: delta({}, { prompts: [{ ...prompt, reason }] }), now_ms: T0 });
    const open = run(state, press('j'), press('enter'));
    expect(open.mode.kind).toBe('details');
    const screen = draw(open, 80, 30);
    expect(screen).toContain('END-OF-REASON');
  });
});
