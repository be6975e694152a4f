import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type RunningDaemon } from '../main.js';
import { HttpAgentApi } from './http-api.js';
import { silentLogger } from './log.js';

// A second API instance in front of the daemon's own, with a small session limit and a clock
// the test moves, so that idle expiry needs no sleeping.
let daemon: RunningDaemon;
let api: HttpAgentApi;
let base: string;
let now = 1_000_000;

beforeAll(async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'sg-http-'));
  const configPath = join(stateDir, 'config.yaml');
  writeFileSync(configPath, 'limits:\n  session: { cost_usd: 1, mode: approval }\n  task: { cost_usd: 10, mode: hard }\n');
  daemon = await startDaemon({ stateDir, configPath, listen: '127.0.0.1:0', log: silentLogger });
  api = new HttpAgentApi(daemon.server, daemon.supervisor, daemon.tokens, silentLogger, { idle_ms: 30_000, max_sessions: 2, max_sessions_per_key: 2, now: () => now });
  daemon.server.routes.unshift((req, res) => api.route(req, res));
  base = `${daemon.url.replace('ws://', 'http://')}/v1/agent`;
});

afterAll(async () => {
  await daemon?.stop();
});

async function post(path: string, body: object, session?: string): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const headers: Record<string, string> = { authorization: `Bearer ${daemon.tokens.agent}` };
  if (session) headers['x-spendguard-session'] = session;
  const r = await fetch(`${base}/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

describe('HttpAgentApi sessions', () => {
  it('at the cap, a hello closes the longest-idle session for room; sessions awaiting approval are never closed for it (503 when all are)', async () => {
    const hello = { v: 1, agent: 'cap-1', session: 'cs', task: 'ct' };
    const a = (await post('hello', hello)).body?.session as string;
    const b = (await post('hello', { ...hello, agent: 'cap-2' })).body?.session as string;
    now += 1_000;
    expect((await post('ping', { id: 'p' }, b)).status).toBe(200);
    const c = (await post('hello', { ...hello, agent: 'cap-3' })).body?.session as string;
    expect((await post('ping', { id: 'p' }, a)).status).toBe(404);
    expect((await post('reserve', { id: 'big-b', cost_usd: 2 }, b)).status).toBe(202);
    expect((await post('reserve', { id: 'big-c', cost_usd: 2 }, c)).status).toBe(202);
    expect(await post('hello', { ...hello, agent: 'cap-4' })).toMatchObject({ status: 503, body: { type: 'error', code: 'UNAVAILABLE' } });
    api.stop();
  });

  it('closes idle sessions within seconds like a dropped socket, and leases outlive them', async () => {
    const hello = { v: 1, agent: 'idle-1', session: 'is', task: 'it' };
    const a = (await post('hello', hello)).body?.session as string;
    const b = (await post('hello', { ...hello, agent: 'idle-2' })).body?.session as string;
    const grant = await post('reserve', { id: 'r', cost_usd: 0.01 }, a);
    const conns = daemon.engine.conns.size;

    now += 20_000;
    expect((await post('ping', { id: 'p' }, b)).status).toBe(200);
    now += 15_000;
    api.sweep();
    expect(api.sessionCount).toBe(1);
    expect(daemon.engine.conns.size).toBe(conns - 1);
    expect((await post('ping', { id: 'p' }, a)).status).toBe(404);

    const again = (await post('hello', hello)).body?.session as string;
    const commit = { id: 'c', reservation: grant.body?.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.01 };
    expect(await post('commit', commit, again)).toMatchObject({ status: 200, body: { type: 'ack', duplicate: false } });
  });

  it('bye closes the session in the engine too', async () => {
    api.stop(); // frees the two session slots
    const conns = daemon.engine.conns.size;
    const s = (await post('hello', { v: 1, agent: 'bye-1', session: 'bs', task: 'bt' })).body?.session as string;
    expect(daemon.engine.conns.size).toBe(conns + 1);
    expect((await post('bye', {}, s)).status).toBe(204);
    expect(daemon.engine.conns.size).toBe(conns);
    expect(api.sessionCount).toBe(0);
  });

  it('stop answers a waiting long-poll at once', async () => {
    const s = (await post('hello', { v: 1, agent: 'stop-1', session: 'ss', task: 'st' })).body?.session as string;
    expect((await post('reserve', { id: 'big', cost_usd: 2 }, s)).status).toBe(202);
    // The API registers the poll synchronously when the request reaches it, right after this route.
    const arrived = new Promise<void>((resolve) => {
      daemon.server.routes.unshift((req) => {
        if (req.url?.startsWith('/v1/agent/wait')) resolve();
        return false;
      });
    });
    const waiting = fetch(`${base}/wait?id=big`, { headers: { authorization: `Bearer ${daemon.tokens.agent}`, 'x-spendguard-session': s } });
    await arrived;
    api.stop();
    const r = await waiting;
    expect(r.status).toBe(404);
    expect(((await r.json()) as { message: string }).message).toMatch(/the session closed/);
  });
});
