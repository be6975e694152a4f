import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, RawAgent, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

const run = promisify(execFile);

const CONFIG = `
limits:
  session: { cost_usd: 1.00, mode: approval }
  task: { cost_usd: 10, mode: hard }
scopes:
  "task:capped": { cost_usd: 0.10, mode: hard }
approvals: { timeout: 60s, increment_usd: 1 }
`;

let daemon: DaemonProcess;
let base: string;

type Json = Record<string, unknown>;
interface Answer {
  readonly status: number;
  readonly body: Json | null;
}

beforeAll(async () => {
  const stateDir = tempStateDir();
  daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, CONFIG) });
  base = `${daemon.url.replace('ws://', 'http://')}/v1/agent`;
});

afterAll(async () => {
  await daemon?.stop();
});

async function call(method: 'GET' | 'POST', path: string, opts: { session?: string; token?: string | null; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? daemon.agentToken : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.session !== undefined) headers['x-spendguard-session'] = opts.session;
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const r = await fetch(`${base}/${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Json) : null };
}

async function hello(agent: string, task: string, token?: string): Promise<string> {
  const r = await call('POST', 'hello', { body: { v: 1, agent, session: `s-${agent}`, task }, ...(token ? { token } : {}) });
  expect(r.status).toBe(200);
  return r.body?.session as string;
}

async function cli(...args: string[]): Promise<string> {
  const r = await run(process.execPath, [BIN, ...args, '--url', daemon.url, '--state-dir', daemon.stateDir]);
  return r.stdout;
}

describe('HTTP agent API', () => {
  it('hello opens a session; reserve → grant, commit acks once, spend, release, ping, bye', async () => {
    const r = await call('POST', 'hello', { body: { type: 'hello', v: 1, agent: 'h1', session: 'hs1', task: 'ht1' } });
    expect(r.status).toBe(200);
    expect(r.body?.welcome).toMatchObject({ type: 'welcome', v: 1, scopes: ['global', 'user:default', 'session:hs1', 'task:ht1', 'agent:h1'] });
    const session = r.body?.session as string;
    expect(session).toMatch(/^[\w-]{16,}$/);

    const grant = await call('POST', 'reserve', { session, body: { id: 'r1', cost_usd: 0.1 } });
    expect(grant).toMatchObject({ status: 200, body: { type: 'grant', id: 'r1', cost_usd: 0.1 } });
    const reservation = grant.body?.reservation as string;
    const commit = { id: 'c1', reservation, input_tokens: 10, output_tokens: 5, cost_usd: 0.05 };
    expect(await call('POST', 'commit', { session, body: commit })).toMatchObject({ status: 200, body: { type: 'ack', id: 'c1', duplicate: false } });
    expect(await call('POST', 'commit', { session, body: { ...commit, id: 'c2' } })).toMatchObject({ status: 200, body: { type: 'ack', id: 'c2', duplicate: true } });
    const spend = { id: 's1', key: 'http-spend-1', cost_usd: 0.01 };
    expect(await call('POST', 'spend', { session, body: spend })).toMatchObject({ body: { type: 'ack', duplicate: false, over: false } });
    expect(await call('POST', 'spend', { session, body: { ...spend, id: 's2' } })).toMatchObject({ body: { type: 'ack', duplicate: true } });
    const second = await call('POST', 'reserve', { session, body: { id: 'r2', cost_usd: 0.1 } });
    expect(await call('POST', 'release', { session, body: { id: 'rel', reservation: second.body?.reservation } })).toMatchObject({ status: 200, body: { type: 'ack', id: 'rel' } });
    expect(await call('POST', 'ping', { session, body: { type: 'ping', id: 'p' } })).toMatchObject({ status: 200, body: { type: 'pong', id: 'p' } });
    expect(await call('POST', 'delegate', { session, body: { id: 'd', child: 'h1-child', limits: { cost_usd: 0.2 } } })).toMatchObject({ body: { type: 'delegated', child: 'h1-child' } });

    expect((await call('POST', 'bye', { session, body: {} })).status).toBe(204);
    expect(await call('POST', 'ping', { session, body: { id: 'p2' } })).toMatchObject({ status: 404, body: { type: 'error', code: 'INVALID' } });
  });

  it('denies at a hard cap with the same deny frame as WebSocket', async () => {
    const session = await hello('cap1', 'capped');
    expect((await call('POST', 'reserve', { session, body: { id: 'a', cost_usd: 0.08 } })).status).toBe(200);
    expect(await call('POST', 'reserve', { session, body: { id: 'b', cost_usd: 0.05 } })).toMatchObject({
      status: 200,
      body: { type: 'deny', id: 'b', code: 'BUDGET_EXCEEDED', scope: 'task:capped' },
    });
  });

  it('401 without or with a wrong token; the operator token may use the agent API', async () => {
    expect(await call('POST', 'hello', { token: null, body: { v: 1, agent: 'x', session: 'x', task: 'x' } })).toMatchObject({ status: 401, body: { type: 'error', code: 'UNAUTHORIZED' } });
    expect(await call('POST', 'ping', { token: 'wrong', session: 'whatever', body: { id: 'p' } })).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    const session = await hello('op1', 'opt', daemon.operatorToken);
    expect(await call('POST', 'ping', { token: daemon.operatorToken, session, body: { id: 'p' } })).toMatchObject({ status: 200, body: { type: 'pong' } });
  });

  it('404 for an unknown session or endpoint, 400 without a session, 405 for a wrong method', async () => {
    expect(await call('POST', 'ping', { session: 'no-such-session', body: { id: 'p' } })).toMatchObject({ status: 404, body: { type: 'error', code: 'INVALID' } });
    expect((await call('POST', 'ping', { body: { id: 'p' } })).body?.message).toMatch(/X-Spendguard-Session: required/);
    expect(await call('POST', 'kill', { body: {} })).toMatchObject({ status: 404, body: { type: 'error' } });
    expect((await call('GET', 'reserve')).status).toBe(405);
  });

  it('400 with the same error frames as WebSocket; 413 for a body over 64 KiB; the session stays usable', async () => {
    const session = await hello('v1', 'vt');
    const ws = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'v1ws', session: 's-v1', task: 'vt' });
    const bad = { type: 'reserve', id: 'bad', input_tokens: -1 };
    const viaHttp = await call('POST', 'reserve', { session, body: bad });
    expect(viaHttp.status).toBe(400);
    expect(viaHttp.body).toEqual(await ws.request(bad));
    expect(viaHttp.body?.message).toMatch(/input_tokens/);
    ws.close();

    expect((await call('POST', 'reserve', { session, body: { id: 'x', bogus: 1 } })).body?.message).toMatch(/bogus/);
    expect((await call('POST', 'reserve', { session, body: 'not json' })).body).toMatchObject({ code: 'INVALID', message: expect.stringMatching(/not valid JSON/) });
    expect((await call('POST', 'reserve', { session, body: { type: 'commit', id: 'x' } })).body?.message).toMatch(/type: the body says "commit" but the path says "reserve"/);
    expect(await call('POST', 'commit', { session, body: { id: 'u', reservation: 'r99-1', input_tokens: 1, output_tokens: 1 } })).toMatchObject({ status: 400, body: { code: 'UNKNOWN_RESERVATION' } });
    expect(await call('POST', 'hello', { body: { v: 2, agent: 'a', session: 'b', task: 'c' } })).toMatchObject({ status: 400, body: { code: 'UNSUPPORTED_VERSION' } });
    const deep = `{"id":"deep","a":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    expect(await call('POST', 'reserve', { session, body: deep })).toMatchObject({ status: 400, body: { code: 'INVALID', message: expect.stringMatching(/"a"/) } });

    const big = JSON.stringify({ id: 'big', model: 'x'.repeat(70 * 1024) });
    expect(await call('POST', 'reserve', { session, body: big })).toMatchObject({ status: 413, body: { type: 'error', code: 'TOO_LARGE' } });
    expect(await call('POST', 'ping', { session, body: { id: 'still' } })).toMatchObject({ status: 200, body: { type: 'pong' } });
  });

  it('a reserve that needs approval answers 202 pending; the long-poll returns the grant the operator gives', async () => {
    const session = await hello('ap1', 'apt');
    expect((await call('POST', 'reserve', { session, body: { id: 'r0', cost_usd: 0.8 } })).status).toBe(200);
    const pending = await call('POST', 'reserve', { session, body: { id: 'r1', cost_usd: 0.5 } });
    expect(pending).toMatchObject({ status: 202, body: { type: 'pending', id: 'r1' } });
    expect((await call('GET', 'wait?id=r1&timeout_ms=50', { session })).status).toBe(204);
    expect((await call('POST', 'reserve', { session, body: { id: 'r1', cost_usd: 0.5 } })).status).toBe(409);

    const final = call('GET', 'wait?id=r1', { session });
    expect(await cli('grant', pending.body?.prompt as string, '--add-usd', '1')).toMatch(/granted/);
    expect(await final).toMatchObject({ status: 200, body: { type: 'grant', id: 'r1', cost_usd: 0.5 } });
    expect((await call('GET', 'wait?id=r1', { session })).status).toBe(404);
    expect((await call('GET', 'wait?id=r1&timeout_ms=31000', { session })).status).toBe(400);
  });

  it('a kill rides on the next response as a `kill` field, and later requests are denied KILLED', async () => {
    const session = await hello('k1', 'kt');
    await cli('kill', 'task:kt', '--reason', 'runaway');
    expect(await call('POST', 'ping', { session, body: { id: 'p' } })).toMatchObject({ status: 200, body: { type: 'pong', kill: { type: 'kill', scope: 'task:kt', reason: 'runaway' } } });
    const denied = await call('POST', 'reserve', { session, body: { id: 'r', cost_usd: 0.01 } });
    expect(denied.body).toMatchObject({ type: 'deny', code: 'KILLED' });
    expect(denied.body?.kill).toBeUndefined();
  });
});
