import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type DaemonProcess, RawAgent, startDaemonProcess, tempStateDir, writeConfig } from './daemon-process.js';

/**
 * `spendguard top` as an operator runs it: a real daemon, the real command in a real terminal
 * (tmux at 80×24), keys typed into it, and the screen read back with capture-pane.
 */

const SOCKET = `sg-tui-${process.pid}-${Date.now()}`;
const SESSION = 'top';
const EXITED = '[top exited';

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

function screen(): string {
  return tmux('capture-pane', '-p', '-t', SESSION);
}

function keys(...input: string[]): void {
  tmux('send-keys', '-t', SESSION, '-l', ...input);
}

/** Polls the screen until `want` is on it; fails with the last screen shown. */
async function waitForScreen(want: string | RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = screen();
    if (typeof want === 'string' ? last.includes(want) : want.test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${String(want)} on the screen:\n${last}`);
}

let daemon: DaemonProcess;
let stateDir: string;

beforeAll(async () => {
  stateDir = tempStateDir('sg-tui-');
  const config = writeConfig(stateDir, 'limits:\n  session: { cost_usd: 1, mode: approval }\napprovals: { timeout: 60s, increment_usd: 1 }\n');
  daemon = await startDaemonProcess({ stateDir, config });
});

afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    // already gone: top quit and the pane's shell ended
  }
  await daemon?.stop();
});

describe('spendguard top in a terminal', () => {
  it('shows an overdraft prompt, approves it with a, kills all with X y, and quits with q', async () => {
    const command = `${process.execPath} ${BIN} top --url ${daemon.url} --state-dir ${stateDir}; echo "${EXITED} $?]"; sleep 30`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '80', '-y', '24', command);
    await waitForScreen('● live', 20_000);

    const agent = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'tui-a1', session: 'tui-s1', task: 'tui-t1' });
    const other = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'tui-a2', session: 'tui-s2', task: 'tui-t2' });
    expect((await agent.request({ type: 'reserve', id: 'r0', cost_usd: 0.8 })).type).toBe('grant');
    const pending = agent.next((f) => f.type === 'pending');
    const answer = agent.request({ type: 'reserve', id: 'r1', cost_usd: 0.5 }, 30_000);
    await pending;

    const prompted = await waitForScreen(/Pending approvals \(1\)[\s\S]*agent:tui-a1 session:tui-s1/);
    // At 80×24 the burn rate and the approvals panel are both on screen.
    expect(prompted).toContain('$/min');
    expect(tmux('display-message', '-p', '-t', SESSION, '#{pane_width}x#{pane_height}').trim()).toBe('80x24');

    keys('a');
    expect(await answer).toMatchObject({ type: 'grant', id: 'r1', cost_usd: 0.5 });
    await waitForScreen('Pending approvals (0)');

    const killed = [agent.next((f) => f.type === 'kill'), other.next((f) => f.type === 'kill')];
    keys('X');
    const asking = await waitForScreen('Kill global: ALL agents?');
    expect(asking).toContain('It reaches 2 connected agents');
    keys('y');
    for (const frame of await Promise.all(killed)) expect(frame).toMatchObject({ type: 'kill', scope: 'global' });
    await waitForScreen('■ ALL KILLED');

    keys('q');
    await waitForScreen(`${EXITED} 0]`);
    agent.close();
    other.close();
  });
});
