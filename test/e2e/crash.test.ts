import Database from 'better-sqlite3';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { BIN, ROOMY_LIMITS, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

/**
 * SPEC §7 durability against a real process: SIGKILL in the middle of a stream of keyed spends
 * loses no acknowledged event and double-counts none; resending everything after a restart is
 * idempotent, and the counters the daemon rebuilds agree with the ledger to the nano-dollar.
 */

const CONFIG = ROOMY_LIMITS;

const AGENTS = 20;
const WINDOW = 64;
const CYCLES = 3;

const run = promisify(execFile);
const daemons: DaemonProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const d of daemons) await d.kill9();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function start(stateDir: string): Promise<DaemonProcess> {
  const d = await startDaemonProcess({ stateDir, config: join(stateDir, 'config.yaml') });
  daemons.push(d);
  return d;
}

/** An amount in whole nano-USD that survives the dollars-as-JSON-number round trip exactly. */
function amountNano(agent: number, n: number): number {
  const nano = 1_234_567 + ((agent * 7_919 + n * 104_729) % 5_000_000);
  if (Math.round((nano / 1e9) * 1e9) !== nano) throw new Error(`amount ${nano} does not round-trip`);
  return nano;
}

const AckFrame = z.object({ type: z.literal('ack'), id: z.string(), cost_usd: z.number(), duplicate: z.boolean() });
const AnyFrame = z.object({ type: z.string() }).loose();

/**
 * One agent connection that pipelines keyed spends (up to WINDOW in flight) and records which
 * keys were sent and which were acknowledged. Deliberately not RawAgent: it keeps no frame log,
 * so tens of thousands of frames stay cheap.
 */
class Streamer {
  readonly acks = new Map<string, { duplicate: boolean; nano: number }>();
  readonly problems: string[] = [];
  closed = false;
  private inflight = 0;
  private queue: Array<{ key: string; nano: number }> = [];
  private drained: (() => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('close', () => {
      this.closed = true;
      this.drained?.();
    });
    ws.on('error', () => undefined);
  }

  static async connect(d: DaemonProcess, agent: string): Promise<Streamer> {
    const ws = new WebSocket(`${d.url}/v1/agent`, { headers: { authorization: `Bearer ${d.agentToken}` } });
    const welcome = new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('open', () => ws.send(JSON.stringify({ type: 'hello', v: 1, agent, session: 'crash-s', task: 'crash-t' })));
      ws.once('message', (data) => {
        const f = AnyFrame.parse(JSON.parse(data.toString()));
        if (f.type === 'welcome') resolve();
        else reject(new Error(`hello refused: ${data.toString()}`));
      });
    });
    await welcome;
    return new Streamer(ws);
  }

  private onMessage(text: string): void {
    const raw: unknown = JSON.parse(text);
    const ack = AckFrame.safeParse(raw);
    if (!ack.success) {
      this.problems.push(`unexpected frame ${text}`);
      return;
    }
    this.acks.set(ack.data.id, { duplicate: ack.data.duplicate, nano: Math.round(ack.data.cost_usd * 1e9) });
    this.inflight -= 1;
    this.pump();
  }

  /** Sends one keyed spend (the key doubles as the request id). */
  private send(key: string, nano: number): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.inflight += 1;
    this.ws.send(JSON.stringify({ type: 'spend', id: key, key, cost_usd: nano / 1e9 }));
    return true;
  }

  private pump(): void {
    while (this.inflight < WINDOW && this.queue.length > 0) {
      const next = this.queue.shift();
      if (!next || !this.send(next.key, next.nano)) return;
      this.onSent?.(next.key, next.nano);
    }
    if (this.inflight === 0 && this.queue.length === 0) this.drained?.();
  }

  onSent: ((key: string, nano: number) => void) | undefined;

  /** Queues spends and resolves once each was acknowledged or the connection closed. */
  sendAll(items: Array<{ key: string; nano: number }>): Promise<void> {
    this.queue.push(...items);
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    this.pump();
    return done;
  }

  /** Streams generated spends until the connection drops (or `stop` is called). */
  streamForever(gen: (n: number) => { key: string; nano: number }): void {
    let n = 0;
    const refill = (): void => {
      if (this.queue.length < WINDOW) for (let i = 0; i < WINDOW; i++) this.queue.push(gen(n++));
    };
    const inner = this.onSent;
    this.onSent = (key, nano) => {
      inner?.(key, nano);
      refill();
    };
    refill();
    this.pump();
  }

  close(): void {
    this.ws.terminate();
  }
}

function ledgerRows(stateDir: string): { rows: Map<string, number>; count: number; distinct: number; sum: number } {
  const db = new Database(join(stateDir, 'ledger.db'), { readonly: true });
  try {
    const all = db.prepare('SELECT key, cost_nano FROM usage').all() as Array<{ key: string; cost_nano: number }>;
    const count = Number(db.prepare('SELECT COUNT(*) FROM usage').pluck().get());
    const distinct = Number(db.prepare('SELECT COUNT(DISTINCT key) FROM usage').pluck().get());
    const sum = Number(db.prepare('SELECT COALESCE(SUM(cost_nano), 0) FROM usage').pluck().get());
    return { rows: new Map(all.map((r) => [r.key, r.cost_nano])), count, distinct, sum };
  } finally {
    db.close();
  }
}

const Spent = z.object({ spent: z.object({ cost_usd: z.number() }) });
const StatusJson = z.object({ scopes: z.object({ global: Spent, 'task:crash-t': Spent.optional() }) });

/** `spendguard status --json` run as a process: spent in nano-USD of the global scope and of the agents' task. */
async function statusNano(d: DaemonProcess): Promise<{ global: number; task: number | undefined }> {
  const { stdout } = await run(process.execPath, [BIN, 'status', '--json', '--url', d.url, '--state-dir', d.stateDir], { timeout: 20_000 });
  const status = StatusJson.parse(JSON.parse(stdout));
  const task = status.scopes['task:crash-t'];
  return { global: Math.round(status.scopes.global.spent.cost_usd * 1e9), task: task === undefined ? undefined : Math.round(task.spent.cost_usd * 1e9) };
}

async function waitClosed(streamers: readonly Streamer[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (streamers.some((s) => !s.closed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe('SIGKILL durability of keyed spends', () => {
  it(`loses no ack and double-counts nothing over ${CYCLES} kill/restart cycles with 20 streaming agents`, async () => {
    const stateDir = tempStateDir('sg-crash-');
    dirs.push(stateDir);
    writeConfig(stateDir, CONFIG);
    let daemon = await start(stateDir);
    /** every key ever sent, with its amount: after each resend, all of them are in the ledger */
    const everything = new Map<string, number>();
    const ackedEver = new Set<string>();

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      // 1. Stream keyed spends from 20 connections as fast as the daemon acknowledges them.
      const streamers = await Promise.all(Array.from({ length: AGENTS }, (_, i) => Streamer.connect(daemon, `crash-a${i}`)));
      const sent = streamers.map(() => new Map<string, number>());
      streamers.forEach((s, i) => {
        s.onSent = (key, nano) => {
          (sent[i] as Map<string, number>).set(key, nano);
          everything.set(key, nano);
        };
        s.streamForever((n) => ({ key: `c${cycle}-a${i}-${n}`, nano: amountNano(i, n) }));
      });
      await new Promise((r) => setTimeout(r, 1_000 + Math.floor(Math.random() * 500)));

      // 2. SIGKILL mid-stream.
      await daemon.kill9();
      await waitClosed(streamers, 5_000);
      expect(streamers.every((s) => s.closed)).toBe(true);
      const acked = new Set<string>();
      for (const [i, s] of streamers.entries()) {
        expect(s.problems, `agent ${i}`).toEqual([]);
        for (const [key, a] of s.acks) {
          // Keys are unique by construction: no first-time send may come back as a duplicate.
          expect(a.duplicate, key).toBe(false);
          expect(a.nano, key).toBe(everything.get(key));
          acked.add(key);
          ackedEver.add(key);
        }
      }
      const sentCount = sent.reduce((n, m) => n + m.size, 0);
      expect(acked.size, 'some spends were acknowledged before the kill').toBeGreaterThan(100);
      expect(sentCount, 'the kill landed mid-stream, with spends in flight').toBeGreaterThan(acked.size);

      // 3. Restart on the same state dir: every acknowledged key is there, exactly once.
      daemon = await start(stateDir);
      const before = ledgerRows(stateDir);
      expect(before.count).toBe(before.distinct);
      const missing = [...ackedEver].filter((k) => !before.rows.has(k));
      expect(missing, `cycle ${cycle}: acknowledged keys lost by SIGKILL`).toEqual([]);
      for (const [key, nano] of before.rows) expect(nano, key).toBe(everything.get(key));

      // 4. Every agent reconnects and resends everything it had sent, acked or not.
      const resenders = await Promise.all(Array.from({ length: AGENTS }, (_, i) => Streamer.connect(daemon, `crash-a${i}`)));
      await Promise.all(resenders.map((s, i) => s.sendAll([...(sent[i] as Map<string, number>)].map(([key, nano]) => ({ key, nano })))));
      for (const [i, s] of resenders.entries()) {
        expect(s.problems, `resender ${i}`).toEqual([]);
        expect(s.closed, `resender ${i} was disconnected`).toBe(false);
        const mine = sent[i] as Map<string, number>;
        expect(s.acks.size, `resender ${i}: every resent spend acknowledged`).toBe(mine.size);
        for (const [key, nano] of mine) {
          const a = s.acks.get(key);
          expect(a, key).toBeDefined();
          // Duplicate exactly when the first attempt reached the ledger (always so for acked keys).
          expect(a?.duplicate, key).toBe(before.rows.has(key));
          if (acked.has(key)) expect(a?.duplicate, key).toBe(true);
          expect(a?.nano, key).toBe(nano);
        }
        s.close();
      }

      // 5. The ledger holds each distinct key once, and totals agree to the nano-dollar.
      const after = ledgerRows(stateDir);
      expect(after.count).toBe(after.distinct);
      expect(after.count).toBe(everything.size);
      const expected = [...everything.values()].reduce((a, b) => a + b, 0);
      expect(after.sum).toBe(expected);
      // Soft: a mismatch here is reported, and the remaining cycles still check the ledger.
      const status = await statusNano(daemon);
      expect.soft(status.global, `cycle ${cycle}: status --json global spent (nano) vs ledger`).toBe(expected);
      expect.soft(status.task, `cycle ${cycle}: status --json task:crash-t spent (nano) vs ledger`).toBe(expected);
    }

    // One more restart without new traffic: the rebuilt counters still match the ledger.
    await daemon.kill9();
    daemon = await start(stateDir);
    const final = ledgerRows(stateDir);
    const status = await statusNano(daemon);
    expect.soft(status.global, 'after a quiet restart: status --json global spent (nano) vs ledger').toBe(final.sum);
    expect.soft(status.task, 'after a quiet restart: status --json task:crash-t spent (nano) vs ledger').toBe(final.sum);
    await daemon.stop();
  }, 60_000);

  it('refuses to start a second daemon on a state dir whose ledger another daemon holds', async () => {
    const stateDir = tempStateDir('sg-crash-lock-');
    dirs.push(stateDir);
    writeConfig(stateDir, CONFIG);
    const first = await start(stateDir);
    const endpointBefore = readFileSync(join(stateDir, 'daemon.json'), 'utf8');

    const second = spawn(process.execPath, [BIN, 'daemon', '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--config', join(stateDir, 'config.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    second.stdout.on('data', (d: Buffer) => (out += d.toString()));
    second.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => second.kill('SIGKILL'), 20_000);
      second.once('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    expect(code, out).toBe(1);
    expect(code, out).not.toBeNull();
    expect(out).toMatch(/another spendguard daemon/i);
    expect(out).toMatch(new RegExp(`pid ${first.child.pid}`));
    expect(out).toMatch(/ledger|lock/i);

    // The first daemon is untouched: same endpoint file, still healthy.
    expect(readFileSync(join(stateDir, 'daemon.json'), 'utf8')).toBe(endpointBefore);
    expect((await fetch(`${first.url.replace('ws://', 'http://')}/healthz`)).status).toBe(200);
    await first.stop();
  });
});
