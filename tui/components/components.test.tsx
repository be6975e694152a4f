import { cleanup } from 'ink-testing-library';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reducer } from '../reducer.js';
import type { State } from '../state.js';
import { delta, plain, press, RECORDED, renderSized, replay, run, scope, T0, themed, type, widest } from '../test-support/fixtures.js';
import { COLOR_THEME, MONO_THEME } from '../theme.js';
import { Screen } from './Screen.js';

beforeAll(() => {
  process.env.TZ = 'UTC';
});
afterEach(() => cleanup());

function draw(state: State, columns: number, rows: number): string {
  const out = renderSized(themed(<Screen state={state} size={{ columns, rows }} />), columns, rows);
  const frame = out.lastFrame();
  expect(widest(frame), 'a line wider than the terminal').toBeLessThanOrEqual(columns);
  expect(plain(frame).split('\n').length, 'taller than the terminal').toBeLessThan(rows);
  return plain(frame);
}

const SIZES = [
  [80, 24],
  [120, 40],
] as const;

describe.each(SIZES)('the dashboard at %i×%i', (columns, rows) => {
  const state = replay();

  it('header: connection, spend today vs limit, burn rate now and 10 min with a sparkline, exhaustion, agents, prompts, limit source', () => {
    const lines = draw(state, columns, rows).split('\n');
    expect(lines[0]).toMatch(/^spendguard ● live · agents 4 · prompts 1/);
    expect(lines[1]).toMatch(/^today \$1\.24\/\$20\.00 ok 6% · burn \$5\.46\/min now, —\/min 10m [▁-█]+/);
    // session:nightly would run out in 4s, but a prompt on it is what blocks it now (issue 13).
    expect(lines.slice(1, 3).join(' ')).toContain('session:nightly waiting for approval');
    // At 80 columns the end of line 3 is what gets cut (the projection comes first there).
    expect(lines.slice(1, 3).join(' ')).toContain(columns >= 120 ? 'limits: /tmp/sgx/config.yaml · loaded 22:58:34' : 'limits: /tmp/sgx/config.yaml · loaded 2');
  });

  it('header: a ledger that cannot be written is marked on line 1 and leads line 3, in words (NO_COLOR too)', () => {
    const down = reducer(state, {
      type: 'feed',
      frame: delta({}, { ledger: { writable: false, error: 'database or disk is full', since_ms: T0 - 5_000 } }),
      now_ms: T0,
    });
    for (const theme of [COLOR_THEME, MONO_THEME]) {
      const out = renderSized(themed(<Screen state={down} size={{ columns, rows }} />, theme), columns, rows);
      const frame = out.lastFrame() ?? '';
      expect(widest(frame)).toBeLessThanOrEqual(columns);
      if (theme.monochrome) expect(frame).not.toContain('\x1b[');
      const lines = plain(frame).split('\n');
      expect(lines[0]).toMatch(/^spendguard ● live · ✖ LEDGER DOWN · agents 4/);
      expect(lines[2]).toMatch(/^✖ LEDGER UNAVAILABLE since \d\d:\d\d:\d\d: database or disk is full/);
    }
    const back = reducer(down, { type: 'feed', frame: delta({}, { at_ms: T0 + 2_000 }), now_ms: T0 });
    expect(draw(back, columns, rows)).not.toContain('LEDGER');
  });

  it('approvals: agent, scope, amount asked, spend if granted against the limit, countdown, age, reason', () => {
    const frame = draw(state, columns, rows);
    expect(frame).toContain('Pending approvals (1) · a/o/d act on the oldest (top)');
    expect(frame).toMatch(/ {2}agent:loop-3 1m57s left session:nightly {2}\$0\.50 → \$1\.24\/\$1\.00 {2}age 2s {2}sess/);
  });

  it('tree: user › session › task › agent with spent/limit, pressure bar and words, reserved, status', () => {
    const frame = draw(state, columns, rows);
    expect(frame).toMatch(/Scopes \(12\) +SPENT +LIMIT( +TOKENS)? PRESSURE +RESV /);
    expect(frame).toMatch(/▾ session:nightly +\$0\.74 +\$1\.00( +10\.5k)? █+[▉▊▋▌▍▎▏]?░+ ! warn 74% +\$0\.00 /);
    expect(frame).toMatch(/agent:r\S*1a +\$0\.02 +\$0\.10( +1\.5k)? [█▉▊▋▌▍▎▏]+░+ ok 20%/);
    expect(frame).toMatch(/▾ task:t-8 .*\$0\.04 .*killed/);
    expect(frame).toMatch(/agent:loo\S* +\$0\.74 +— +(10\.5k +)?ok — .*waiting/);
    if (columns >= 120) expect(frame).toMatch(/RESV +DELAY BREAKER +STATUS/);
  });

  it('issue 13: money columns share their decimals and line up, tokens keep their own column, the header does not move', () => {
    const t7 = state.data?.scopes['task:t-7'] ?? scope({ kind: 'task', parent: 'session:s-42' });
    const mixed = reducer(state, { type: 'feed', frame: delta({ 'task:t-7': { ...t7, spent: { cost_usd: 0.0325, tokens: 10_500 } } }), now_ms: T0 });
    const before = draw(state, columns, rows).split('\n');
    const after = draw(mixed, columns, rows).split('\n');
    const heading = (lines: string[]): string => lines.find((l) => l.startsWith('Scopes')) ?? '';
    expect(heading(after)).toBe(heading(before));
    const spentCell = (lines: string[], id: string): [string, number] => {
      const line = lines.find((l) => l.includes(`▾ ${id} `)) ?? '';
      const match = /\$[\d,]+\.\d+/.exec(line);
      return [match?.[0] ?? '', line.indexOf('.', match?.index ?? 0)];
    };
    expect(spentCell(after, 'task:t-7')[0]).toBe('$0.0325');
    expect(spentCell(after, 'global')[0]).toBe('$1.2400');
    // Right-aligned with one number of decimals: the points sit in one column.
    expect(spentCell(after, 'global')[1]).toBe(spentCell(after, 'task:t-7')[1]);
    expect(spentCell(after, 'session:nightly')[1]).toBe(spentCell(after, 'task:t-7')[1]);
    // No dollar cell carries a token count (`120k/500k tok` used to share it).
    for (const line of after) expect(line).not.toMatch(/\$[\d.,]+\/[\d.]+k/);
  });

  it('alerts: newest first, level as glyph and word', () => {
    const frame = draw(state, columns, rows);
    expect(frame).toContain('Recent alerts (3)');
    expect(frame).toMatch(/22:58:51 !! crit task:t-8 killed \(drift\): 1 connected agent stopped\n22:58:50 ! warn {2}approval needed/);
  });

  it('footer: hints from the key table', () => {
    const frame = draw(state, columns, rows);
    const footer = frame.split('\n').at(-1) ?? '';
    expect(footer).toMatch(/a approve {2}.*x kill {2}X kill all {2}r resume {2}.*\? help {2}q quit/);
  });

  it('selection: a gutter mark, readable without colour', () => {
    const frame = draw(run(state, press('j'), press('j')), columns, rows);
    expect(frame).toMatch(/\n› ▾ global /);
  });

  it('details of a scope and of a prompt, in place of the tree', () => {
    const onSession = run(state, press('j'), press('j'), press('j'), press('j'));
    const scopeFrame = draw(run(onSession, press('enter')), columns, rows);
    expect(scopeFrame).toContain('session:s-42  session under user:alice · running');
    expect(scopeFrame).toContain('pressure ok 62% · mode approval · limits from config');
    expect(scopeFrame).toContain('breaker closed · delay 0ms · 0 agents connected here');
    expect(scopeFrame).toMatch(/cost_usd +\$0\.50 +\$0\.12 +\$1\.00 +62%/);
    expect(scopeFrame).toContain('under it: 2 tasks, 3 agents · 3 connected agents');
    expect(scopeFrame).toContain('Pending approvals (1)');
    const promptFrame = draw(run(state, press('j'), press('enter')), columns, rows);
    expect(promptFrame).toContain('prompt p1-23  agent:loop-3 on session:nightly');
    expect(promptFrame).toContain('asks $0.50 · spend if granted $1.24 of a $1.00 limit');
    expect(promptFrame).toContain('times out in 1m57s (then denied APPROVAL_TIMEOUT)');
  });

  it('help overlay, generated from the key table', () => {
    const frame = draw(run(state, press('?')), columns, rows);
    for (const text of ['Dashboard', 'kill scope (y confirms)', 'kill all (y confirms)', 'approve (+increment)', 'Kill or large grant confirmation', 'other keys', 'a/o/d act on the highlighted prompt']) {
      expect(frame).toContain(text);
    }
    expect(frame.split('\n')[0]).toContain('● live');
  });

  it('kill confirmation names the scope, the agents it reaches and their spend; cancel is the default', () => {
    const onSession = run(state, press('j'), press('j'), press('j'), press('j'), press('x'));
    const frame = draw(onSession, columns, rows);
    expect(frame).toContain('Kill session:s-42?');
    expect(frame).toContain('It reaches 3 connected agents, which have spent $0.50 so far.');
    expect(frame).toContain('y to kill session:s-42 — 3 agents  any other key cancels');
    expect(frame.split('\n').at(-1)).toBe('y to kill session:s-42 — 3 agents  any other key cancels');
    expect(frame).toContain('Pending approvals (1)');
    const all = draw(run(state, press('X')), columns, rows);
    expect(all).toContain('Kill global: ALL agents?');
    expect(all).toContain('It reaches 4 connected agents, which have spent $1.24 so far.');
    expect(all).toContain('y to kill ALL — 4 agents');
  });

  it('grant input: target, figures, what was typed, and the reason a typed amount is refused', () => {
    const typing = run(state, press('j'), press('j'), press('j'), press('j'), press('g'), type('1.5'));
    const frame = draw(typing, columns, rows);
    expect(frame).toContain('Grant to session:s-42: spent $0.50, limit $1.00');
    expect(frame).toContain('amount: 1.5▏');
    expect(draw(run(typing, type('x'), press('enter')), columns, rows)).toContain('not an amount: "1.5x"');
    expect(draw(run(state, press('j'), press('g')), columns, rows)).toContain('Grant to session:nightly (answers prompt p1-23)');
  });

  it('filter: typed in the footer, the tree follows', () => {
    const frame = draw(run(state, press('/'), type('t-7')), columns, rows);
    expect(frame).toMatch(/Scopes \/t-7 \(6\)/);
    expect(frame).not.toContain('user:bob');
    expect(frame.split('\n').at(-1)).toMatch(/^filter: \/t-7▏ {2}⏎ apply {2}esc cancel/);
    expect(draw(run(state, press('/'), type('zzz'), press('enter')), columns, rows)).toContain('no scope matches "zzz" (Esc clears the filter)');
  });

  it('answers to commands show in the footer', () => {
    const sent = run(state, press('a'), { type: 'sent', ids: ['tui-1'] });
    expect(draw(sent, columns, rows).split('\n').at(-1)).toBe('approve p1-23 (agent:loop-3 on session:nightly) +$1.00…');
    const done = reducer(sent, { type: 'result', id: 'tui-1', ok: true, message: 'granted +$1.00 on session:nightly for p1-23', now_ms: T0 });
    expect(draw(done, columns, rows).split('\n').at(-1)).toBe('granted +$1.00 on session:nightly for p1-23');
  });

  it('reconnecting: banner with attempt and countdown; last data kept with its age, not zeroed', () => {
    const stale = reducer(state, { type: 'connection', connection: { kind: 'reconnecting', attempt: 2, next_at_ms: T0 + 16_000, since_ms: T0 + 10_000, reason: 'connection closed (code 1006)' }, now_ms: T0 + 12_000 });
    const frame = draw(stale, columns, rows);
    expect(frame.split('\n')[0]).toMatch(/^spendguard ◌ reconnecting \(attempt 2, next in 4s\) · data 12s old/);
    expect(frame).toContain('today $1.24/$20');
    expect(frame).toContain('1m45s left');
    const down = reducer(stale, { type: 'connection', connection: { kind: 'down', attempt: 9, next_at_ms: null, since_ms: T0, reason: 'connect ECONNREFUSED 127.0.0.1:7878' }, now_ms: T0 + 60_000 });
    expect(draw(down, columns, rows).split('\n')[0]).toMatch(/^spendguard ✖ daemon down \(attempt 9, connecting…\) · data 1m00s old/);
  });

  it('never shows zeros before the first frame', () => {
    const frame = draw(replay([]), columns, rows);
    expect(frame).toContain('spendguard ● live');
    expect(frame).toContain('waiting for the first feed frame from the daemon…');
    expect(frame).not.toMatch(/\$0/);
  });

  it('an agent waits while the prompt list says so, even when its own scope was not re-sent', () => {
    const answered = reducer(state, { type: 'feed', frame: delta({}, { prompts: [] }), now_ms: T0 });
    expect(answered.data?.scopes['agent:loop-3']?.state).toBe('waiting');
    expect(draw(answered, columns, rows)).toMatch(/agent:loop-3 .* running\s*\n/);
  });

  it('breaker, delay and exceeded pressure', () => {
    const hot = reducer(state, {
      type: 'feed',
      frame: delta({
        'session:nightly': { ...(state.data?.scopes['session:nightly'] ?? scope({ kind: 'session', parent: 'user:bob' })), pressure: 'exceeded', ratio: 1.04, delay_ms: 5_000, breaker: 'open' },
      }),
      now_ms: T0,
    });
    const frame = draw(hot, columns, rows);
    expect(frame).toMatch(/session:nightly .*████+ X over 104%/);
    if (columns >= 120) expect(frame).toMatch(/session:nightly .* 5s open +running/);
    else expect(frame).toMatch(/session:nightly .* brk open/);
  });
});

describe('a terminal below 80×24', () => {
  it.each([
    [79, 24],
    [80, 23],
    [40, 12],
  ])('%i×%i says so instead of drawing', (columns, rows) => {
    const out = renderSized(themed(<Screen state={replay()} size={{ columns, rows }} />), columns, rows);
    expect(plain(out.lastFrame())).toBe(`terminal too small: ${columns}×${rows}, need 80×24\nq quit\nother keys wait for a bigger window`);
  });
});

describe('long lists', () => {
  it('scrolls the tree to keep the selection in view and says which rows are shown', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`agent:a${String(i).padStart(2, '0')}`, scope({ kind: 'agent', parent: 'task:build', agents: 1, state: 'running' })]));
    const state = reducer(replay(), { type: 'feed', frame: delta(many), now_ms: T0 });
    const frame = draw(run(state, ...Array.from({ length: 30 }, () => press('j'))), 80, 24);
    expect(frame).toMatch(/Scopes \d+–\d+ of 52/);
    expect(frame).toMatch(/› +agent:a17 /);
    expect(RECORDED).toHaveLength(13);
  });
});

describe('issue 13: every action names its target, at 80×24', () => {
  const state = replay();

  it('the footer names the scope x would kill and its agents, and keeps X and r', () => {
    const onAgent = run(state, press('j'), press('j'), press('j'), press('j'), press('j'), press('j'));
    const footer = draw(onAgent, 80, 24).split('\n').at(-1) ?? '';
    expect(footer).toMatch(/x kill agent:research-1 {2}X kill all {2}r resume/);
    const onPrompt = draw(run(state, press('j')), 80, 24).split('\n').at(-1) ?? '';
    expect(onPrompt).toContain('x kill agent:loop-3  X kill all  r resume');
  });

  it('prompt details list only keys that work there, naming the prompt and the agent', () => {
    const frame = draw(run(state, press('j'), press('enter')), 80, 24);
    expect(frame).toContain('a approve · o once · d deny · g grant · x kill agent:loop-3 · esc close');
    const scopeFrame = draw(run(state, press('j'), press('j'), press('j'), press('j'), press('enter')), 80, 24);
    expect(scopeFrame).toContain('g grant · x kill session:s-42 · r resume · esc close');
  });

  it('a large grant asks, showing the limit before and after', () => {
    const asking = run(state, press('j'), press('j'), press('j'), press('j'), press('g'), type('1000000'), press('enter'));
    const frame = draw(asking, 80, 24);
    expect(frame).toContain('Grant +$1,000,000.00 to session:s-42: spent $0.50, limit $1.00?');
    expect(frame).toContain('It is over $10.00: limit $1.00 → $1,000,001.00.');
    expect(frame.split('\n').at(-1)).toBe('y to grant +$1,000,000.00 to session:s-42  any other key cancels');
  });
});
