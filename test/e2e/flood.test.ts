import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { RawAgent, REPO, ROOMY_LIMITS, startDaemonProcess, tempStateDir, waitFor, writeConfig, type DaemonProcess } from './daemon-process.js';

/**
 * Fair scheduling (issue: settling frames skipped the rate limit, so one connection pushed
 * ~45,000 spends/s and another agent's reserve went from 1 ms to a p99 of 412–626 ms). One
 * connection floods spends as fast as its socket lets it for 3 s; another agent's reserve keeps
 * its latency, and every spend the flooder sent is acknowledged afterwards, exactly once.
 */

/** Long enough for some 200 calm reserves: with 80, the "p99" of the claim was the slowest one. */
const FLOOD_MS = 6_000;
const CALM_GAP_MS = 5;
/** The flooder writes while its socket's own buffer is below this (it respects TCP, as a real client must). */
const CLIENT_BUFFER_BYTES = 1 << 20;
const SPEND_USD = 0.000_001;

let d: DaemonProcess;

beforeAll(async () => {
  const dir = tempStateDir('sg-flood-');
  d = await startDaemonProcess({ stateDir: dir, config: writeConfig(dir, ROOMY_LIMITS) });
}, 30_000);

afterAll(async () => {
  await d?.stop();
});

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/**
 * The flooder runs in its own process, so its busy loop cannot delay the calm agent's replies in
 * this one (which would measure the test, not the daemon). It writes while its socket's own buffer
 * is below 1 MiB — it respects TCP, as a real client must — then waits for every ack and reports.
 */
const FLOODER = `
import WebSocket from 'ws';
const [url, token, floodMs] = process.argv.slice(1);
const ws = new WebSocket(url + '/v1/agent', { headers: { authorization: 'Bearer ' + token } });
const acks = new Map();
let duplicates = 0, sent = 0, welcomed;
const welcome = new Promise((r) => (welcomed = r));
ws.on('message', (data) => {
  const f = JSON.parse(data.toString());
  if (f.type === 'welcome') return welcomed();
  if (f.type !== 'ack') return;
  acks.set(f.id, (acks.get(f.id) ?? 0) + 1);
  if (f.duplicate) duplicates += 1;
});
await new Promise((r) => ws.once('open', r));
ws.send(JSON.stringify({ type: 'hello', v: 1, user: 'u1', session: 's-flood', task: 't-flood', agent: 'flooder' }));
await welcome;
process.stdout.write('flooding\\n');
const end = Date.now() + Number(floodMs);
while (Date.now() < end) {
  while (ws.bufferedAmount < ${CLIENT_BUFFER_BYTES} && Date.now() < end) {
    ws.send(JSON.stringify({ type: 'spend', id: 's' + sent, key: 'k' + sent, cost_usd: ${SPEND_USD} }));
    sent += 1;
  }
  // Blocked on the socket: wait for it without spinning a core the daemon needs.
  await new Promise((r) => setTimeout(r, 1));
}
const deadline = Date.now() + 60000;
while (acks.size < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const once = [...acks.values()].every((n) => n === 1);
process.stdout.write(JSON.stringify({ sent, acked: acks.size, once, duplicates }) + '\\n');
ws.close();
`;

describe('one connection flooding spends', () => {
  it("leaves another agent's reserve p99 ≤ 100 ms, and every spend it sent is acknowledged once", async () => {
    const calm = await RawAgent.hello(d.url, d.agentToken, { user: 'u2', session: 's-calm', task: 't-calm', agent: 'calm' });
    const child = spawn(process.execPath, ['--input-type=module', '-e', FLOODER, d.url, d.agentToken, String(FLOOD_MS)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    await waitFor('the flooder to start', () => (out.includes('flooding') ? true : undefined), 10_000);

    const latencies: number[] = [];
    const until = Date.now() + FLOOD_MS - 100;
    for (let n = 0; Date.now() < until; n++) {
      const t0 = performance.now();
      const grant = await calm.request({ type: 'reserve', id: `r${n}`, cost_usd: 0.01 });
      latencies.push(performance.now() - t0);
      expect(grant).toMatchObject({ type: 'grant' });
      await calm.request({ type: 'release', id: `x${n}`, reservation: grant.reservation });
      await new Promise((r) => setTimeout(r, CALM_GAP_MS));
    }
    expect(await exited).toBe(0);
    const report = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { sent: number; acked: number; once: boolean; duplicates: number };
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = percentile(sorted, 0.99);
    console.log(`flood: ${report.sent} spends sent in ${FLOOD_MS} ms, ${report.acked} acked; calm reserve p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${sorted.length} (slowest ${sorted.slice(-5).map((x) => x.toFixed(0)).join(', ')} ms)`);

    // A p99 that is not the slowest sample: at least 200 (the slowest are the flood's first
    // burst, cold, and its end; they are printed above).
    expect(sorted.length).toBeGreaterThanOrEqual(200);
    expect(p99).toBeLessThanOrEqual(100);
    expect(report.sent).toBeGreaterThan(10_000);
    expect(report).toMatchObject({ acked: report.sent, once: true, duplicates: 0 });
    calm.close();
  }, 120_000);
});
