import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { isLoadParams, type LoadParams, type LoadPhase, type LoadResult } from './ipc.js';

/**
 * The load generator, run as its own child process so that it has a core to itself and the
 * server under test (daemon or echo) has the other. The same code drives both servers:
 * `connections` sockets, each a closed loop of pairs — send a reserve frame, wait for its reply,
 * send a commit frame, wait for its reply — so one pair is two round trips. Against the daemon
 * the replies are grant and ack; against the echo server they are the frames themselves. Both
 * sides pay the same client work (one JSON.parse per reply, one template string per request).
 *
 * Pairs that complete inside the measured window (after the warm-up) are counted, and their
 * latency (reserve sent → commit reply received) recorded.
 */

class Samples {
  private buf = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.length).sort();
  }
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

interface Reply {
  type?: string;
  reservation?: string;
  code?: string;
}

export async function runLoad(p: LoadParams, onPhase: (phase: LoadPhase['phase']) => void): Promise<LoadResult> {
  const samples = new Samples();
  let measuring = false;
  let running = true;
  let t0 = 0;
  let t1 = 0;
  let pairs = 0;
  let unexpected = 0;
  const unexpectedSamples: string[] = [];

  const sockets: WebSocket[] = [];
  const ready: Array<Promise<void>> = [];
  for (let c = 0; c < p.connections; c++) {
    const ws = new WebSocket(`${p.url}/v1/agent`, { headers: { authorization: `Bearer ${p.token}` }, perMessageDeflate: false });
    sockets.push(ws);
    ready.push(
      new Promise<void>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        ws.once('open', () => {
          if (!p.hello) return resolve();
          ws.once('message', (data) => {
            const f = JSON.parse(data.toString()) as Reply;
            if (f.type === 'welcome') resolve();
            else reject(new Error(`hello refused: ${data.toString()}`));
          });
          ws.send(JSON.stringify({ type: 'hello', v: 1, agent: `${p.agentPrefix}-a${c}`, session: 'bench-s', task: `bench-t${c}`, user: 'bench' }));
        });
      }),
    );
  }
  await Promise.all(ready);

  const loops = sockets.map((ws, c) => {
    let n = 0;
    let phase: 'reserve' | 'commit' = 'reserve';
    let started = 0;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    const sendReserve = (): void => {
      if (!running) {
        resolveDone();
        return;
      }
      n += 1;
      phase = 'reserve';
      started = performance.now();
      ws.send(`{"type":"reserve","id":"r${c}-${n}","cost_usd":0.001}`);
    };
    const fail = (data: string): void => {
      unexpected += 1;
      if (unexpectedSamples.length < 5) unexpectedSamples.push(data.slice(0, 300));
      // Do not spin on a refusing server: retry the pair a little later.
      setTimeout(sendReserve, 10);
    };
    ws.on('message', (data) => {
      const text = data.toString();
      const f = JSON.parse(text) as Reply;
      if (phase === 'reserve') {
        if (f.type !== 'grant' && f.type !== 'reserve') return fail(text);
        const reservation = f.reservation ?? `r1-${c}${n}`;
        phase = 'commit';
        ws.send(`{"type":"commit","id":"c${c}-${n}","reservation":"${reservation}","input_tokens":10,"output_tokens":5,"cost_usd":0.0005}`);
        return;
      }
      if (f.type !== 'ack' && f.type !== 'commit') return fail(text);
      const end = performance.now();
      if (measuring && end <= t1) {
        pairs += 1;
        samples.push(end - started);
      }
      sendReserve();
    });
    ws.on('close', () => resolveDone());
    sendReserve();
    return done;
  });

  await new Promise((r) => setTimeout(r, p.warmupMs));
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  t1 = t0 + p.measureMs;
  measuring = true;
  onPhase('measure');
  await new Promise((r) => setTimeout(r, p.measureMs));
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  measuring = false;
  running = false;
  onPhase('done');
  // Let the pairs in flight finish, then close.
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 3_000))]);
  for (const ws of sockets) ws.terminate();

  const sorted = samples.sorted();
  return {
    type: 'result',
    pairs,
    seconds: p.measureMs / 1000,
    pairsPerSec: pairs / (p.measureMs / 1000),
    p50Ms: pct(sorted, 50),
    p90Ms: pct(sorted, 90),
    p99Ms: pct(sorted, 99),
    maxMs: pct(sorted, 100),
    unexpected,
    unexpectedSamples,
    loadgenCpuPct: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
    samples: Array.from(sorted, (v) => Math.round(v * 1000) / 1000),
  };
}

// Child-process entry: wait for the parameters, run, report, exit.
if (process.send !== undefined && process.argv.includes('--child')) {
  process.on('disconnect', () => process.exit(0));
  process.once('message', (m: unknown) => {
    if (!isLoadParams(m)) {
      console.error('loadgen: bad parameters', m);
      process.exit(2);
    }
    runLoad(m, (phase) => process.send?.({ type: 'phase', phase } satisfies LoadPhase))
      .then((r) => process.send?.(r, () => process.exit(0)))
      .catch((e: unknown) => {
        console.error('loadgen failed:', e);
        process.exit(1);
      });
  });
}
