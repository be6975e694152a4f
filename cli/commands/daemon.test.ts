import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'spendguard.js');

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the real `spendguard daemon` until it answers /healthz, sees whether an agent with the
 * shared agent.token gets in, stops it right away with SIGTERM, and returns its exit code, the
 * JSON lines it wrote to stderr and the HTTP status the shared token got (101: let in).
 */
async function daemonLogs(args: readonly string[]): Promise<{ code: number | null; lines: LogLine[]; sharedToken: number }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'sg-cli-daemon-'));
  dirs.push(stateDir);
  const child = spawn(process.execPath, [BIN, 'daemon', '--state-dir', stateDir, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, TZ: 'UTC' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let sharedToken: number;
  try {
    // Healthy, not merely logged: the SIGTERM handler is installed once start-up has returned.
    const deadline = Date.now() + 20_000;
    let port: string | undefined;
    for (;;) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not start: ${stderr}`);
      port = /"url":"ws:\/\/[^"]*:(\d+)"/.exec(stderr)?.[1];
      if (port !== undefined && (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    sharedToken = await upgradeStatus(`ws://127.0.0.1:${port}/v1/agent`, readFileSync(join(stateDir, 'agent.token'), 'utf8').trim());
  } finally {
    child.kill('SIGTERM');
  }
  const code = await exited;
  const lines = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
  return { code, lines, sharedToken };
}

/** 101 if the daemon lets `token` in on `url`, else the status it refused the upgrade with. */
function upgradeStatus(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

describe('spendguard daemon: listening beyond loopback', () => {
  it('--listen 0.0.0.0:0 warns that agents on the network can reach it, and requires keys', async () => {
    const { code, lines, sharedToken } = await daemonLogs(['--listen', '0.0.0.0:0']);
    expect(code).toBe(0);
    expect(sharedToken).toBe(401);
    const warning = lines.find((l) => l.level === 'warn' && l.msg.includes('agents on the network can reach the daemon'));
    expect(warning).toMatchObject({ listen: '0.0.0.0:0', require_keys: true });
    expect(warning?.msg).toContain('keys are required');
    expect(lines.find((l) => l.msg === 'spendguard daemon listening')).toMatchObject({ require_keys: true });
  });

  it('--unsafe-shared-token-on-network keeps the shared token, and the warning says anyone who has it can act as any agent', async () => {
    const { code, lines, sharedToken } = await daemonLogs(['--listen', '0.0.0.0:0', '--unsafe-shared-token-on-network']);
    expect(code).toBe(0);
    expect(sharedToken).toBe(101);
    const warning = lines.find((l) => l.level === 'warn' && l.msg.includes('agents on the network can reach the daemon'));
    expect(warning?.msg).toContain('anyone on the network who has it can act as any agent');
    expect(lines.find((l) => l.msg === 'spendguard daemon listening')).toMatchObject({ require_keys: false });
  });

  it('on loopback: no warning; --require-keys turns the shared token off', async () => {
    const plain = await daemonLogs(['--listen', '127.0.0.1:0']);
    expect(plain.lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(plain.lines.find((l) => l.msg === 'spendguard daemon listening')).toMatchObject({ require_keys: false });
    expect(plain.sharedToken).toBe(101);
    const keyed = await daemonLogs(['--listen', '127.0.0.1:0', '--require-keys']);
    expect(keyed.lines.find((l) => l.msg === 'spendguard daemon listening')).toMatchObject({ require_keys: true });
    expect(keyed.sharedToken).toBe(401);
  });
});
