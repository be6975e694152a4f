import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type DaemonProcess, RawAgent, startDaemonProcess, tempStateDir, writeConfig } from './daemon-process.js';
import { Terminal } from './terminal.js';

/**
 * `spendguard top` surviving a daemon restart, in a real terminal (tmux at 80×24): the daemon is
 * SIGKILLed under it, the screen says it is reconnecting and keeps the last numbers (with their
 * age, never zeros), and when a daemon comes back on the same state dir — on a new port, found
 * through the state dir's daemon.json, since top is started with --state-dir only — it is live
 * again and shows what is spent from then on.
 */

const term = new Terminal('sg-top-reconnect');
const { tmux, screen, keys, waitForScreen } = term;
const EXITED = '[top exited';

function startTop(session: string, stateDir: string): void {
  const command = `${process.execPath} ${BIN} top --state-dir ${stateDir}; echo "${EXITED} $?]"; sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', command);
}

/** Sums in the header: `spent $1.23/$20 ok 6%`. */
const spent = (usd: string): string => `spent $${usd}/$20.00`;

let daemon: DaemonProcess | undefined;
let stateDir: string;
let config: string;
const agents: RawAgent[] = [];

async function agent(name: string, session: string): Promise<RawAgent> {
  if (!daemon) throw new Error('no daemon');
  const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: name, session, task: `${session}-t` });
  agents.push(a);
  return a;
}

beforeAll(async () => {
  stateDir = tempStateDir('sg-top-reconnect-');
  config = writeConfig(stateDir, 'limits:\n  global: { cost_usd: 20, mode: hard }\n  session: { cost_usd: 10, mode: hard }\n');
  daemon = await startDaemonProcess({ stateDir, config });
});

afterAll(async () => {
  for (const a of agents) a.close();
  term.kill();
  await daemon?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('spendguard top across a daemon restart', () => {
  it('shows reconnecting with the last numbers and their age while the daemon is down, then live again with new spend', async () => {
    const session = 'top';
    startTop(session, stateDir);
    await waitForScreen(session, '● live', 30_000);

    const before = await agent('rc-a1', 'rc-s1');
    expect(await before.request({ type: 'spend', id: 's1', key: 'rc-s1-1', cost_usd: 1.23 })).toMatchObject({ type: 'ack' });
    const shown = await waitForScreen(session, (s) => s.includes(spent('1.23')) && /session:rc-s1 +\$1\.23 +\$10\.00/.test(s));
    expect(shown).toMatch(/^spendguard ● live/);

    if (!daemon) throw new Error('no daemon');
    const oldUrl = daemon.url;
    await daemon.kill9();
    daemon = undefined;

    // Down: the banner says so, and the numbers stay, marked with their age.
    const down = await waitForScreen(session, (s) => /◌ reconnecting \(attempt \d+, (next in \d+s|connecting…)\)/.test(s) || s.includes('✖ daemon down'), 15_000);
    expect(down).not.toContain('● live');
    const aged = await waitForScreen(session, /data ([2-9]|\d\d+)s old/, 15_000);
    expect(aged).toContain(spent('1.23'));
    expect(aged).toMatch(/session:rc-s1 +\$1\.23 +\$10\.00/);
    expect(aged).not.toContain(spent('0.00'));

    // Back on the same state dir, on a new port that daemon.json names.
    daemon = await startDaemonProcess({ stateDir, config });
    const ready = Date.now();
    expect(daemon.url).not.toBe(oldUrl);
    const live = await waitForScreen(session, (s) => /^spendguard ● live/.test(s), 15_000);
    const reconnectMs = Date.now() - ready;
    expect(reconnectMs).toBeLessThan(12_000);
    expect(live).not.toMatch(/data \d+s old/);
    // The ledger kept what was spent: the restarted daemon's numbers, not zeros.
    await waitForScreen(session, spent('1.23'), 5_000);

    const after = await agent('rc-a2', 'rc-s2');
    expect(await after.request({ type: 'spend', id: 's2', key: 'rc-s2-1', cost_usd: 2.1 })).toMatchObject({ type: 'ack' });
    const fresh = await waitForScreen(session, (s) => s.includes(spent('3.33')) && /session:rc-s2 +\$2\.10 +\$10\.00/.test(s));
    expect(fresh).toMatch(/session:rc-s1 +\$1\.23 +\$10\.00/);

    keys(session, 'q');
    await waitForScreen(session, `${EXITED} 0]`, 15_000);
  }, 90_000);

  it('kills all with X y and resumes global with r', async () => {
    const session = 'resume';
    startTop(session, stateDir);
    await waitForScreen(session, '● live', 30_000);
    await agent('rs-a1', 'rs-s1');
    await waitForScreen(session, 'agent:rs-a1');

    keys(session, 'X');
    await waitForScreen(session, 'Kill global: ALL agents?');
    keys(session, 'y');
    await waitForScreen(session, (s) => s.includes('■ ALL KILLED') && /agent:rs-a1 .*killed\s*$/m.test(s));

    // No prompt is pending: the first row is global.
    keys(session, 'j');
    keys(session, 'r');
    const resumed = await waitForScreen(session, (s) => !s.includes('ALL KILLED') && s.includes('global resumed'));
    expect(resumed).toMatch(/^\S?\s+(▾ )?global .*\b(running|idle)\s*$/m);
  }, 60_000);

  // `resume` re-sends every scope in the live feed, as `kill` does: none stays shown killed.
  it('then shows no scope under global as killed any more', async () => {
    await waitForScreen('resume', (s) => !/killed\s*$/m.test(s), 8_000);
  }, 20_000);
});
