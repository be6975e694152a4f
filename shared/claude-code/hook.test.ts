import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConnection } from '../client/operator.js';
import { FakeDaemon } from '../client/test-support/fake-daemon.js';
import { argsHash, askDaemon, claudeCodeHello, decide, parseDurationMs, parseHookPayload, resolveAgentConnection, runHook, type Ask, type HookOptions } from './hook.js';

const SESSION = '3f1c2a9e-5b7d-4e21-9c3a-8d6e0f1b2a47';
const payload = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ session_id: SESSION, transcript_path: '/x.jsonl', cwd: '/w', hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'ls' }, ...extra });

describe('parseHookPayload', () => {
  it('takes the session and tool from the PreToolUse JSON', () => {
    expect(parseHookPayload(payload())).toEqual({ ok: true, value: { session_id: SESSION, tool_name: 'Bash', tool_input: { command: 'ls' } } });
  });

  it('refuses input it cannot tie to a session', () => {
    expect(parseHookPayload('nope')).toMatchObject({ ok: false, reason: expect.stringContaining('not JSON') });
    expect(parseHookPayload('[]')).toMatchObject({ ok: false });
    expect(parseHookPayload(payload({ session_id: 'has space' }))).toMatchObject({ ok: false, reason: expect.stringContaining('session_id') });
    expect(parseHookPayload(payload({ tool_name: 7 }))).toMatchObject({ ok: false });
  });
});

describe('small parts', () => {
  it('parses durations, bare numbers as seconds, within a bound', () => {
    expect(parseDurationMs('500ms', 60_000)).toBe(500);
    expect(parseDurationMs('2m', 600_000)).toBe(120_000);
    expect(parseDurationMs('90', 600_000)).toBe(90_000);
    expect(parseDurationMs('2h', 600_000)).toBeUndefined();
    expect(parseDurationMs('10m', 60_000)).toBeUndefined();
  });

  it('hashes the same tool input the same way', () => {
    expect(argsHash({ command: 'ls' })).toBe(argsHash({ command: 'ls' }));
    expect(argsHash({ command: 'ls' })).not.toBe(argsHash({ command: 'pwd' }));
  });

  it('puts every Claude Code session on its own agent scope under session and task of that id', () => {
    expect(claudeCodeHello(SESSION, 'alice')).toEqual({ agent: `claude-code.${SESSION}`, session: SESSION, task: SESSION, user: 'alice', labels: { client: 'claude-code' } });
  });

  it('finds the daemon where the operator CLI does, with the agent token', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-hook-'));
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ url: 'ws://127.0.0.1:9999', pid: 1 }));
    writeFileSync(join(dir, 'agent.token'), 'agent-secret\n');
    const cases: Array<{ url?: string; stateDir?: string; env: NodeJS.ProcessEnv }> = [
      { stateDir: dir, env: {} },
      { env: { SPENDGUARD_STATE_DIR: dir } },
      { url: 'ws://h:1', stateDir: dir, env: { SPENDGUARD_URL: 'ws://e:2' } },
      { stateDir: dir, env: { SPENDGUARD_URL: 'ws://e:2' } },
      { env: { XDG_STATE_HOME: join(dir, 'nowhere') } },
    ];
    for (const c of cases) {
      const agent = resolveAgentConnection(c);
      const operator = resolveConnection(c);
      expect([agent.url, agent.stateDir]).toEqual([operator.url, operator.stateDir]);
    }
    expect(resolveAgentConnection({ stateDir: dir, env: {} }).token).toBe('agent-secret');
    expect(resolveAgentConnection({ stateDir: dir, env: { SPENDGUARD_AGENT_TOKEN: 'from-env' } }).token).toBe('from-env');
  });
});

describe('decide', () => {
  it('blocks a denied call with one readable line that tells Claude what to do', () => {
    const v = decide({ kind: 'deny', code: 'KILLED', scope: `session:${SESSION}`, message: `session:${SESSION} was killed: runaway`, retry_after_ms: undefined }, 'open', 'Bash');
    expect(v.exitCode).toBe(2);
    expect(v.message).toBe(
      `spendguard blocked Bash: session:${SESSION} was killed: runaway [KILLED on session:${SESSION}]. An operator stopped this session: do not retry, tell the user (resume: spendguard resume session:${SESSION}).`,
    );
    expect(v.message).not.toContain('\n');
  });

  it('follows the fail mode when the daemon does not answer, but never lets a parked request through', () => {
    const down = { kind: 'unanswered', reason: 'connect ECONNREFUSED', pending: false } as const;
    expect(decide(down, 'open', 'Bash')).toMatchObject({ exitCode: 0, message: expect.stringContaining('allowing Bash (--fail open)') });
    expect(decide(down, 'closed', 'Bash')).toMatchObject({ exitCode: 2, message: expect.stringContaining('--fail closed') });
    expect(decide({ ...down, pending: true }, 'open', 'Bash').exitCode).toBe(2);
  });
});

describe('askDaemon against a scripted daemon', () => {
  let daemon: FakeDaemon;
  beforeEach(async () => {
    daemon = await FakeDaemon.start('tok');
  });
  afterEach(async () => {
    await daemon.close();
  });
  const ask = (over: Partial<Ask> = {}): Ask => ({
    url: daemon.url,
    token: 'tok',
    hello: claudeCodeHello(SESSION, 'alice'),
    tool: 'Bash',
    args_hash: 'abc',
    timeout_ms: 1_000,
    wait_ms: 2_000,
    ...over,
  });

  it('sends a zero-cost reserve naming the tool and releases the grant', async () => {
    expect(await askDaemon(ask())).toEqual({ kind: 'grant' });
    const [hello] = daemon.framesOf('hello');
    expect(hello).toMatchObject({ agent: `claude-code.${SESSION}`, session: SESSION, task: SESSION, user: 'alice' });
    expect(daemon.framesOf('reserve')).toEqual([{ type: 'reserve', id: 'hook-reserve', cost_usd: 1e-9, tool: 'Bash', args_hash: 'abc' }]);
    await expect.poll(() => daemon.framesOf('release')).toEqual([{ type: 'release', id: 'hook-release', reservation: 'r-1' }]);
  });

  it('passes a deny on', async () => {
    daemon.onReserve = () => ({ kind: 'deny', code: 'BUDGET_EXCEEDED', scope: `session:${SESSION}` });
    expect(await askDaemon(ask())).toMatchObject({ kind: 'deny', code: 'BUDGET_EXCEEDED', scope: `session:${SESSION}` });
  });

  it('waits for the operator after pending, and gives up after --wait', async () => {
    daemon.onReserve = () => ({ kind: 'pending' });
    const answered = askDaemon(ask());
    await expect.poll(() => daemon.framesOf('reserve').length).toBe(1);
    daemon.answer('hook-reserve', { kind: 'deny', code: 'APPROVAL_DENIED' });
    expect(await answered).toMatchObject({ kind: 'deny', code: 'APPROVAL_DENIED' });
    const waited = await askDaemon(ask({ wait_ms: 100 }));
    expect(waited).toMatchObject({ kind: 'unanswered', pending: true, reason: expect.stringContaining('no answer to approval prompt') });
  });

  it('is unanswered when the daemon is silent, refuses the token, or drops a parked request', async () => {
    daemon.onReserve = () => ({ kind: 'silent' });
    expect(await askDaemon(ask({ timeout_ms: 150 }))).toMatchObject({ kind: 'unanswered', pending: false, reason: expect.stringContaining('within 150 ms') });
    expect(await askDaemon(ask({ token: 'wrong' }))).toMatchObject({ kind: 'unanswered', reason: expect.stringContaining('HTTP 401') });
    daemon.onReserve = () => ({ kind: 'pending' });
    const parked = askDaemon(ask({ onPending: () => daemon.dropAll() }));
    expect(await parked).toMatchObject({ kind: 'unanswered', pending: true });
  });
});

describe('runHook', () => {
  let hung: Server | undefined;
  afterEach(() => hung?.close());
  const opts = (over: Partial<HookOptions>): HookOptions => ({ url: undefined, stateDir: mkdtempSync(join(tmpdir(), 'sg-hook-')), fail: 'open', wait_ms: 1_000, timeout_ms: 300, env: {}, ...over });

  it('applies the fail mode to a daemon that accepts connections and never answers, within the timeout', async () => {
    hung = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => hung?.once('listening', r));
    const address = hung.address();
    const url = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const started = Date.now();
    const closed = await runHook(payload(), opts({ url, fail: 'closed', env: { SPENDGUARD_AGENT_TOKEN: 't' } }));
    expect(closed.exitCode).toBe(2);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await runHook(payload(), opts({ url, env: { SPENDGUARD_AGENT_TOKEN: 't' } }))).exitCode).toBe(0);
  });

  it('without a token follows the fail mode and says where it looked', async () => {
    const v = await runHook(payload(), opts({ fail: 'closed' }));
    expect(v).toMatchObject({ exitCode: 2, message: expect.stringContaining('agent.token') });
  });
});
