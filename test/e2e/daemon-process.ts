import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { promisify } from 'node:util';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const BIN = join(REPO, 'bin', 'spendguard.js');

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly stateDir: string;
  readonly url: string;
  readonly agentToken: string;
  readonly operatorToken: string;
  readonly logs: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

/** Limits no test load reaches: for tests about durability, not budgets. */
export const ROOMY_LIMITS = `
limits:
  global:  { cost_usd: 100000 }
  session: { cost_usd: 100000 }
  task:    { cost_usd: 100000 }
`;

export function tempStateDir(prefix = 'sg-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeConfig(dir: string, yaml: string): string {
  const path = join(dir, 'config.yaml');
  writeFileSync(path, yaml);
  return path;
}

/** Polls `probe` until it gives a value; the error names `what` and, when given, what `context` shows then (logs, a screen). */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000, context?: () => string, pollMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Starts `spendguard daemon` as a real process on an ephemeral loopback port. */
export async function startDaemonProcess(opts: { stateDir?: string; config?: string; port?: number } = {}): Promise<DaemonProcess> {
  const stateDir = opts.stateDir ?? tempStateDir();
  const endpoint = join(stateDir, 'daemon.json');
  rmSync(endpoint, { force: true });
  const args = [BIN, 'daemon', '--state-dir', stateDir, '--listen', `127.0.0.1:${opts.port ?? 0}`];
  if (opts.config) args.push('--config', opts.config);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const started = waitFor(`daemon endpoint file (logs: ${out})`, () => {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}: ${out}`);
    if (!existsSync(endpoint)) return undefined;
    try {
      return (JSON.parse(readFileSync(endpoint, 'utf8')) as { url: string }).url;
    } catch {
      return undefined;
    }
  });
  let url: string;
  try {
    url = await started;
    const health = `${url.replace('ws://', 'http://')}/healthz`;
    await waitFor('healthz', async () => {
      try {
        const r = await fetch(health);
        return r.status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    });
  } catch (e) {
    // Never leave an orphan behind a failed start.
    if (child.exitCode === null) child.kill('SIGKILL');
    throw e;
  }
  const read = (f: string): string => readFileSync(join(stateDir, f), 'utf8').trim();
  const wait = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    child,
    stateDir,
    url,
    agentToken: read('agent.token'),
    operatorToken: read('operator.token'),
    logs: () => out,
    stop: () => wait('SIGTERM'),
    kill9: () => wait('SIGKILL'),
  };
}

/** A raw protocol client for tests: send frames, await replies by id or by type. */
export class RawAgent {
  readonly frames: Array<Record<string, unknown>> = [];
  private waiters: Array<{ match: (f: Record<string, unknown>) => boolean; resolve: (f: Record<string, unknown>) => void }> = [];
  closed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Record<string, unknown>;
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(f)) return true;
        w.resolve(f);
        return false;
      });
    });
    ws.on('close', () => (this.closed = true));
  }

  static async open(url: string, token: string, path = '/v1/agent'): Promise<RawAgent> {
    const ws = new WebSocket(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return new RawAgent(ws);
  }

  static async hello(url: string, token: string, hello: Record<string, unknown>): Promise<RawAgent> {
    const a = await RawAgent.open(url, token);
    const welcome = a.next((f) => f.type === 'welcome' || f.type === 'error');
    a.send({ type: 'hello', v: 1, ...hello });
    const w = await welcome;
    if (w.type !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(w)}`);
    return a;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  next(match: (f: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching frame; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({ match, resolve: (f) => (clearTimeout(t), resolve(f)) });
    });
  }

  /** Sends a frame with `id` and resolves with the final reply carrying that id (skips `pending`). */
  async request(frame: Record<string, unknown> & { id: string }, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const reply = this.next((f) => f.id === frame.id && f.type !== 'pending', timeoutMs);
    this.send(frame);
    return reply;
  }

  close(): void {
    this.ws.close();
  }
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI against `url` and `stateDir`; a non-zero exit is a result, not a throw. */
export async function runCli(url: string, stateDir: string, args: readonly string[]): Promise<CliRun> {
  try {
    // stdin is not a terminal here: nothing can be confirmed by typing.
    const r = await promisify(execFile)(process.execPath, [BIN, ...args, '--url', url, '--state-dir', stateDir]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
