import { cleanup } from 'ink-testing-library';
import { act } from 'react';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './app.js';
import { FakeSource } from './test-support/fake-source.js';
import { live, plain, RECORDED, renderSized, resize, T0 } from './test-support/fixtures.js';
import { MONO_THEME } from './theme.js';

// Ink renders through React: act() runs effects (the outbox hand-off) before we look.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const KEYS = { up: '\x1b[A', down: '\x1b[B', right: '\x1b[C', left: '\x1b[D', enter: '\r', escape: '\x1b', backspace: '\x7f', ctrlC: '\x03', pageDown: '\x1b[6~' };

beforeAll(() => {
  process.env.TZ = 'UTC';
});
beforeEach(() => {
  // setImmediate stays real: Ink uses it to tell a lone Esc from the start of an escape sequence.
  vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(async () => {
  await act(async () => cleanup());
  vi.useRealTimers();
});

async function mount(options: { columns?: number; rows?: number; readonly?: boolean } = {}) {
  const source = new FakeSource();
  let rendered: ReturnType<typeof renderSized> | undefined;
  await act(async () => {
    rendered = renderSized(<App source={source} readonly={options.readonly ?? false} theme={MONO_THEME} />, options.columns ?? 80, options.rows ?? 24);
  });
  const screen = rendered as ReturnType<typeof renderSized>;
  await act(async () => {
    source.push(live(), ...RECORDED.map((frame) => ({ type: 'feed' as const, frame, now_ms: T0 })));
  });
  const keys = async (...input: string[]): Promise<void> => {
    for (const k of input) {
      await act(async () => {
        screen.stdin.write(k);
        await new Promise((resolve) => setImmediate(resolve));
      });
    }
  };
  return { source, screen, keys, frame: () => plain(screen.lastFrame()) };
}

describe('App: keys end to end (stdin → key table → reducer → screen / socket)', () => {
  it('starts the feed and draws it', async () => {
    const { source, frame } = await mount();
    expect(source.started).toBe(true);
    expect(frame()).toContain('Pending approvals (1)');
    expect(frame()).toContain('● live');
  });

  it('↑↓ j k and PgDn move the selection over prompts, then scopes', async () => {
    const { keys, frame } = await mount();
    await keys(KEYS.down);
    expect(frame()).toMatch(/\n› agent:loop-3 +\S+ left session:nightly/);
    await keys('j', 'j');
    expect(frame()).toMatch(/\n› {2}▾ user:alice/);
    await keys('k', KEYS.up);
    expect(frame()).toMatch(/\n› agent:loop-3/);
    await keys(KEYS.pageDown);
    expect(frame()).toMatch(/\n› +▾ session:nightly/);
  });

  it('a burst of keys (a held j, a paste) moves once per character, but never confirms a kill', async () => {
    const { keys, frame, source } = await mount();
    await keys('jjj');
    expect(frame()).toMatch(/\n› {2}▾ user:alice/);
    await keys('Xy');
    expect(source.sent).toEqual([]);
    expect(frame()).toContain('kill cancelled: nothing was sent');
  });

  it('← → collapse and expand', async () => {
    const { keys, frame } = await mount();
    await keys('j', 'j', 'j', KEYS.left);
    expect(frame()).toMatch(/› {2}▸ user:alice/);
    expect(frame()).not.toContain('session:s-42');
    await keys(KEYS.right);
    expect(frame()).toContain('session:s-42');
  });

  it('a approves the oldest prompt; o and d act on the highlighted one', async () => {
    const { keys, source, frame } = await mount();
    await keys('a');
    expect(source.sent).toEqual([{ type: 'grant', id: 'tui-1', target: 'p1-23' }]);
    expect(frame()).toContain('approve p1-23 (agent:loop-3 on session:nightly) +$1.00…');
    await act(async () => source.push({ type: 'result', id: 'tui-1', ok: true, message: 'granted +$1.00 on session:nightly for p1-23', now_ms: T0 }));
    expect(frame().split('\n').at(-1)).toBe('granted +$1.00 on session:nightly for p1-23');
    await keys('j', 'o', 'd');
    expect(source.sent.slice(1)).toEqual([
      { type: 'grant', id: 'tui-2', target: 'p1-23', once: true },
      { type: 'deny', id: 'tui-3', prompt: 'p1-23' },
    ]);
  });

  it('g opens the amount input, which takes the keys first; Enter grants', async () => {
    const { keys, source, frame } = await mount();
    await keys('j', 'j', 'j', 'j', 'g', '0', '.', '5', 'q', KEYS.backspace);
    expect(frame()).toContain('amount: 0.5▏');
    await keys(KEYS.enter);
    expect(source.sent).toEqual([{ type: 'grant', id: 'tui-1', target: 'session:s-42', add_usd: 0.5 }]);
  });

  it('x asks, naming the blast radius; only y kills; X then y kills all', async () => {
    const { keys, source, frame } = await mount();
    await keys('j', 'j', 'j', 'j', 'x');
    expect(frame()).toContain('Kill session:s-42?');
    expect(frame()).toContain('It reaches 3 connected agents, which have spent $0.50 so far.');
    await keys(KEYS.enter);
    expect(source.sent).toEqual([]);
    expect(frame()).toContain('kill cancelled: nothing was sent');
    await keys('x', 'y');
    expect(source.sent).toEqual([{ type: 'kill', id: 'tui-1', scope: 'session:s-42', reason: 'killed from spendguard top' }]);
    await keys('X');
    expect(frame()).toContain('Kill global: ALL agents?');
    await keys('y');
    expect(source.sent.at(-1)).toEqual({ type: 'kill', id: 'tui-2', all: true, reason: 'killed from spendguard top' });
  });

  it('r resumes the selected killed scope', async () => {
    const { keys, source } = await mount();
    await keys('j', 'j', 'j', 'j', 'j', 'j', 'j', 'j', 'r');
    expect(source.sent).toEqual([{ type: 'resume', id: 'tui-1', scope: 'task:t-8' }]);
  });

  it('/ filters; enter shows details; ? shows help; Esc closes', async () => {
    const { keys, frame } = await mount();
    await keys('/', 'b', 'o', 'b', KEYS.enter);
    expect(frame()).toMatch(/Scopes \/bob \(5\)/);
    await keys('j', 'j', 'j', KEYS.enter);
    expect(frame()).toContain('user:bob  user under global · running');
    await keys(KEYS.escape);
    expect(frame()).toMatch(/Scopes \/bob/);
    await keys('?');
    expect(frame()).toContain('kill all (y confirms)');
    await keys('?');
    expect(frame()).toContain('Scopes /bob');
  });

  it('--readonly: no command reaches the daemon, and the screen says why', async () => {
    const { keys, source, frame } = await mount({ readonly: true });
    expect(frame()).toContain('read-only');
    expect(frame()).not.toContain('a approve');
    await keys('a', 'o', 'd', 'g', 'x', 'X', 'r', 'y');
    expect(source.sent).toEqual([]);
    expect(frame()).toContain('read-only: resume is off (top was started with --readonly)');
  });

  it('countdowns and ages move with the clock between frames', async () => {
    const { frame } = await mount();
    expect(frame()).toMatch(/1m57s left session:nightly .* age 2s /);
    await act(async () => void vi.advanceTimersByTime(5_000));
    expect(frame()).toMatch(/1m52s left session:nightly .* age 7s /);
  });

  it('adapts live to resizes, down to the too-small message and back', async () => {
    const { screen, frame } = await mount({ columns: 120, rows: 40 });
    expect(frame()).toMatch(/BREAKER +STATUS/);
    await act(async () => resize(screen.stdout, 80, 24));
    expect(frame()).not.toContain('BREAKER');
    expect(frame()).toContain('Pending approvals (1)');
    await act(async () => resize(screen.stdout, 60, 20));
    expect(frame()).toContain('terminal too small: 60×20, need 80×24');
    await act(async () => resize(screen.stdout, 100, 30));
    expect(frame()).toContain('/min now');
  });

  it('q quits (the feed stops); so does Ctrl-C, even inside a dialog', async () => {
    const first = await mount();
    await first.keys('q');
    expect(first.source.stopped).toBe(true);
    const second = await mount();
    await second.keys('j', 'g', '1');
    expect(second.frame()).toContain('amount: 1▏');
    await second.keys(KEYS.ctrlC);
    expect(second.source.stopped).toBe(true);
  });
});

describe('issue 13: the too-small screen ignores every action key (stdin → screen → socket)', () => {
  it('at 60×20, X y, a, g and x do nothing; an open dialog closes; growing back shows the dashboard', async () => {
    const { screen, keys, frame, source } = await mount();
    await keys('j', 'x');
    expect(frame()).toContain('Kill agent:loop-3?');
    await act(async () => resize(screen.stdout, 60, 20));
    expect(frame()).toContain('terminal too small: 60×20, need 80×24');
    await keys('y', 'X', 'y', 'a', 'o', 'd', 'r', 'g', '5', KEYS.enter, 'x', 'y');
    expect(source.sent).toEqual([]);
    await act(async () => resize(screen.stdout, 80, 24));
    expect(frame()).toContain('Pending approvals (1)');
    expect(frame()).not.toContain('Kill agent:loop-3?');
    await keys('y');
    expect(source.sent).toEqual([]);
    await act(async () => resize(screen.stdout, 60, 20));
    await keys('q');
    expect(source.stopped).toBe(true);
  });
});
