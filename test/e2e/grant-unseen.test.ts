import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusJson } from '../../shared/protocol/operator.js';
import { RawAgent, runCli, startDaemonProcess, tempStateDir, writeConfig, type CliRun, type DaemonProcess } from './daemon-process.js';

/**
 * The real CLI against a real daemon: `grant` of a mistyped scope is refused like `kill` of one
 * (exit 1, "no such scope", near matches, nothing created), `--create` grants ahead of the first
 * agent, and a prompt id that is no longer pending is refused without naming a scope after it.
 */

const CONFIG = `
limits:
  task: { cost_usd: 5, mode: hard }
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
  stateDir = tempStateDir('sg-grant-unseen-');
  daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, CONFIG) });
});

afterAll(async () => {
  for (const a of agents) a.close();
  await daemon?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('grant names a scope the daemon knows', () => {
  it('grant of a typo exits 1 with "no such scope" and near matches, and creates nothing', async () => {
    await agent('n1', 'nop3');
    await agent('n2', 'nope-2');
    const r = await cli('grant', 'task:nope', '--add-usd', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('NOT_FOUND: no such scope task:nope (did you mean task:nope-2, task:nop3?); nothing was granted');
    expect(r.stderr).toContain('--create');
    expect(r.stdout).toBe('');
    const s = await status();
    expect(s.scopes['task:nope']).toBeUndefined();
    expect(s.scopes['task:nop3']?.limit).toMatchObject({ cost_usd: 5 });
    expect(s.scopes['task:nope-2']?.limit).toMatchObject({ cost_usd: 5 });
  });

  it('grant --create raises the limit of a scope before its first agent; a known scope needs no --create', async () => {
    const pre = await cli('grant', 'task:later', '--add-usd', '2', '--create');
    expect(pre.code).toBe(0);
    expect(pre.stdout).toBe('granted +$2.00 on task:later\n');
    expect((await status()).scopes['task:later']?.limit).toMatchObject({ cost_usd: 7 });
    const known = await cli('grant', 'task:nop3', '--add-usd', '1');
    expect(known.code).toBe(0);
    expect((await status()).scopes['task:nop3']?.limit).toMatchObject({ cost_usd: 6 });
  });

  it('grant of a prompt id that is no longer pending exits 1 and creates no scope', async () => {
    const r = await cli('grant', 'p1-999', '--add-usd', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('NOT_FOUND: no pending prompt p1-999: it was answered, timed out or never existed; nothing was granted');
    const s = await status();
    expect(Object.keys(s.scopes).filter((id) => id.includes('p1-999'))).toEqual([]);
  });
});
