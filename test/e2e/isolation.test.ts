import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, RawAgent, startDaemonProcess, waitFor, writeConfig, tempStateDir, type DaemonProcess } from './daemon-process.js';

/**
 * Agents cannot act for each other (issue: one shared token let an agent settle another's
 * reservation, erase its spend by squatting its keys, claim its scopes and crowd out its
 * prompts). Two agents of different users and sessions, each holding a key bound to its own
 * session, against a real daemon process over real sockets.
 */

const run = promisify(execFile);
let d: DaemonProcess;
let aliceKey: string;
let bobKey: string;
const open: RawAgent[] = [];

const ALICE = { user: 'alice', session: 'sess-a', task: 'task-a', agent: 'alice' };
const BOB = { user: 'bob', session: 'sess-b', task: 'task-b', agent: 'bob' };

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, '--state-dir', d.stateDir, ...args], { timeout: 20_000 });
}

async function agent(key: string, hello: Record<string, unknown>): Promise<RawAgent> {
  const a = await RawAgent.hello(d.url, key, hello);
  open.push(a);
  return a;
}

/** The first reply to a hello: a welcome, or the error refusing it. */
async function helloReply(key: string, hello: Record<string, unknown>): Promise<Record<string, unknown>> {
  const a = await RawAgent.open(d.url, key);
  open.push(a);
  const reply = a.next((f) => f.type === 'welcome' || f.type === 'error');
  a.send({ type: 'hello', v: 1, ...hello });
  return reply;
}

async function spentUsd(scope: string): Promise<number> {
  const { stdout } = await cli('status', '--json');
  const status = JSON.parse(stdout) as { scopes: Record<string, { spent: { cost_usd?: number } }> };
  return status.scopes[scope]?.spent.cost_usd ?? 0;
}

beforeAll(async () => {
  const dir = tempStateDir('sg-isolation-');
  const config = writeConfig(
    dir,
    `limits:
  task: { cost_usd: 1, mode: hard }
scopes:
  "session:sess-flood": { cost_usd: 0.01, mode: approval }
  "session:sess-calm": { cost_usd: 0.01, mode: approval }
`,
  );
  d = await startDaemonProcess({ stateDir: dir, config });
  aliceKey = (await cli('keys', 'create', 'session:sess-a', '--in', 'user:alice', '--name', 'alice-key')).stdout.trim();
  bobKey = (await cli('keys', 'create', 'session:sess-b', '--in', 'user:bob', '--name', 'bob-key')).stdout.trim();
}, 60_000);

afterAll(async () => {
  for (const a of open) a.close();
  await d?.stop();
});

describe('keys bound to a scope', () => {
  it('are printed once, listed without the secret, and authenticate agents', async () => {
    expect(aliceKey).toMatch(/^sgk_[A-Za-z0-9_-]{40,}$/);
    const { stdout } = await cli('keys', 'list', '--json');
    const keys = JSON.parse(stdout) as Array<Record<string, unknown>>;
    expect(keys.map((k) => [k.label, k.scope])).toEqual([
      ['alice-key', 'session:sess-a'],
      ['bob-key', 'session:sess-b'],
    ]);
    expect(stdout).not.toContain(aliceKey);
    expect(stdout).not.toContain(aliceKey.slice(4, 20));
    await agent(aliceKey, ALICE);
  });

  it("a key for one session cannot join another, pose as a sub-agent of an agent outside it, or take a delegated child's name", async () => {
    const bob = await agent(bobKey, BOB);
    expect(await helloReply(aliceKey, { ...ALICE, session: 'sess-b', task: 'task-b', agent: 'mallory' })).toMatchObject({ type: 'error', message: expect.stringContaining('session:sess-a') });
    expect(await helloReply(aliceKey, { ...ALICE, user: 'bob', agent: 'mallory' })).toMatchObject({ type: 'error', message: expect.stringContaining('belongs to user:alice') });
    expect(await helloReply(aliceKey, { ...ALICE, agent: 'fake-sub', parent: 'bob' })).toMatchObject({ type: 'error', message: expect.stringContaining('outside session:sess-a') });
    const delegated = await bob.request({ type: 'delegate', id: 'dg', child: 'bob-child', limits: { cost_usd: 0.2 } });
    expect(delegated).toMatchObject({ type: 'delegated' });
    expect(await helloReply(aliceKey, { ...ALICE, agent: 'bob-child', parent: 'bob' })).toMatchObject({ type: 'error' });
    expect(await helloReply(aliceKey, { ...BOB, agent: 'bob-child', parent: 'bob' })).toMatchObject({ type: 'error' });
    // The real child still joins, with its key, where its delegator put it.
    const child = await helloReply(bobKey, { ...BOB, agent: 'bob-child', parent: 'bob' });
    expect(child).toMatchObject({ type: 'welcome', scopes: expect.arrayContaining(['agent:bob', 'agent:bob-child']) });
  });

  it('authenticate the HTTP API the same way: inside the scope only, and a session belongs to its key', async () => {
    const base = `${d.url.replace('ws://', 'http://')}/v1/agent`;
    const post = async (path: string, key: string, body: object, session?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
      const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...(session ? { 'x-spendguard-session': session } : {}) };
      const r = await fetch(`${base}/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const outside = await post('hello', aliceKey, { v: 1, ...BOB, agent: 'http-mallory' });
    expect(outside.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(outside.body)).toContain('session:sess-a');
    const inside = await post('hello', aliceKey, { v: 1, ...ALICE, agent: 'http-alice' });
    expect(inside.status).toBe(200);
    const session = inside.body.session as string;
    expect((await post('ping', bobKey, { id: 'p' }, session)).status).toBe(404);
    expect((await post('ping', aliceKey, { id: 'p' }, session)).status).toBe(200);
    expect((await post('hello', 'sgk_not-a-real-key', { v: 1, ...ALICE })).status).toBe(401);
  });

  it("settling or releasing another agent's reservation is refused and changes nothing", async () => {
    const alice = await agent(aliceKey, { ...ALICE, agent: 'alice-2' });
    const bob = await agent(bobKey, { ...BOB, agent: 'bob-2', task: 'task-b2' });
    const grant = await bob.request({ type: 'reserve', id: 'r1', cost_usd: 0.6 });
    expect(grant).toMatchObject({ type: 'grant' });
    const reservation = grant.reservation as string;
    expect(await alice.request({ type: 'commit', id: 'steal', reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0 })).toMatchObject({ type: 'error', code: 'UNKNOWN_RESERVATION' });
    expect(await alice.request({ type: 'release', id: 'free', reservation })).toMatchObject({ type: 'error', code: 'UNKNOWN_RESERVATION' });
    // Bob's reservation still holds: a second 0.6 does not fit under the $1 task cap.
    expect(await bob.request({ type: 'reserve', id: 'r2', cost_usd: 0.6 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    expect(await bob.request({ type: 'commit', id: 'c1', reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.6 })).toMatchObject({ type: 'ack', duplicate: false });
    expect(await spentUsd('task:task-b2')).toBeCloseTo(0.6, 9);
  });

  it("a key squatted first by one agent never makes the other's commit or spend count zero", async () => {
    const alice = await agent(aliceKey, { ...ALICE, agent: 'alice-3', task: 'task-a3' });
    const bob = await agent(bobKey, { ...BOB, agent: 'bob-3', task: 'task-b3' });
    const grant = await bob.request({ type: 'reserve', id: 'r', cost_usd: 0.3 });
    const reservation = grant.reservation as string;
    // Alice uses bob's reservation id and a provider response id as her own keys, first.
    expect(await alice.request({ type: 'spend', id: 's1', key: reservation, cost_usd: 0 })).toMatchObject({ type: 'ack', duplicate: false });
    expect(await alice.request({ type: 'spend', id: 's2', key: 'resp_42', cost_usd: 0 })).toMatchObject({ type: 'ack', duplicate: false });
    expect(await bob.request({ type: 'commit', id: 'c', reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.3 })).toMatchObject({ type: 'ack', duplicate: false });
    expect(await bob.request({ type: 'spend', id: 's', key: 'resp_42', cost_usd: 0.25 })).toMatchObject({ type: 'ack', duplicate: false });
    // The same key retried in bob's own session still counts once.
    expect(await bob.request({ type: 'spend', id: 's-again', key: 'resp_42', cost_usd: 0.25 })).toMatchObject({ type: 'ack', duplicate: true });
    expect(await spentUsd('task:task-b3')).toBeCloseTo(0.55, 9);
  });

  it("a revoked key's open connection closes at once, and the key is refused afterwards", async () => {
    const temp = (await cli('keys', 'create', 'session:sess-a', '--name', 'temp', '--expires', '1h')).stdout.trim();
    const a = await agent(temp, { ...ALICE, agent: 'alice-temp' });
    const { stdout } = await cli('keys', 'revoke', 'temp');
    expect(stdout).toContain('closed 1 connection');
    await waitFor('the revoked connection to close', () => (a.closed ? true : undefined), 5_000);
    await expect(RawAgent.open(d.url, temp)).rejects.toThrow('HTTP 401');
  });
});

describe('prompts are bounded per agent and per session', () => {
  it("1,100 over-limit requests from one agent leave another agent's prompt reaching `prompts --json`", async () => {
    const flood = await agent(d.agentToken, { user: 'u-flood', session: 'sess-flood', task: 't-flood', agent: 'flooder' });
    const replies: Array<Promise<Record<string, unknown>>> = [];
    for (let i = 0; i < 1_100; i++) {
      const id = `f${i}`;
      replies.push(flood.next((f) => f.id === id, 30_000));
      flood.send({ type: 'reserve', id, cost_usd: 1 });
    }
    const answered = await Promise.all(replies);
    expect(answered.filter((f) => f.type === 'pending').length).toBeLessThanOrEqual(16);
    const refused = answered.find((f) => f.type === 'deny');
    expect(refused?.message).toMatch(/prompts of agent:flooder already wait for the operator/);

    const calm = await agent(d.agentToken, { user: 'u-calm', session: 'sess-calm', task: 't-calm', agent: 'calm' });
    const pending = calm.next((f) => f.id === 'calm-1');
    calm.send({ type: 'reserve', id: 'calm-1', cost_usd: 1 });
    expect(await pending).toMatchObject({ type: 'pending' });
    const { stdout } = await cli('prompts', '--json');
    const prompts = JSON.parse(stdout) as Array<{ agent: string }>;
    expect(prompts.some((p) => p.agent === 'agent:calm')).toBe(true);
  });
});
