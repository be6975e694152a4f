import Database from 'better-sqlite3';
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SpendguardClient } from '../../shared/client/agent-client.js';
import { BIN, RawAgent, ROOMY_LIMITS, startDaemonProcess, waitFor, writeConfig, type DaemonProcess } from './daemon-process.js';

/**
 * Issue hole 7 against a real process on a real full disk: the state dir is a small tmpfs, filled
 * to the last byte for more than a minute while agents keep spending. The daemon must stay up and
 * fail closed (reserves denied UNAVAILABLE, no ack for usage it cannot record, 503 on /healthz,
 * the ledger's state in `status`), then resume when space returns with every acknowledged key
 * in the ledger exactly once — and again after a SIGKILL and a restart.
 */

const CONFIG = ROOMY_LIMITS;

const AGENTS = 8;
/** Each agent spends about every SPEND_EVERY_MS and reserves + commits every RESERVE_EVERY spends. */
const SPEND_EVERY_MS = 20;
const RESERVE_EVERY = 5;
const FULL_FOR_MS = 65_000;

const run = promisify(execFile);
const cleanups: Array<() => Promise<void> | void> = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch (e) {
      console.error('disk-full cleanup:', e);
    }
  }
});

/** An amount in whole nano-USD that survives the dollars-as-JSON-number round trip exactly. */
function amountNano(agent: number, n: number): number {
  const nano = 1_234_567 + ((agent * 7_919 + n * 104_729) % 5_000_000);
  if (Math.round((nano / 1e9) * 1e9) !== nano) throw new Error(`amount ${nano} does not round-trip`);
  return nano;
}

/** Writes zeros into `path` until the filesystem says ENOSPC; returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'a');
  let bytes = 0;
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          bytes += writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

const Ledger = z.object({ writable: z.boolean(), error: z.string().nullable(), since_ms: z.number().nullable() });
const Status = z.object({ ledger: Ledger, scopes: z.object({ global: z.object({ spent: z.object({ cost_usd: z.number() }) }) }) });

async function status(d: DaemonProcess): Promise<z.infer<typeof Status>> {
  const { stdout } = await run(process.execPath, [BIN, 'status', '--json', '--url', d.url, '--state-dir', d.stateDir], { timeout: 20_000 });
  return Status.parse(JSON.parse(stdout));
}

async function statusLine(d: DaemonProcess): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'status', '--line', '--url', d.url, '--state-dir', d.stateDir], { timeout: 20_000 });
  return stdout.trim();
}

async function metric(d: DaemonProcess, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${d.url.replace('ws://', 'http://')}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function health(d: DaemonProcess): Promise<{ status: number; body: string }> {
  const r = await fetch(`${d.url.replace('ws://', 'http://')}/healthz`);
  return { status: r.status, body: await r.text() };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Every key a load agent sent, its amount, and when (if) it was acknowledged. */
class Book {
  readonly issued = new Map<string, { nano: number; acked_ms: number | null }>();
  readonly denials = new Map<string, number>();
  readonly problems: string[] = [];

  issue(key: string, nano: number, ack: Promise<unknown>): void {
    this.issued.set(key, { nano, acked_ms: null });
    ack.then(
      () => {
        const e = this.issued.get(key);
        if (e && e.acked_ms === null) e.acked_ms = Date.now();
      },
      (err: unknown) => this.problems.push(`${key}: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  ackedBetween(from_ms: number, to_ms: number): number {
    let n = 0;
    for (const e of this.issued.values()) if (e.acked_ms !== null && e.acked_ms >= from_ms && e.acked_ms < to_ms) n += 1;
    return n;
  }

  get unacked(): number {
    let n = 0;
    for (const e of this.issued.values()) if (e.acked_ms === null) n += 1;
    return n;
  }
}

/** One agent: keyed spends at a steady pace, and now and then a reserve and its commit. */
async function loadAgent(client: SpendguardClient, agent: number, book: Book, running: () => boolean): Promise<void> {
  for (let n = 1; running(); n++) {
    const nano = amountNano(agent, n);
    const key = `df-${agent}-${n}`;
    book.issue(key, nano, client.spend({ key, cost_usd: nano / 1e9 }));
    if (n % RESERVE_EVERY === 0) {
      try {
        const r = await client.reserve({ cost_usd: 0.01 });
        if (r.kind === 'grant') {
          const ckey = `dfc-${agent}-${n}`;
          book.issue(ckey, nano, client.commit({ reservation: r.grant.reservation, key: ckey, input_tokens: 0, output_tokens: 0, cost_usd: nano / 1e9 }));
        } else {
          book.denials.set(r.deny.code, (book.denials.get(r.deny.code) ?? 0) + 1);
        }
      } catch (e) {
        // Disconnected (closed 1013 past the backlog bound) and fail mode closed: refused locally.
        const name = e instanceof Error ? e.name : 'error';
        book.denials.set(name, (book.denials.get(name) ?? 0) + 1);
      }
    }
    await new Promise((r) => setTimeout(r, SPEND_EVERY_MS));
  }
}

/** Keys and amounts in the ledger file, read directly (the WAL included). */
function ledgerRows(stateDir: string): Map<string, number> {
  const db = new Database(join(stateDir, 'ledger.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT key, cost_nano FROM usage').all() as Array<{ key: string; cost_nano: number }>;
    const out = new Map<string, number>();
    for (const r of rows) {
      if (out.has(r.key)) throw new Error(`key ${r.key} twice in the ledger`);
      out.set(r.key, r.cost_nano);
    }
    return out;
  } finally {
    db.close();
  }
}

describe('a full disk under the ledger (issue hole 7)', () => {
  it('fails closed while the disk is full, stays up, and resumes with nothing lost or doubled', { timeout: 240_000 }, async () => {
    // CI runs as root; without root there is no tmpfs to fill, and skipping would hide the hole.
    expect(process.getuid?.(), 'this test mounts a tmpfs and must run as root').toBe(0);
    const configDir = mkdtempSync(join(tmpdir(), 'sg-diskfull-cfg-'));
    cleanups.push(() => rmSync(configDir, { recursive: true, force: true }));
    const stateDir = mkdtempSync(join(tmpdir(), 'sg-diskfull-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=0700', 'tmpfs', stateDir]);
    cleanups.push(() => {
      execFileSync('umount', ['-l', stateDir]);
      rmSync(stateDir, { recursive: true, force: true });
    });
    const config = writeConfig(configDir, CONFIG);
    const filler = join(stateDir, 'filler');

    let d = await startDaemonProcess({ stateDir, config });
    const daemons = [d];
    cleanups.push(async () => {
      for (const x of daemons) await x.kill9();
    });

    const book = new Book();
    const clients: SpendguardClient[] = [];
    cleanups.push(async () => {
      for (const c of clients) await c.close().catch(() => undefined);
    });
    let loading = true;
    const loops: Array<Promise<void>> = [];
    for (let i = 0; i < AGENTS; i++) {
      const client = new SpendguardClient({
        url: d.url,
        token: d.agentToken,
        hello: { agent: `df-${i}`, session: 'df-s', task: 'df-t' },
        // The daemon holds acks for as long as the disk is full: nothing here may time out.
        requestTimeoutMs: 600_000,
        outboxLimit: 100_000,
        closeDrainMs: 0,
      });
      await client.connect();
      clients.push(client);
      loops.push(loadAgent(client, i, book, () => loading));
    }
    const probe = await RawAgent.hello(d.url, d.agentToken, { agent: 'df-probe', session: 'df-s', task: 'df-t' });
    cleanups.push(() => probe.close());

    // Healthy first: acks flow.
    await waitFor('acks before the disk fills', () => (book.issued.size - book.unacked > 200 ? true : undefined), 20_000);
    expect((await health(d)).status).toBe(200);
    expect(await metric(d, 'spendguard_ledger_writable')).toBe(1);

    // Fill the disk and keep it full.
    const filled = fill(filler);
    const fullSince = Date.now();
    const flipped = await waitFor('status --json to show the ledger unwritable', async () => ((await status(d)).ledger.writable ? undefined : true), 30_000, d.logs);
    expect(flipped).toBe(true);
    // Acks of batches written before the disk filled may still be in flight for a moment.
    await new Promise((r) => setTimeout(r, 1_000));
    const quietFrom = Date.now();

    const s = await status(d);
    expect(s.ledger.writable).toBe(false);
    expect(s.ledger.error).toMatch(/full|space/i);
    expect(s.ledger.since_ms).not.toBeNull();
    const h = await health(d);
    expect(h.status).toBe(503);
    expect(h.body).toMatch(/ledger/);
    expect(await statusLine(d)).toMatch(/LEDGER UNAVAILABLE$/);
    expect(await metric(d, 'spendguard_ledger_writable')).toBe(0);
    expect(await metric(d, 'spendguard_ledger_write_failures_total')).toBeGreaterThan(0);
    expect(await metric(d, 'spendguard_alerts_total{kind="ledger",level="critical"}')).toBe(1);
    expect(d.logs()).toMatch(/"alert":"ledger"/);
    const deny = await probe.request({ type: 'reserve', id: 'probe-1', cost_usd: 0.01 });
    expect(deny).toMatchObject({ type: 'deny', code: 'UNAVAILABLE' });
    expect(String(deny.message)).toMatch(/ledger/);
    const pong = await probe.request({ type: 'ping', id: 'probe-ping' }, 2_000);
    expect(pong.type).toBe('pong');

    let peakRss = 0;
    let peakHeld = 0;
    while (Date.now() - fullSince < FULL_FOR_MS) {
      fill(filler); // anything the daemon freed is taken again
      expect(d.child.exitCode, `daemon exited on a full disk:\n${d.logs().slice(-3_000)}`).toBeNull();
      expect(d.child.signalCode).toBeNull();
      peakRss = Math.max(peakRss, rssMb(d.child.pid ?? 0));
      peakHeld = Math.max(peakHeld, (await metric(d, 'spendguard_ledger_held_rows')) ?? 0);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const quietTo = Date.now();
    expect(book.ackedBetween(quietFrom, quietTo), 'no commit or spend may be acknowledged while its row cannot be written').toBe(0);
    expect((await status(d)).ledger.writable).toBe(false);
    expect(peakHeld).toBeLessThanOrEqual(20_000);
    const refused = (await metric(d, 'spendguard_ledger_settles_refused_total')) ?? 0;

    // Space returns: everything resumes.
    unlinkSync(filler);
    await waitFor('the ledger writable again', async () => ((await status(d)).ledger.writable ? true : undefined), 30_000, d.logs);
    expect((await health(d)).status).toBe(200);
    expect((await probe.request({ type: 'reserve', id: 'probe-2', cost_usd: 0.01 })).type).toBe('grant');
    loading = false;
    await Promise.all(loops);
    await waitFor(`every key acknowledged (${book.unacked} left)`, () => (book.unacked === 0 ? true : undefined), 90_000, () => `${book.problems.slice(0, 5).join('\n')}\n${d.logs().slice(-2_000)}`);
    expect(book.problems).toEqual([]);
    expect(book.denials.get('UNAVAILABLE') ?? 0).toBeGreaterThan(0);

    const expected = new Map([...book.issued].map(([k, e]) => [k, e.nano]));
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const check = async (label: string): Promise<void> => {
      const rows = ledgerRows(stateDir);
      const ours = new Map([...rows].filter(([k]) => k.startsWith('df')));
      expect(ours.size, label).toBe(expected.size);
      for (const [k, nano] of expected) expect(ours.get(k), `${label}: ${k}`).toBe(nano);
      const ledgerTotal = [...rows.values()].reduce((a, b) => a + b, 0);
      expect(Math.round((await status(d)).scopes.global.spent.cost_usd * 1e9), label).toBe(ledgerTotal);
    };
    await check('after the disk came back');

    // SIGKILL and restart on the same state dir: the same sums.
    for (const c of clients) await c.close();
    probe.close();
    await d.kill9();
    d = await startDaemonProcess({ stateDir, config });
    daemons.push(d);
    await check('after SIGKILL and restart');
    const ledgerTotal = [...ledgerRows(stateDir).values()].reduce((a, b) => a + b, 0);
    console.log(
      `disk-full: filled ${(filled / 2 ** 20).toFixed(1)} MiB; full for ${Math.round((quietTo - fullSince) / 1000)} s; ${expected.size} keys, ` +
        `$${(total / 1e9).toFixed(6)} acknowledged = ledger $${(ledgerTotal / 1e9).toFixed(6)}; peak RSS ${peakRss.toFixed(0)} MB; ` +
        `peak held rows ${peakHeld}; settles refused past the bound ${refused}; client-side denials ${JSON.stringify(Object.fromEntries(book.denials))}`,
    );
  });
});
