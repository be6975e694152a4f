import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO, waitFor as poll } from './daemon-process.js';
import { Terminal } from './terminal.js';

/**
 * `spendguard demo` tried as a new user would: the real command with its dashboard, in a real
 * terminal (tmux), once with `CI` unset and once with `CI=true` (a shell in a CI job). Keys are
 * typed into it and the screen is read back with capture-pane; after `q` the terminal must be
 * the user's again and nothing the demo started may be left behind. Every step polls the screen
 * for what it waits for, so a busy machine makes the test slower, not red.
 */

const term = new Terminal('sg-demo-tui');
const { tmux, screen, shellScreen, pane, keys, waitForScreen } = term;
const EXITED = '[demo exited';
const TTY = '[tty:';

/** `today $0.681/$200.00` in the header: the day's spend. */
function spentToday(s: string): number | undefined {
  const m = /today \$([\d,]+(?:\.\d+)?)\/\$200\.00\b/.exec(s);
  return m?.[1] === undefined ? undefined : Number(m[1].replace(/,/g, ''));
}

/** `burn $2.04/min now`: the last minute's burn rate, undefined while it is `—`. */
function burnNow(s: string): number | undefined {
  const m = /burn \$([\d,]+(?:\.\d+)?)\/min now/.exec(s);
  return m?.[1] === undefined ? undefined : Number(m[1].replace(/,/g, ''));
}

/** Every process under the pane's shell, found through the process table. */
function descendants(root: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next = rows.filter(([, ppid]) => frontier.includes(ppid)).map(([pid]) => pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

async function reachable(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url.replace('ws://', 'http://')}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return r.status > 0;
  } catch {
    return false;
  }
}

/** The demo's own lines, printed before the dashboard took over the screen. */
function announced(session: string): { url: string; stateDir: string } | undefined {
  const m = /demo daemon: (ws:\/\/\S+) state: (\S+)/.exec(shellScreen(session));
  return m?.[1] && m[2] ? { url: m[1], stateDir: m[2] } : undefined;
}

const waitFor = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, context: () => string): Promise<T> =>
  poll(what, probe, timeoutMs, context, 150);

/** Starts the demo in its own tmux session; the shell then says how it exited and whether the tty is cooked again. */
function startDemo(session: string, ci: 'unset' | 'true', size: { x: number; y: number }): void {
  const env = ci === 'unset' ? 'env -u CI -u CONTINUOUS_INTEGRATION' : 'env CI=true';
  const tty = `stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' '`;
  const command = `cd ${REPO} && ${env} ${process.execPath} ${BIN} demo; echo "${EXITED} $?]"; echo "${TTY} $(${tty})]"; sleep 120`;
  tmux('new-session', '-d', '-s', session, '-x', String(size.x), '-y', String(size.y), command);
}

interface Started {
  readonly url: string;
  readonly stateDir: string;
  /** The demo's processes (node, and whatever it started), seen while it ran. */
  readonly pids: number[];
}

const started: Started[] = [];

/** The dashboard is up: header on the first row, footer on the last but one (one row stays free). */
function expectWholeFrame(s: string, rows: number): void {
  const lines = s.split('\n');
  expect(lines[0]).toMatch(/^spendguard ● live/);
  // Only one header: no line of an earlier frame left above or below it.
  expect(s.match(/^spendguard /gm)).toHaveLength(1);
  expect(s).not.toContain('connecting (attempt');
  expect(lines[rows - 2]).toContain('q quit');
}

async function waitUntilLive(session: string): Promise<Started> {
  const s = await waitForScreen(session, '● live', 40_000);
  expect(s).not.toContain('terminal too small');
  expect(pane(session, '#{alternate_on}')).toBe('1');
  const where = await waitFor('the demo daemon line above the dashboard', () => announced(session), 5_000, () => shellScreen(session));
  expect(where.stateDir).toMatch(/spendguard-demo-/);
  expect(existsSync(where.stateDir)).toBe(true);
  const pids = descendants(Number(pane(session, '#{pane_pid}')));
  expect(pids.map(commandLine).join('\n')).toContain(`${BIN} demo`);
  const info = { ...where, pids };
  started.push(info);
  return info;
}

/** q, then: exit 0, the shell's screen back with the demo's summary, a cooked tty, nothing left running. */
async function quitAndCheckCleanup(session: string, info: Started): Promise<void> {
  keys(session, 'q');
  const after = await waitForScreen(session, (s) => s.includes(TTY), 30_000);
  expect(after).toContain(`${EXITED} 0]`);
  // The alternate screen is gone and the shell's lines are back, followed by the demo's summary.
  expect(pane(session, '#{alternate_on}')).toBe('0');
  expect(pane(session, '#{cursor_flag}')).toBe('1');
  expect(after).toContain(`demo daemon: ${info.url} state: ${info.stateDir}`);
  expect(after).toMatch(/demo stopped \(quit\) after \d+ s: \$\d+\.\d\d spent, \d+ calls by \d+ agents/);
  expect(after).toContain(`daemon stopped; ${info.stateDir} removed`);
  expect(after).not.toContain('● live');
  expect(after).not.toContain('Pending approvals');
  // Ink put the terminal back in cooked mode with echo.
  expect(after).toMatch(/\[tty: icanon echo \]/);
  expect(existsSync(info.stateDir)).toBe(false);
  await waitFor('the demo processes to end', () => (info.pids.some(alive) ? undefined : true), 5_000, () => info.pids.filter(alive).map(commandLine).join('\n'));
  expect(await reachable(info.url)).toBe(false);
  // Only the shell's own `sleep` is left under the pane.
  const left = descendants(Number(pane(session, '#{pane_pid}'))).map(commandLine);
  expect(left.filter((c) => !/^sleep 120$/.test(c))).toEqual([]);
}

afterAll(async () => {
  term.kill();
  // A failed run must not leave a demo behind: SIGHUP (kill-server) stops it; SIGKILL what did not go.
  await sleep(started.some((s) => s.pids.some(alive)) ? 3_000 : 0);
  for (const s of started) {
    for (const pid of s.pids.filter(alive)) process.kill(pid, 'SIGKILL');
    if (s.stateDir.includes('spendguard-demo-')) rmSync(s.stateDir, { recursive: true, force: true });
  }
});

describe('spendguard demo with its dashboard, in a terminal', () => {
  it('draws live numbers at 100×32 and 80×24, approves with a, kills all with X y, resumes with r, and q leaves nothing behind (CI unset)', async () => {
    const session = 'demo';
    startDemo(session, 'unset', { x: 100, y: 32 });
    const info = await waitUntilLive(session);

    // Live numbers that move: spend today (above zero and growing) and the burn rate.
    const first = await waitForScreen(session, (s) => (spentToday(s) ?? 0) > 0 && s.includes('/min now'), 20_000);
    expect(pane(session, '#{pane_width}x#{pane_height}')).toBe('100x32');
    expectWholeFrame(first, 32);
    const before = spentToday(first) ?? 0;
    await waitForScreen(session, (s) => (spentToday(s) ?? 0) > before, 15_000);
    await waitForScreen(session, (s) => (burnNow(s) ?? 0) > 0, 15_000);

    // The smallest supported size: still the whole dashboard, not the too-small notice.
    tmux('resize-window', '-t', session, '-x', '80', '-y', '24');
    const small = await waitForScreen(session, (s) => pane(session, '#{pane_width}x#{pane_height}') === '80x24' && /^spendguard ● live/.test(s) && s.includes('/min now') && s.includes('Pending approvals'), 10_000);
    expect(small).not.toContain('terminal too small');
    expect(small.split('\n').every((line) => [...line].length <= 80)).toBe(true);
    expectWholeFrame(await waitForScreen(session, (s) => s.split('\n')[22]?.includes('q quit') === true, 5_000), 24);
    tmux('resize-window', '-t', session, '-x', '100', '-y', '32');
    await waitForScreen(session, (s) => pane(session, '#{pane_width}x#{pane_height}') === '100x32' && s.split('\n')[30]?.includes('q quit') === true, 10_000);

    // The approval story: its agent overdraws session:release and waits; `a` grants the increment.
    const prompted = await waitForScreen(session, /Pending approvals \(1\)[\s\S]*agent:release-wri/, 40_000);
    expect(prompted).toMatch(/prompts 1/);
    expect(prompted).toContain('session:release');
    keys(session, 'a');
    // The daemon's alert log says who granted what.
    const approved = await waitForScreen(session, (s) => s.includes('Pending approvals (0)') && /(operator|top:\S+) granted \+\$0\.25\d* on session:release/.test(s), 10_000);
    expect(approved).toMatch(/prompts 0/);

    // Kill all, confirmed with y: the header says so and the spending stops.
    keys(session, 'X');
    const asking = await waitForScreen(session, 'Kill global: ALL agents?', 10_000);
    expect(asking).toMatch(/It reaches \d+ connected agents?/);
    keys(session, 'y');
    const killed = await waitForScreen(session, '■ ALL KILLED', 10_000);
    expect(killed).toMatch(/killed/);
    let frozen = -1;
    await waitFor(
      'the spend to stop moving after the kill',
      async () => {
        const a = spentToday(screen(session));
        await sleep(2_000);
        const b = spentToday(screen(session));
        if (a !== undefined && a === b) frozen = a;
        return a !== undefined && a === b ? true : undefined;
      },
      15_000,
      () => screen(session),
    );

    // Resume: select the killed scope (global is the first row once no prompt is pending) and press r.
    expect(screen(session)).toContain('Pending approvals (0)');
    keys(session, 'j');
    keys(session, 'r');
    const resumed = await waitForScreen(session, (s) => !s.includes('ALL KILLED'), 10_000);
    expect(resumed).toMatch(/^. ▾ global .*\b(running|idle)\s*$/m);
    expect(resumed).toMatch(/^spendguard ● live/);
    await waitForScreen(session, (s) => (spentToday(s) ?? 0) > frozen, 20_000);

    await quitAndCheckCleanup(session, info);
  }, 150_000);

  it('still draws the dashboard when the terminal has CI=true, and q exits 0 cleaning up', async () => {
    const session = 'ci';
    startDemo(session, 'true', { x: 80, y: 24 });
    const info = await waitUntilLive(session);
    const s = await waitForScreen(session, (t) => (spentToday(t) ?? 0) > 0 && t.includes('/min now') && t.includes('Pending approvals'), 20_000);
    expectWholeFrame(s, 24);
    const before = spentToday(s) ?? 0;
    await waitForScreen(session, (t) => (spentToday(t) ?? 0) > before, 15_000);
    await quitAndCheckCleanup(session, info);
  }, 90_000);
});
