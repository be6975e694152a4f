import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

// The Python tests rely on these figures (see clients/python/tests/test_client.py).
const CONFIG = `
limits:
  session: { cost_usd: 1.00, mode: approval }
  task: { cost_usd: 10, mode: hard }
scopes:
  "task:py-capped": { cost_usd: 0.10, mode: hard }
approvals: { timeout: 60s, increment_usd: 1 }
`;

let daemon: DaemonProcess;

beforeAll(async () => {
  const stateDir = tempStateDir();
  daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, CONFIG) });
});

afterAll(async () => {
  await daemon?.stop();
});

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('Python client (clients/python, stdlib only)', () => {
  it('passes its unittest suite against a real daemon', async () => {
    const r = await run('python3', ['-m', 'unittest', 'discover', '-s', join('clients', 'python', 'tests'), '-v'], {
      ...process.env,
      SPENDGUARD_URL: daemon.url,
      SPENDGUARD_TOKEN: daemon.agentToken,
      SPENDGUARD_CLI: JSON.stringify([process.execPath, BIN]),
      SPENDGUARD_STATE_DIR: daemon.stateDir,
      PYTHONDONTWRITEBYTECODE: '1',
    });
    if (r.code !== 0) console.error(r.output);
    expect(r.code, r.output).toBe(0);
    // Skipped tests would pass silently: every daemon test must have run.
    expect(r.output).not.toMatch(/skipped/);
  });
});
