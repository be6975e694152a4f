import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO, startDaemonProcess, type DaemonProcess } from './daemon-process.js';

/**
 * What the commands that run often load (a status bar runs `status --line` every few seconds,
 * Claude Code runs the hook before every tool call): every module file each process reads, traced
 * by test/e2e/trace-loads.mjs against a real daemon. They must stay off zod and the protocol's
 * schemas, the daemon, the dashboard (ink, react), SQLite, metrics, the tokenizer and the price
 * catalog; the hook's own entry point loads nothing but itself and ws.
 */

const HOOK_BIN = join(REPO, 'bin', 'spendguard-hook.js');
const TRACER = join(REPO, 'test', 'e2e', 'trace-loads.mjs');

let daemon: DaemonProcess;
let scratch: string;

beforeAll(async () => {
  daemon = await startDaemonProcess();
  scratch = mkdtempSync(join(tmpdir(), 'sg-startup-'));
});
afterAll(async () => {
  await daemon?.stop();
  if (daemon) rmSync(daemon.stateDir, { recursive: true, force: true });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Traced {
  code: number | null;
  stdout: string;
  stderr: string;
  /** npm packages, by name. */
  packages: Set<string>;
  /** Our own compiled files, relative to dist/. */
  modules: Set<string>;
}

let traces = 0;

function traced(args: readonly string[], stdin = ''): Promise<Traced> {
  const file = join(scratch, `loads-${++traces}.txt`);
  const child = spawn(process.execPath, ['--import', TRACER, ...args], {
    env: { PATH: process.env.PATH, SPENDGUARD_TRACE_LOADS: file },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      let paths: string[] = [];
      try {
        paths = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      } catch {
        // nothing loaded at all: the assertions below say so
      }
      const packages = new Set<string>();
      const modules = new Set<string>();
      for (const path of paths) {
        const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path.slice(path.lastIndexOf('node_modules/')));
        if (inPackage?.[1]) packages.add(inPackage[1]);
        else if (path.startsWith(join(REPO, 'dist'))) modules.add(relative(join(REPO, 'dist'), path));
      }
      resolve({ code, stdout, stderr, packages, modules });
    }),
  );
}

const OFF_THE_PATH = /^(shared\/protocol|shared\/providers|shared\/money\/pricing|daemon|tui|demo)\//;

const payload = (command: string): string => JSON.stringify({ session_id: 'startup-test', hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command } });

describe('start-up: what the frequent commands load', () => {
  it('status --line: commander, ws and the CLI files it runs; no schema, no dashboard, no daemon', async () => {
    const r = await traced([BIN, 'status', '--line', '--url', daemon.url, '--state-dir', daemon.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\$0\.00\/\$20\.00 today · —\/min · 0 prompts · ok\n$/);
    expect([...r.packages].sort()).toEqual(['commander', 'ms', 'ws']);
    expect([...r.modules].filter((m) => OFF_THE_PATH.test(m))).toEqual([]);
    expect(r.modules).toContain('cli/commands/status.js');
    // The one command file: the others are not even read.
    expect([...r.modules].filter((m) => m.startsWith('cli/commands/'))).toEqual(['cli/commands/status.js']);
  });

  it('spendguard hook claude-code: the same, with the hook instead of the status line', async () => {
    const r = await traced([BIN, 'hook', 'claude-code', '--url', daemon.url, '--state-dir', daemon.stateDir], payload('ls'));
    expect(r.code, r.stderr).toBe(0);
    expect([...r.packages].sort()).toEqual(['commander', 'ms', 'ws']);
    expect([...r.modules].filter((m) => OFF_THE_PATH.test(m))).toEqual([]);
    expect([...r.modules].filter((m) => m.startsWith('cli/commands/'))).toEqual(['cli/commands/hook.js']);
  });

  it('spendguard-hook claude-code: the hook and ws, nothing else', async () => {
    const r = await traced([HOOK_BIN, 'claude-code', '--url', daemon.url, '--state-dir', daemon.stateDir], payload('pwd'));
    expect(r.code, r.stderr).toBe(0);
    expect([...r.packages]).toEqual(['ws']);
    expect([...r.modules].sort()).toEqual(['shared/claude-code/hook.js', 'shared/client/ws.js']);
  });

  it('the tracer sees what a heavy command loads (so the lists above are not empty by accident)', async () => {
    const r = await traced([BIN, 'status', '--url', daemon.url, '--state-dir', daemon.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.packages).toContain('zod');
    expect(r.modules).toContain('shared/protocol/operator.js');
  });
});
