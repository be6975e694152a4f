import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { RawAgent, startDaemonProcess, tempStateDir, writeConfig } from './daemon-process.js';

/**
 * The daemon's server shell against a real process: group commit (many events per SQLite
 * transaction, read off /metrics), the per-connection flood limit (which never drops settling
 * frames), and the `shutdown` frame of a graceful stop.
 */

const GENEROUS = 'limits:\n  global: { cost_usd: 1000000 }\n  session: { cost_usd: 1000000, mode: hard }\n  task: { cost_usd: 1000000 }\n';

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url.replace('ws://', 'http://')}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) throw new Error(`no ${name} in the scrape`);
  return Number(line.split(' ').at(-1));
}

describe('daemon server', () => {
  it('group commit: 1,000 concurrent keyed spends from 20 connections share far fewer transactions, every one acked once', async () => {
    const stateDir = tempStateDir('sg-group-');
    const daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, GENEROUS) });
    try {
      const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => RawAgent.hello(daemon.url, daemon.agentToken, { agent: `g${i}`, session: 'gs', task: 'gt' })));
      const batchesBefore = await metric(daemon.url, 'spendguard_ledger_batch_duration_seconds_count');
      const rowsBefore = await metric(daemon.url, 'spendguard_ledger_rows_total');
      const acks = await Promise.all(agents.flatMap((a, i) => Array.from({ length: 50 }, (_, n) => a.request({ type: 'spend', id: `s${n}`, key: `g${i}-${n}`, cost_usd: 0.001 }))));
      expect(acks.every((f) => f.type === 'ack' && f.duplicate === false)).toBe(true);
      const rows = (await metric(daemon.url, 'spendguard_ledger_rows_total')) - rowsBefore;
      const batches = (await metric(daemon.url, 'spendguard_ledger_batch_duration_seconds_count')) - batchesBefore;
      process.stdout.write(`[group commit] ${rows} rows in ${batches} transactions (${(rows / batches).toFixed(1)} per fsync)\n`);
      expect(rows).toBe(1000);
      expect(batches).toBeLessThan(rows / 4);
      for (const a of agents) a.close();
    } finally {
      await daemon.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('a flooding connection is refused RATE_LIMITED with retry_after_ms, never for commits, and others are served', async () => {
    const stateDir = tempStateDir('sg-flood-');
    const daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, `${GENEROUS}detectors:\n  concurrency: { agent: 100000, task: 100000 }\n`) });
    try {
      const flood = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'flood', session: 'fs', task: 'ft' });
      const calm = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'calm', session: 'fs2', task: 'ft2' });
      const replies = Promise.all(Array.from({ length: 6000 }, (_, n) => flood.request({ type: 'reserve', id: `f${n}`, cost_usd: 0.0001 }, 30_000)));
      const answers = await replies;
      const limited = answers.filter((f) => f.type === 'deny' && f.code === 'RATE_LIMITED');
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0]).toMatchObject({ scope: 'connection', retry_after_ms: expect.any(Number) });
      // Settling frames go through even now: each granted reservation commits.
      const granted = answers.filter((f) => f.type === 'grant').slice(0, 500);
      const commits = await Promise.all(granted.map((g, n) => flood.request({ type: 'commit', id: `c${n}`, reservation: g.reservation as string, input_tokens: 0, output_tokens: 0, cost_usd: 0.0001 }, 30_000)));
      expect(commits.every((f) => f.type === 'ack')).toBe(true);
      expect((await calm.request({ type: 'reserve', id: 'ok', cost_usd: 0.01 })).type).toBe('grant');
      flood.close();
      calm.close();
    } finally {
      await daemon.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('a graceful stop sends shutdown to every connected agent before closing', async () => {
    const stateDir = tempStateDir('sg-shutdown-');
    const daemon = await startDaemonProcess({ stateDir });
    const agents = await Promise.all([0, 1, 2].map((i) => RawAgent.hello(daemon.url, daemon.agentToken, { agent: `sd${i}`, session: 'ss', task: 'st' })));
    const frames = agents.map((a) => a.next((f) => f.type === 'shutdown'));
    await daemon.stop();
    for (const f of await Promise.all(frames)) expect(f).toEqual({ type: 'shutdown' });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('past max_connections a new agent is refused 503 with a clear message; a slot that frees is taken again; operators keep theirs', async () => {
    const stateDir = tempStateDir('sg-maxconn-');
    const daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, `${GENEROUS}max_connections: 3\n`) });
    try {
      const agents = await Promise.all(Array.from({ length: 3 }, (_, i) => RawAgent.hello(daemon.url, daemon.agentToken, { agent: `m${i}`, session: 'ms', task: 'mt' })));
      const refused = await RawAgent.open(daemon.url, daemon.agentToken).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
      expect(refused).toBe('HTTP 503');
      const res = await upgradeRefusal(daemon.url, daemon.agentToken);
      expect(res.status).toBe(503);
      expect(res.body).toMatch(/3 agent connections are open.*max_connections/);
      const operator = await RawAgent.open(daemon.url, daemon.operatorToken, '/v1/operator');
      expect(await operator.request({ type: 'status', id: 'st' })).toMatchObject({ type: 'result', ok: true });
      agents[0]?.close();
      const again = await waitForSlot(daemon.url, daemon.agentToken);
      expect((await again.request({ type: 'ping', id: 'p' })).type).toBe('pong');
      expect(daemon.child.exitCode).toBeNull();
      for (const a of [...agents, again, operator]) a.close();
    } finally {
      await daemon.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

async function waitForSlot(url: string, token: string): Promise<RawAgent> {
  for (let i = 0; i < 100; i++) {
    try {
      return await RawAgent.hello(url, token, { agent: 'late', session: 'ms', task: 'mt' });
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('no slot freed');
}

/** A WebSocket upgrade that the server answers with a plain HTTP response: its status and body. */
function upgradeRefusal(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url.replace('ws://', 'http://')}/v1/agent`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', authorization: `Bearer ${token}` },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('error', reject);
    req.end();
  });
}
