import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusJson } from '../../shared/protocol/operator.js';
import { BIN, RawAgent, runCli, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';
import { Terminal } from './terminal.js';

/**
 * `spendguard grant <scope> --add-usd N` on a real terminal: a grant above the scope's current
 * limit or above approvals.confirm_above_usd asks `Grant it? [y/N]`, naming the scope, the amount
 * and the new limit. The real compiled CLI runs in a tmux pane against a real daemon (loopback
 * only); the answer is typed with send-keys and the daemon's own `status --json` says what changed.
 */

const CONFIG = `
limits:
  task: { cost_usd: 5, mode: hard }
scopes:
  "task:tty-small": { cost_usd: 2, mode: hard }
  "task:tty-big": { cost_usd: 1000, mode: hard }
approvals: { timeout: 60s, increment_usd: 1 }
`;

const term = new Terminal('sg-grant-tty');
const { tmux, keys, waitForScreen } = term;
const EXITED = '[grant exited';
const QUESTION = 'Grant it? [y/N]';

let daemon: DaemonProcess;
let stateDir: string;
const agents: RawAgent[] = [];
let sessions = 0;

beforeAll(async () => {
  stateDir = tempStateDir('sg-grant-tty-');
  daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, CONFIG) });
  expect(daemon.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  // An agent under each scope keeps it in the daemon's memory, so `status --json` shows it before any grant.
  for (const task of ['tty-small', 'tty-big']) agents.push(await RawAgent.hello(daemon.url, daemon.agentToken, { agent: `a-${task}`, session: 's-tty', task }));
});

afterAll(async () => {
  // tmux leaves its socket file behind after kill-server: this test's own is removed too.
  let socketPath = '';
  try {
    socketPath = tmux('display-message', '-p', '#{socket_path}').trim();
  } catch {
    // no server running: nothing to find
  }
  term.kill();
  if (socketPath.endsWith(term.socket)) rmSync(socketPath, { force: true });
  for (const a of agents) a.close();
  await daemon?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function costLimit(scope: string): Promise<unknown> {
  const r = await runCli(daemon.url, stateDir, ['status', '--json']);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as StatusJson).scopes[scope]?.limit.cost_usd;
}

/** Runs `spendguard grant <args>` in a fresh pane (wide: the question stays on one line) and waits for its question. */
async function grantInPane(...args: string[]): Promise<{ session: string; question: string }> {
  sessions += 1;
  const session = `grant-${sessions}`;
  const command = `${process.execPath} ${BIN} grant ${args.join(' ')} --url ${daemon.url} --state-dir ${stateDir}; echo "${EXITED} $?]"; sleep 30`;
  tmux('new-session', '-d', '-s', session, '-x', '220', '-y', '30', command);
  const question = await waitForScreen(session, QUESTION, 20_000);
  return { session, question };
}

function answer(session: string, text: string): void {
  if (text !== '') keys(session, text);
  tmux('send-keys', '-t', session, 'Enter');
}

describe('grant on a terminal asks y/N before a large grant', () => {
  it('the question names the scope, the amount and the new limit; n grants nothing and exits 1', async () => {
    expect(await costLimit('task:tty-small')).toBe(2);
    const { session, question } = await grantInPane('task:tty-small', '--add-usd', '3');
    expect(question).toContain('granting +$3.00 on task:tty-small raises its limit $2.00 → $5.00: that is more than its current limit');
    expect(question).toContain(QUESTION);
    // Nothing is sent before the answer: the daemon refused the unconfirmed grant and changed nothing.
    expect(await costLimit('task:tty-small')).toBe(2);
    answer(session, 'n');
    const done = await waitForScreen(session, `${EXITED} `);
    expect(done).toContain('error: nothing was granted');
    expect(done).toContain(`${EXITED} 1]`);
    expect(done).not.toContain('granted +$3.00');
    expect(await costLimit('task:tty-small')).toBe(2);
  }, 60_000);

  it('Enter alone is no: nothing granted, exit 1', async () => {
    const { session } = await grantInPane('task:tty-small', '--add-usd', '3');
    answer(session, '');
    const done = await waitForScreen(session, `${EXITED} `);
    expect(done).toContain('error: nothing was granted');
    expect(done).toContain(`${EXITED} 1]`);
    expect(await costLimit('task:tty-small')).toBe(2);
  }, 60_000);

  it('y grants it: the limit grows by the amount, exit 0', async () => {
    const { session } = await grantInPane('task:tty-small', '--add-usd', '3');
    answer(session, 'y');
    const done = await waitForScreen(session, `${EXITED} `);
    expect(done).toContain('granted +$3.00 on task:tty-small');
    expect(done).toContain(`${EXITED} 0]`);
    expect(await costLimit('task:tty-small')).toBe(5);
  }, 60_000);

  it('over approvals.confirm_above_usd under a large limit: the question says why; y grants it', async () => {
    expect(await costLimit('task:tty-big')).toBe(1000);
    const { session, question } = await grantInPane('task:tty-big', '--add-usd', '50');
    expect(question).toContain('granting +$50.00 on task:tty-big raises its limit $1,000.00 → $1,050.00');
    expect(question).toContain('more than approvals.confirm_above_usd ($10.00)');
    answer(session, 'yes');
    const done = await waitForScreen(session, `${EXITED} `);
    expect(done).toContain('granted +$50.00 on task:tty-big');
    expect(done).toContain(`${EXITED} 0]`);
    expect(await costLimit('task:tty-big')).toBe(1050);
  }, 60_000);
});
