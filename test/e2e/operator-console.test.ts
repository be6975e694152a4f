import { hostname, userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusJson } from '../../shared/protocol/operator.js';
import { RawAgent, startDaemonProcess, tempStateDir, waitFor, writeConfig, runCli, type CliRun, type DaemonProcess } from './daemon-process.js';

/**
 * Issue 13, the daemon and CLI side: the real CLI against a real daemon. A typo does not kill a
 * phantom, an inherited kill names its ancestor, a large grant asks first, and every action
 * names who did it.
 */


const CONFIG = `
limits:
  task: { cost_usd: 5, mode: hard }
scopes:
  "task:configured": { cost_usd: 2, mode: hard }
  "task:big": { cost_usd: 1000, mode: hard }
  "task:full": { cost_usd: 1, mode: hard }
approvals: { timeout: 60s, increment_usd: 1 }
breakers: { denials: { threshold: 1000 } }
`;

let daemon: DaemonProcess;
let stateDir: string;
const agents: RawAgent[] = [];

function cli(...args: string[]): Promise<CliRun> {
  return runCli(daemon.url, stateDir, args);
}

async function status(): Promise<StatusJson> {
  const r = await cli('status', '--json');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as StatusJson;
}

async function agent(name: string, task: string): Promise<RawAgent> {
  const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: name, session: `s-${task}`, task });
  agents.push(a);
  return a;
}

beforeAll(async () => {
  stateDir = tempStateDir();
  daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, CONFIG) });
});

afterAll(async () => {
  for (const a of agents) a.close();
  await daemon?.stop();
});

describe('kill and resume name a scope the daemon knows', () => {
  it('kill of a typo exits 1 with "no such scope" and near matches, and creates nothing', async () => {
    await agent('n1', 'nop3');
    await agent('n2', 'nope-2');
    const r = await cli('kill', 'task:nope');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no such scope task:nope \(did you mean task:nope-2, task:nop3\?\)/);
    expect(r.stderr).toContain('--create');
    expect(r.stdout).toBe('');
    const s = await status();
    expect(s.scopes['task:nope']).toBeUndefined();
    expect(Object.values(s.scopes).some((x) => x.killed)).toBe(false);
  });

  it('kill --create kills a scope before it exists; a configured scope needs no --create', async () => {
    const pre = await cli('kill', 'task:later', '--create', '--reason', 'not tonight');
    expect(pre.code).toBe(0);
    expect(pre.stdout).toMatch(/killed task:later: reached 0 agents/);
    const late = await agent('l1', 'later');
    expect(await late.request({ type: 'reserve', id: 'r1', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'KILLED' });
    expect((await cli('kill', 'task:configured')).code).toBe(0);
    expect((await cli('resume', 'task:configured')).code).toBe(0);
    expect((await cli('resume', 'task:later')).code).toBe(0);
  });

  it('resume of a scope never seen exits 1 with "no such scope"', async () => {
    const r = await cli('resume', 'task:never-was');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such scope task:never-was');
  });
});

describe('an inherited kill says which ancestor', () => {
  it('status --json has killed_by, the table says KILLED (by …), resume of the child names the ancestor', async () => {
    const bob = await agent('bob', 'inherit');
    expect((await cli('kill', 'task:inherit')).code).toBe(0);
    const s = await status();
    expect(s.scopes['task:inherit']).toMatchObject({ killed: true, killed_by: 'task:inherit' });
    expect(s.scopes['agent:bob']).toMatchObject({ killed: false, killed_by: 'task:inherit' });
    expect(s.scopes['global']).toMatchObject({ killed: false, killed_by: null });
    const table = await cli('status');
    expect(table.stdout.split('\n').find((l) => l.trimStart().startsWith('agent:bob'))).toMatch(/KILLED \(by task:inherit\)/);
    expect(table.stdout.split('\n').find((l) => l.trimStart().startsWith('task:inherit'))).toMatch(/KILLED(?! \(by)/);
    const r = await cli('resume', 'agent:bob');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('agent:bob is blocked by the kill of task:inherit; resume task:inherit');
    expect(r.stderr).not.toContain('was not killed');
    expect(await bob.request({ type: 'reserve', id: 'r1', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'KILLED', scope: 'task:inherit' });
    expect((await cli('resume', 'task:inherit')).code).toBe(0);
    expect((await status()).scopes['agent:bob']).toMatchObject({ killed_by: null });
  });
});

describe('grant safety', () => {
  it.each([['0'], ['0.00'], ['-1']])('grant --add-usd %s is refused before it is sent', async (amount) => {
    const r = await cli('grant', 'task:configured', '--add-usd', amount);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--add-usd.*above 0/);
  });

  it('a grant larger than the current limit is refused without a terminal, naming the new limit; --yes grants it', async () => {
    await agent('g1', 'configured');
    const r = await cli('grant', 'task:configured', '--add-usd', '3');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('$2.00 → $5.00');
    expect(r.stderr).toMatch(/--yes/);
    expect((await status()).scopes['task:configured']?.limit).toMatchObject({ cost_usd: 2 });
    const yes = await cli('grant', 'task:configured', '--add-usd', '3', '--yes');
    expect(yes.code).toBe(0);
    expect((await status()).scopes['task:configured']?.limit).toMatchObject({ cost_usd: 5 });
  });

  it('a grant over approvals.confirm_above_usd ($10) asks even under a large limit; a small one does not', async () => {
    await agent('b1', 'big');
    const big = await cli('grant', 'task:big', '--add-usd', '50');
    expect(big.code).toBe(1);
    expect(big.stderr).toContain('$1,000.00 → $1,050.00');
    expect(big.stderr).toContain('approvals.confirm_above_usd');
    const small = await cli('grant', 'task:big', '--add-usd', '5');
    expect(small.code).toBe(0);
    expect(small.stdout).toMatch(/granted \+\$5\.00 on task:big/);
  });
});

describe('who did it, and exactly at the limit', () => {
  it('kill, resume and grant alerts name cli:<user>@<host>', async () => {
    await agent('w1', 'who');
    const me = `cli:${userInfo().username}@${hostname()}`;
    expect((await cli('kill', 'task:who')).code).toBe(0);
    expect((await cli('resume', 'task:who')).code).toBe(0);
    await waitFor('the alerts in the log', () => (daemon.logs().includes(`task:who resumed by ${me}`) ? true : undefined));
    expect(daemon.logs()).toContain(`task:who killed by ${me}`);
  });

  it('a scope spent exactly to its limit reads "at limit 100%", not "over"', async () => {
    const a = await agent('f1', 'full');
    expect(await a.request({ type: 'spend', id: 's1', key: 'full-1', cost_usd: 1 })).toMatchObject({ type: 'ack' });
    const table = await cli('status');
    const line = table.stdout.split('\n').find((l) => l.trimStart().startsWith('task:full'));
    expect(line).toContain('■ at limit 100%');
    expect(line).not.toContain('over');
  });
});

// Grants name a scope the daemon knows, as kills do.
describe('grant names a scope the daemon knows', () => {
  it('grant of a typo exits 1 with "no such scope" and near matches, and creates nothing', async () => {
    await agent('gx1', 'gx-typ3');
    await agent('gx2', 'gx-type-2');
    const r = await cli('grant', 'task:gx-type', '--add-usd', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('NOT_FOUND: no such scope task:gx-type (did you mean task:gx-type-2, task:gx-typ3?); nothing was granted');
    expect(r.stderr).toContain('--create');
    expect(r.stdout).toBe('');
    const s = await status();
    expect(s.scopes['task:gx-type']).toBeUndefined();
    expect(s.scopes['task:gx-typ3']?.limit).toMatchObject({ cost_usd: 5 });
    expect(s.scopes['task:gx-type-2']?.limit).toMatchObject({ cost_usd: 5 });
  });

  it('grant --create raises the limit of a scope before its first agent; a known scope needs no --create', async () => {
    const pre = await cli('grant', 'task:gx-later', '--add-usd', '2', '--create');
    expect(pre.code).toBe(0);
    expect(pre.stdout).toBe('granted +$2.00 on task:gx-later\n');
    expect((await status()).scopes['task:gx-later']?.limit).toMatchObject({ cost_usd: 7 });
    const known = await cli('grant', 'task:gx-typ3', '--add-usd', '1');
    expect(known.code).toBe(0);
    expect((await status()).scopes['task:gx-typ3']?.limit).toMatchObject({ cost_usd: 6 });
  });

  it('grant of a prompt id that is no longer pending exits 1 and creates no scope', async () => {
    const r = await cli('grant', 'p1-999', '--add-usd', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('NOT_FOUND: no pending prompt p1-999: it was answered, timed out or never existed; nothing was granted');
    const s = await status();
    expect(Object.keys(s.scopes).filter((id) => id.includes('p1-999'))).toEqual([]);
  });
});
