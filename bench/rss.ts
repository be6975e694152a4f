import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BenchConn, pool } from './client.js';
import { startBenchDaemon } from './daemon.js';

/**
 * SPEC §10: daemon RSS with 10,000 agents connected. The agents (each its own WebSocket and
 * `hello`, spread over 100 tasks) live in this process; the daemon's VmRSS is read from /proc
 * before they connect, once all are connected, and after each has made one reservation.
 */

export interface RssResult {
  readonly agents: number;
  readonly connectSeconds: number;
  readonly idleRssMb: number;
  readonly connectedRssMb: number;
  readonly afterReserveRssMb: number;
  readonly goalMb: number;
  readonly ok: boolean;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export async function runRss(opts: { agents: number; goalMb: number }): Promise<RssResult> {
  const d = await startBenchDaemon('limits:\n  global: { cost_usd: 1000000 }\n  session: { cost_usd: 1000000, mode: hard }\n  task: { cost_usd: 1000000 }\n');
  const pid = d.child.pid;
  if (pid === undefined) throw new Error('daemon has no pid');
  const conns: BenchConn[] = [];
  try {
    const idleRssMb = rssMb(pid);
    const t0 = performance.now();
    conns.push(
      ...(await pool(
        Array.from({ length: opts.agents }, (_, i) => i),
        200,
        (i) => BenchConn.agent(d.url, d.agentToken, { agent: `rss-a${i}`, session: `rss-s${i % 10}`, task: `rss-t${i % 100}` }),
      )),
    );
    const connectSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1_000));
    const connectedRssMb = rssMb(pid);
    await pool(conns, 200, (c, i) => c.request({ type: 'reserve', id: `r${i}`, cost_usd: 0.001 }));
    await new Promise((r) => setTimeout(r, 1_000));
    const afterReserveRssMb = rssMb(pid);
    return { agents: opts.agents, connectSeconds, idleRssMb, connectedRssMb, afterReserveRssMb, goalMb: opts.goalMb, ok: Math.max(connectedRssMb, afterReserveRssMb) <= opts.goalMb };
  } finally {
    for (const c of conns) c.close();
    await d.stop();
  }
}

export function formatRss(r: RssResult): string {
  const f = (n: number): string => n.toFixed(0);
  return [
    `Daemon memory with ${r.agents.toLocaleString('en-US')} agents connected (connected in ${r.connectSeconds.toFixed(1)} s)`,
    `  RSS idle ${f(r.idleRssMb)} MB, all connected ${f(r.connectedRssMb)} MB, after one reservation each ${f(r.afterReserveRssMb)} MB (goal ≤ ${r.goalMb} MB): ${r.ok ? 'PASS' : 'FAIL'}`,
  ].join('\n');
}
