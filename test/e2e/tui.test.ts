import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type DaemonProcess, RawAgent, startDaemonProcess, tempStateDir, writeConfig } from './daemon-process.js';
import { Terminal } from './terminal.js';

/**
 * `spendguard top` as an operator runs it: a real daemon, the real command in a real terminal
 * (tmux at 80×24), keys typed into it, and the screen read back with capture-pane.
 */

const term = new Terminal('sg-tui');
const SESSION = 'top';
const EXITED = '[top exited';
const tmux = term.tmux;
const keys = (input: string): void => term.keys(SESSION, input);
const waitForScreen = (want: string | RegExp, timeoutMs = 15_000): Promise<string> => term.waitForScreen(SESSION, want, timeoutMs);

let daemon: DaemonProcess;
let stateDir: string;

beforeAll(async () => {
  stateDir = tempStateDir('sg-tui-');
  const config = writeConfig(stateDir, 'limits:\n  session: { cost_usd: 1, mode: approval }\napprovals: { timeout: 60s, increment_usd: 1 }\n');
  daemon = await startDaemonProcess({ stateDir, config });
});

afterAll(async () => {
  term.kill();
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

    const prompted = await waitForScreen(/Pending approvals \(1\)[\s\S]*agent:tui-a1 +\S+ left session:tui-s1/);
    // At 80×24 the burn rate and the approvals panel are both on screen.
    expect(prompted).toContain('/min now');
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
