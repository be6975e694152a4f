import { execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeCodeHello, osUser } from '../../shared/claude-code/hook.js';
import { expectedUsage, FIXTURE_PROJECTS } from '../../shared/claude-code/test-support/fixture.js';
import { OperatorClient } from '../../shared/client/operator.js';
import { BIN, RawAgent, REPO, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

const run = promisify(execFile);
const HOOK_BIN = join(REPO, 'bin', 'spendguard-hook.js');
const expected = expectedUsage();

const KILLED = '11111111-2222-4333-8444-555555555555';
const FREE = '66666666-7777-4888-8999-000000000000';
const APPROVAL = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const LIVE = 'f0f0f0f0-1111-4222-8333-444444444444';

const prices = Object.entries(expected.pricing)
  .map(([model, p]) => `    ${model}: { input: ${p.input}, output: ${p.output}, cache_read: ${p.cache_read}, cache_write: ${p.cache_write} }`)
  .join('\n');
const CONFIG = `
limits:
  global: { per_day: { cost_usd: 100 }, mode: hard }
  session: { cost_usd: 10, mode: hard }
  task: { cost_usd: 10, mode: hard }
scopes:
  "session:${APPROVAL}": { cost_usd: 0.01, mode: approval }
  "task:${APPROVAL}": { cost_usd: 10, mode: hard }
approvals: { timeout: 30s, increment_usd: 1 }
pricing:
  models:
${prices}
`;

let daemon: DaemonProcess;
let stateDir: string;
let configPath: string;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  wall_ms: number;
}

async function cli(args: string[], opts: { bin?: string; stdin?: string; url?: string } = {}): Promise<Ran> {
  const started = performance.now();
  const child = spawn(process.execPath, [opts.bin ?? BIN, ...args, '--url', opts.url ?? daemon.url, '--state-dir', stateDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.stdin ?? '');
  const code = await new Promise<number>((r) => child.once('close', (c) => r(c ?? -1)));
  return { code, stdout, stderr, wall_ms: performance.now() - started };
}

let calls = 0;
/** Each call a different command: five identical calls in a row would be refused as a loop (LOOP_DETECTED). */
const hookPayload = (session: string, tool = 'Bash'): string =>
  JSON.stringify({ session_id: session, transcript_path: `/tmp/${session}.jsonl`, cwd: '/home/dev/demo', hook_event_name: 'PreToolUse', tool_name: tool, tool_input: { command: `npm test -- --shard ${++calls}` } });

const hook = (session: string, extra: string[] = [], url?: string): Promise<Ran> =>
  cli(['claude-code', '--timing', ...extra], { bin: HOOK_BIN, stdin: hookPayload(session), ...(url === undefined ? {} : { url }) });

function decidedMs(stderr: string): number {
  const m = /decided in ([\d.]+) ms/.exec(stderr);
  if (!m) throw new Error(`no timing line in ${JSON.stringify(stderr)}`);
  return Number(m[1]);
}

async function spentUsd(session: string): Promise<number | undefined> {
  const op = await OperatorClient.connect({ url: daemon.url, token: daemon.operatorToken });
  try {
    const cost = (await op.request({ type: 'status' })).status?.scopes[`session:${session}`]?.spent.cost_usd;
    return typeof cost === 'number' ? cost : undefined;
  } finally {
    await op.close();
  }
}

async function ledgerBySession(): Promise<Record<string, number>> {
  const r = await run(process.execPath, [BIN, 'report', '--by', 'session', '--format', 'json', '--state-dir', stateDir]);
  const rows = JSON.parse(r.stdout) as Array<{ key: string; cost_usd: number }>;
  return Object.fromEntries(rows.map((row) => [row.key, Math.round(row.cost_usd * 1e9)]));
}

const watchOnce = (): Promise<Ran> => cli(['watch', 'claude-code', '--dir', FIXTURE_PROJECTS, '--since', expected.since, '--once']);

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => done(port));
    });
  });
}

beforeAll(async () => {
  stateDir = tempStateDir('sg-cc-');
  configPath = writeConfig(stateDir, CONFIG);
  daemon = await startDaemonProcess({ stateDir, config: configPath });
});
afterAll(async () => {
  await daemon?.stop();
});

describe('watch claude-code', () => {
  it('replaying the fixtures twice, and again after a daemon restart, leaves the priced total in the ledger once', async () => {
    const want = Object.fromEntries(Object.entries(expected.sessions).map(([s, v]) => [s, v.cost_nano]));
    const first = await watchOnce();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('6 messages recorded ($0.059181), 0 already counted, 1 malformed lines skipped');
    expect(first.stderr).toContain('skipped a malformed line');

    const second = await watchOnce();
    expect(second.stdout).toContain('0 messages recorded ($0.000000), 6 already counted');
    await daemon.stop();
    daemon = await startDaemonProcess({ stateDir, config: configPath });
    const third = await watchOnce();
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain('0 messages recorded ($0.000000), 6 already counted');

    const ledger = await ledgerBySession();
    expect(ledger).toMatchObject(want);
    const total = Object.keys(want).reduce((sum, s) => sum + (ledger[s] ?? 0), 0);
    expect(total).toBe(expected.total_cost_nano);
    // The daemon's counters, rebuilt from the ledger after the restart, agree.
    expect(await spentUsd('3f1c2a9e-5b7d-4e21-9c3a-8d6e0f1b2a47')).toBeCloseTo(0.05335815, 9);
  });

  it('follows a live transcript: a line written in two parts counts once, a repeated line not again', async () => {
    const projects = mkdtempSync(join(tmpdir(), 'sg-cc-live-'));
    mkdirSync(join(projects, '-home-dev-live'));
    const file = join(projects, '-home-dev-live', `${LIVE}.jsonl`);
    appendFileSync(file, `${JSON.stringify({ type: 'user', sessionId: LIVE, message: { role: 'user', content: 'go' }, timestamp: new Date().toISOString() })}\n`);
    const watcher = spawn(process.execPath, [BIN, 'watch', 'claude-code', '--dir', projects, '--url', daemon.url, '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    watcher.stderr.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await expect.poll(() => log, { timeout: 15_000 }).toContain('watching');
      const line = (id: string, input_tokens: number, output_tokens: number): string =>
        JSON.stringify({
          type: 'assistant',
          sessionId: LIVE,
          requestId: `req_${id}`,
          timestamp: new Date().toISOString(),
          message: { id: `msg_${id}`, model: 'claude-haiku-4-5-20251001', stop_reason: 'end_turn', usage: { input_tokens, output_tokens, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } },
        });
      const first = line('live_1', 1_000, 200); // 1,000 × $1/M + 200 × $5/M = $0.002
      appendFileSync(file, first.slice(0, 40));
      await new Promise((r) => setTimeout(r, 300)); // most likely read as a partial line first
      appendFileSync(file, `${first.slice(40)}\n`);
      await expect.poll(() => spentUsd(LIVE), { timeout: 10_000 }).toBeCloseTo(0.002, 9);
      // The repeated line comes before the next message in the file, so it was read when that one counts.
      appendFileSync(file, `${first}\n${line('live_2', 2_000, 0)}\n`);
      await expect.poll(() => spentUsd(LIVE), { timeout: 10_000 }).toBeCloseTo(0.004, 9);
    } finally {
      watcher.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => watcher.once('exit', (c) => r(c)));
      expect(code, log).toBe(0);
    }
    expect(log).toContain('stopped: 2 messages recorded ($0.004000)');
  });
});

describe('hook claude-code', () => {
  it('allows a live session (exit 0), deciding in about 100 ms; reports the whole-process time', async () => {
    const runs: Ran[] = [];
    for (let i = 0; i < 5; i++) runs.push(await hook(FREE));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const decided = runs.map((r) => decidedMs(r.stderr)).sort((a, b) => a - b);
    const wall = runs.map((r) => r.wall_ms).sort((a, b) => a - b);
    console.info(`hook (spendguard-hook) decision ms, target 100: ${decided.map((d) => d.toFixed(1)).join(', ')}; whole process ms: ${wall.map((w) => w.toFixed(0)).join(', ')}`);
    // Latency targets are measured and printed, not asserted (SPEC §10): on a shared, saturated
    // machine a 100 ms bound flakes. This bound only tells an answer from the daemon from one
    // that came out of the 1 s timeout.
    expect(decided[0]).toBeLessThan(500);
  });

  it('blocks a killed session with exit 2 and one readable line naming the kill, from both entry points', async () => {
    expect((await hook(KILLED)).code).toBe(0);
    const killed = await cli(['kill', `session:${KILLED}`, '--reason', 'runaway edits']);
    expect(killed.code, killed.stderr).toBe(0);
    const viaCli = await cli(['hook', 'claude-code', '--timing'], { stdin: hookPayload(KILLED) });
    console.info(`hook (spendguard CLI) decision ms: ${decidedMs(viaCli.stderr).toFixed(1)}; whole process ms: ${viaCli.wall_ms.toFixed(0)}`);
    const plain = await cli(['claude-code'], { bin: HOOK_BIN, stdin: hookPayload(KILLED) });
    expect(plain.stderr.endsWith('\n') && plain.stderr.split('\n').length).toBe(2); // one line, nothing else
    for (const r of [plain, viaCli]) {
      expect(r.code).toBe(2);
      const reason = r.stderr.split('\n').find((l) => l.startsWith('spendguard blocked'));
      expect(reason).toBe(
        `spendguard blocked Bash: session:${KILLED} was killed: runaway edits [KILLED on session:${KILLED}]. An operator stopped this session: do not retry, tell the user (resume: spendguard resume session:${KILLED}).`,
      );
    }
    expect((await hook(FREE)).code).toBe(0);
  });

  it('waits for the operator on an approval-mode limit: denied blocks, granted allows', async () => {
    // The operator answers over the protocol the CLI and the TUI use; the CLI is tested elsewhere.
    const agent = await RawAgent.hello(daemon.url, daemon.agentToken, claudeCodeHello(APPROVAL, osUser()));
    expect(await agent.request({ type: 'spend', id: 's1', key: 'cc:over-approval', cost_usd: 0.02 })).toMatchObject({ type: 'ack', duplicate: false });
    agent.close();
    const op = await OperatorClient.connect({ url: daemon.url, token: daemon.operatorToken });
    try {
      const answer = async (verb: 'deny' | 'grant'): Promise<Ran> => {
        const waiting = hook(APPROVAL);
        let prompt: string | undefined;
        await expect.poll(async () => (prompt = (await op.request({ type: 'prompts' })).prompts?.[0]?.id), { timeout: 10_000 }).toBeDefined();
        const id = prompt ?? '';
        await op.request(verb === 'deny' ? { type: 'deny', prompt: id } : { type: 'grant', target: id, add_usd: 1, confirmed: true });
        return waiting;
      };
      const denied = await answer('deny');
      expect(denied.code).toBe(2);
      expect(denied.stderr).toContain('[APPROVAL_DENIED on session:');
      const granted = await answer('grant');
      expect(granted.code, granted.stderr).toBe(0);
    } finally {
      await op.close();
    }
  });

  it('blocks a session spent to exactly its hard limit (BUDGET_EXCEEDED)', async () => {
    const FULL = '12121212-3434-4565-8787-909090909090';
    expect((await hook(FULL)).code).toBe(0);
    const agent = await RawAgent.hello(daemon.url, daemon.agentToken, claudeCodeHello(FULL, osUser()));
    expect(await agent.request({ type: 'spend', id: 's1', key: 'cc:full-session', cost_usd: 10 })).toMatchObject({ type: 'ack', duplicate: false });
    agent.close();
    const blocked = await hook(FULL);
    expect(blocked.code).toBe(2);
    expect(blocked.stderr).toMatch(/spendguard blocked Bash: .*BUDGET_EXCEEDED/);
  });

  it('follows its fail mode when the daemon is down or silent, within 1.5 s', async () => {
    const down = `ws://127.0.0.1:${await freePort()}`;
    const open = await hook(FREE, [], down);
    const closed = await hook(FREE, ['--fail', 'closed'], down);
    expect([open.code, closed.code]).toEqual([0, 2]);
    expect(open.stderr).toContain('allowing Bash (--fail open)');
    expect(closed.stderr).toContain('(--fail closed)');

    const silent: Server = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => silent.once('listening', r));
    try {
      const hung = await hook(FREE, ['--fail', 'closed'], `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`);
      expect(hung.code).toBe(2);
      expect(hung.stderr).toContain('within 1000 ms');
      for (const r of [open, closed, hung]) expect(decidedMs(r.stderr)).toBeLessThan(1_500);
      console.info(`hook with the daemon down: decision ms ${[open, closed, hung].map((r) => decidedMs(r.stderr).toFixed(0)).join(', ')}; whole process ms ${[open, closed, hung].map((r) => r.wall_ms.toFixed(0)).join(', ')}`);
    } finally {
      silent.close();
    }
  });
});
