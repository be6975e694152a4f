import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawAgent, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

interface Payload {
  text: string;
  id: string;
  level: string;
  kind: string;
  scope: string;
  message: string;
  at: string;
}

/** A webhook receiver on 127.0.0.1 that can answer 500 or go away entirely. */
class Receiver {
  readonly delivered: Payload[] = [];
  attempts = 0;
  failing = false;
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        this.attempts += 1;
        if (this.failing) {
          res.writeHead(500).end('down for maintenance');
          return;
        }
        expect(req.method).toBe('POST');
        expect(req.headers['content-type']).toBe('application/json');
        this.delivered.push(JSON.parse(body) as Payload);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const receiver = new Receiver();
let daemon: DaemonProcess;
const open: RawAgent[] = [];

beforeAll(async () => {
  await receiver.start();
  const dir = tempStateDir();
  // Only tasks have limits, so each crossing is one scope's, and one alert.
  const config = `
limits:
  task: { cost_usd: 1.00, mode: hard }
alerts:
  webhook: http://127.0.0.1:${receiver.port}/hook
`;
  daemon = await startDaemonProcess({ stateDir: dir, config: writeConfig(dir, config) });
});

afterAll(async () => {
  for (const a of open) a.close();
  await daemon?.stop();
  await receiver.stop();
});

async function agent(name: string, task: string): Promise<RawAgent> {
  const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: name, session: 'hooks', task });
  open.push(a);
  return a;
}

let spendSeq = 0;
async function spend(a: RawAgent, usd: number): Promise<void> {
  spendSeq += 1;
  expect(await a.request({ type: 'spend', id: `s${spendSeq}`, key: `k${spendSeq}`, cost_usd: usd })).toMatchObject({ type: 'ack', duplicate: false });
}

describe('webhook alerts', () => {
  it('posts one Slack-style message per threshold crossing and per kill', async () => {
    const a = await agent('hook-1', 'w1');
    const expectations: Array<[number, number, RegExp]> = [
      [0.7, 1, /warning: 70%/],
      [0.05, 1, /./],
      [0.15, 2, /critical: 90%/],
      [0.05, 2, /./],
      [0.05, 3, /at limit: 100%/],
    ];
    for (const [usd, count, message] of expectations) {
      await spend(a, usd);
      await until(`${count} POSTs`, () => receiver.delivered.length >= count);
      expect(receiver.delivered.at(-1)?.message).toMatch(message);
    }
    // Crossing 75 % or 95 % is no new threshold: nothing more arrives.
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.delivered).toHaveLength(3);
    for (const p of receiver.delivered) {
      expect(p).toMatchObject({ kind: 'threshold', scope: 'task:w1' });
      expect(p.text).toContain('task:w1');
      expect(new Date(p.at).toISOString()).toBe(p.at);
    }
    expect(receiver.delivered.map((p) => p.level)).toEqual(['warning', 'critical', 'critical']);

    const op = await RawAgent.open(daemon.url, daemon.operatorToken, '/v1/operator');
    open.push(op);
    const killed = a.next((f) => f.type === 'kill');
    expect(await op.request({ type: 'kill', id: 'k1', scope: 'task:w1', reason: 'runaway' })).toMatchObject({ type: 'result', ok: true });
    await killed;
    await until('the kill POST', () => receiver.delivered.length === 4);
    expect(receiver.delivered[3]).toMatchObject({ kind: 'kill', level: 'critical', scope: 'task:w1' });
    expect(receiver.delivered[3]?.text).toMatch(/task:w1 killed by operator \(runaway\)/);
    expect(receiver.attempts).toBe(4);
  });

  it('retries through 500s and a closed port, delivers every alert once it is back, and never delays a grant', async () => {
    const b = await agent('hook-2', 'w2');
    const c = await agent('hook-3', 'w3');
    const before = receiver.attempts;
    receiver.failing = true;
    await spend(b, 0.7);
    await until('two failed attempts', () => receiver.attempts >= before + 2);
    await receiver.stop();
    await spend(b, 0.2);

    // Agents keep working at full speed while alerts wait.
    let slowest = 0;
    for (let n = 0; n < 20; n++) {
      const started = performance.now();
      const g = await c.request({ type: 'reserve', id: `r${n}`, cost_usd: 0.001 });
      slowest = Math.max(slowest, performance.now() - started);
      expect(g).toMatchObject({ type: 'grant', delay_ms: 0 });
      await c.request({ type: 'commit', id: `c${n}`, reservation: g.reservation as string, input_tokens: 0, output_tokens: 0, cost_usd: 0.001 });
    }
    expect(slowest).toBeLessThan(250);
    await new Promise((r) => setTimeout(r, 700));
    expect(receiver.delivered).toHaveLength(4);

    receiver.failing = false;
    await receiver.start();
    await until('the held alerts', () => receiver.delivered.length === 6, 12_000);
    const held = receiver.delivered.slice(4);
    expect(held.map((p) => [p.kind, p.scope, p.level])).toEqual([
      ['threshold', 'task:w2', 'warning'],
      ['threshold', 'task:w2', 'critical'],
    ]);
    expect(new Set(receiver.delivered.map((p) => p.id)).size).toBe(6);

    const metrics = await (await fetch(`${daemon.url.replace('ws://', 'http://')}/metrics`)).text();
    expect(metrics).toContain('spendguard_webhook_alerts_total{result="delivered"} 6');
    expect(metrics).toMatch(/spendguard_webhook_alerts_total\{result="retried"\} [3-9]/);
    expect(metrics).toContain('spendguard_webhook_alerts_total{result="dropped"} 0');
    expect(metrics).toContain('spendguard_webhook_queue_length 0');
  }, 20_000);
});
