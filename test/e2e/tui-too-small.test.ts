import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type DaemonProcess, RawAgent, startDaemonProcess, tempStateDir, writeConfig } from './daemon-process.js';
import { Terminal } from './terminal.js';

/**
 * Issue 13: `spendguard top` on a terminal smaller than 80×24 shows only "terminal too small",
 * so no key but q may act there. A real daemon, the real command in tmux at 60×20: X y, a, x y
 * and g are typed, and the daemon's own status says nothing was killed or granted; then the
 * window grows back and the dashboard is there with the prompt still pending.
 */

const run = promisify(execFile);
const term = new Terminal('sg-tui-small');
const SESSION = 'top';
const EXITED = '[top exited';
const { tmux, keys, waitForScreen } = term;

let daemon: DaemonProcess;
let stateDir: string;

beforeAll(async () => {
  stateDir = tempStateDir('sg-tui-small-');
  const config = writeConfig(stateDir, 'limits:\n  session: { cost_usd: 1, mode: approval }\napprovals: { timeout: 60s, increment_usd: 1 }\n');
  daemon = await startDaemonProcess({ stateDir, config });
});

afterAll(async () => {
  term.kill();
  await daemon?.stop();
});

interface StatusScope {
  readonly killed: boolean;
  readonly limit: Record<string, unknown>;
}

async function status(): Promise<{ scopes: Record<string, StatusScope>; prompts?: unknown[] }> {
  const { stdout } = await run(process.execPath, [BIN, 'status', '--json', '--url', daemon.url, '--state-dir', stateDir], { timeout: 20_000 });
  return JSON.parse(stdout) as { scopes: Record<string, StatusScope> };
}

describe('spendguard top on a terminal too small to draw', () => {
  it('at 60×20 X y, a, x y and g do nothing; growing back to 80×24 shows the dashboard with the prompt still pending', async () => {
    const command = `${process.execPath} ${BIN} top --url ${daemon.url} --state-dir ${stateDir}; echo "${EXITED} $?]"; sleep 30`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '80', '-y', '24', command);
    await waitForScreen(SESSION, '● live', 20_000);

    const agent = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'small-a1', session: 'small-s1', task: 'small-t1' });
    expect((await agent.request({ type: 'reserve', id: 'r0', cost_usd: 0.8 })).type).toBe('grant');
    const pending = agent.next((f) => f.type === 'pending');
    let answered = false;
    const answer = agent.request({ type: 'reserve', id: 'r1', cost_usd: 0.5 }, 60_000).finally(() => {
      answered = true;
    });
    await pending;
    await waitForScreen(SESSION, /Pending approvals \(1\)[\s\S]*agent:small-a1 +\S+ left session:small-s1/);

    let killed = false;
    void agent.next((f) => f.type === 'kill', 60_000).then(
      () => (killed = true),
      () => undefined,
    );
    tmux('resize-window', '-t', SESSION, '-x', '60', '-y', '20');
    await waitForScreen(SESSION, 'terminal too small: 60×20, need 80×24');
    // One key per send, each a deliberate press (a burst would be refused anyway).
    for (const key of ['X', 'y', 'a', 'o', 'j', 'x', 'y', 'r', 'g', '5', 'Enter', 'd']) {
      if (key === 'Enter') tmux('send-keys', '-t', SESSION, 'Enter');
      else keys(SESSION, key);
      await sleep(150);
    }
    await sleep(1_000);
    expect(killed).toBe(false);
    expect(answered).toBe(false);
    const after = await status();
    for (const [id, scope] of Object.entries(after.scopes)) expect(scope.killed, id).toBe(false);
    expect(term.screen(SESSION)).toContain('terminal too small: 60×20');
    expect(term.pane(SESSION, '#{pane_width}x#{pane_height}')).toBe('60x20');

    tmux('resize-window', '-t', SESSION, '-x', '80', '-y', '24');
    const back = await waitForScreen(SESSION, /Pending approvals \(1\)[\s\S]*agent:small-a1 +\S+ left session:small-s1/);
    expect(back).toContain('● live');
    expect(back).not.toMatch(/Kill .*\?|Grant to/);
    expect(answered).toBe(false);

    keys(SESSION, 'q');
    await waitForScreen(SESSION, `${EXITED} 0]`);
    expect(killed).toBe(false);
    agent.close();
    void answer.catch(() => undefined);
  }, 120_000);
});
