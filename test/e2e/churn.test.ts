import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, RawAgent, startDaemonProcess, type DaemonProcess } from './daemon-process.js';

/**
 * Scope churn, as a fleet of short-lived tasks produces it: 50,000 tasks come and go. Idle scopes
 * leave memory within a minute (their counters stay in the ledger and come back on demand);
 * `status --json` and the live feed keep working throughout.
 */

const run = promisify(execFile);
const IDLE_WAIT_MS = 100_000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]) / 1024;
}

async function churn(d: DaemonProcess, from: number, count: number, parallel: number): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < from + count) {
      const i = next++;
      const a = await RawAgent.hello(d.url, d.agentToken, { agent: `a${i}`, session: `s${i % 50}`, task: `t${i}` });
      const ack = await a.request({ type: 'spend', id: 's', key: `churn-${i}`, cost_usd: 0.0001 });
      if (ack.type !== 'ack') throw new Error(JSON.stringify(ack));
      a.send({ type: 'bye' });
      await new Promise<void>((r) => (a.closed ? r() : a.ws.once('close', () => r())));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

async function statusJson(d: DaemonProcess): Promise<{ scopes: Record<string, { spent: { cost_usd: number } }>; scopes_total?: number }> {
  const { stdout } = await run(process.execPath, [BIN, 'status', '--json', '--state-dir', d.stateDir], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as { scopes: Record<string, { spent: { cost_usd: number } }>; scopes_total?: number };
}

let daemon: DaemonProcess | undefined;
afterAll(async () => {
  await daemon?.kill9();
});

describe('scope churn', () => {
  it('50,000 short-lived tasks leave RSS within 60 MB of where 1,000 left it once idle; status and the feed keep working', async () => {
    daemon = await startDaemonProcess();
    const d = daemon;
    const pid = d.child.pid as number;
    const operator = await RawAgent.open(d.url, d.operatorToken, '/v1/operator');
    operator.send({ type: 'subscribe', id: 'sub' });
    await operator.next((f) => f.type === 'feed');

    await churn(d, 0, 1_000, 20);
    await new Promise((r) => setTimeout(r, IDLE_WAIT_MS));
    const after1k = rssMb(pid);

    await churn(d, 1_000, 50_000, 32);
    const busy = await statusJson(d);
    expect(busy.scopes.global?.spent.cost_usd).toBeCloseTo(51_000 * 0.0001, 6);
    await new Promise((r) => setTimeout(r, IDLE_WAIT_MS));
    const after50k = rssMb(pid);
    const idle = await statusJson(d);
    process.stdout.write(`[churn] RSS idle after 1,000 tasks ${after1k.toFixed(1)} MB, after 51,000 ${after50k.toFixed(1)} MB; scopes in memory ${idle.scopes_total}\n`);
    expect(idle.scopes_total ?? Infinity).toBeLessThan(1_000);
    expect(after50k - after1k).toBeLessThan(60);
    expect(idle.scopes.global?.spent.cost_usd).toBeCloseTo(51_000 * 0.0001, 6);
    // The feed never cut the operator off, and it still answers.
    expect(operator.closed).toBe(false);
    const seen = operator.frames.length;
    await operator.next((f) => f.type === 'feed' && operator.frames.indexOf(f) >= seen, 5_000);
    // A task that left memory comes back with its spend: the ledger is the source.
    const again = await RawAgent.hello(d.url, d.agentToken, { agent: 'a7', session: 's7', task: 't7' });
    expect(((await again.request({ type: 'spend', id: 'x', key: 'again-7', cost_usd: 0.0001 })) as { over?: boolean }).over).toBe(false);
    const back = await statusJson(d);
    expect(back.scopes['task:t7']?.spent.cost_usd).toBeCloseTo(0.0002, 9);
    again.close();
    operator.close();
  }, 600_000);
});
