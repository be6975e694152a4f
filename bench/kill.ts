import { performance } from 'node:perf_hooks';
import { BenchConn, pool } from './client.js';
import { percentile, sleep } from './proc.js';

/**
 * Kill-switch latency: `agents` connected agents (hello each), then the operator sends
 * `kill --all`; the latency of a run is from just before the operator's frame is written to
 * the moment the last agent's `kill` frame arrives (one clock: agents and operator live in this
 * process). After each kill every agent asks for a reservation, and none may be granted; then
 * `resume --all` and the next run reuses the same connections.
 */

export interface KillParams {
  readonly url: string;
  readonly agentToken: string;
  readonly operatorToken: string;
  readonly agents: number;
  readonly runs: number;
  /**
   * Kills before the measured runs, reported apart (`coldMs`): the first kill after start runs
   * code neither process has compiled yet, which is a start-up cost, not the switch's latency.
   */
  readonly warmupRuns?: number;
}

export interface KillResult {
  readonly agents: number;
  readonly runs: number;
  readonly connectSeconds: number;
  /** Per run: kill sent → last agent received its kill frame (ms). */
  readonly lastMs: readonly number[];
  readonly lastP50Ms: number;
  readonly lastP99Ms: number;
  readonly lastMaxMs: number;
  /** Over every (run, agent) delivery. */
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  /** Operator's own reply (`result`) to the kill, p50 over runs. */
  readonly operatorAckP50Ms: number;
  readonly grantsAfterKill: number;
  /** The warm-up kills (kill sent → last agent), the first one right after start. */
  readonly coldMs: readonly number[];
  readonly refusalsAfterKill: Readonly<Record<string, number>>;
}

export async function runKill(p: KillParams): Promise<KillResult> {
  const t0 = performance.now();
  const agents = await pool(
    Array.from({ length: p.agents }, (_, i) => i),
    100,
    (i) => BenchConn.agent(p.url, p.agentToken, { agent: `k-a${i}`, session: `k-s${i % 10}`, task: `k-t${i % 100}`, user: 'kill-bench' }),
  );
  const connectSeconds = (performance.now() - t0) / 1000;
  const operator = await BenchConn.open(p.url, p.operatorToken, '/v1/operator');
  const lastMs: number[] = [];
  const deliveries: number[] = [];
  const operatorAck: number[] = [];
  let grantsAfterKill = 0;
  const refusals: Record<string, number> = {};
  const warmup = p.warmupRuns ?? 0;
  const coldMs: number[] = [];
  try {
    for (let run = 0; run < warmup + p.runs; run++) {
      const measured = run >= warmup;
      const received = new Float64Array(p.agents);
      let count = 0;
      let allReceived: () => void = () => undefined;
      const everyone = new Promise<void>((r) => (allReceived = r));
      agents.forEach((a, i) => {
        a.onPush = (text) => {
          // Cheapest possible check: the pushed frame is the kill (no JSON.parse on the clock).
          if (received[i] === 0 && text.includes('"type":"kill"')) {
            received[i] = performance.now();
            if (++count === p.agents) allReceived();
          }
        };
      });
      const sent = performance.now();
      const ack = operator.request({ type: 'kill', id: `k${run}`, all: true, reason: 'bench' }).then((f) => {
        if (measured) operatorAck.push(performance.now() - sent);
        if (f.type !== 'result') throw new Error(`kill refused: ${JSON.stringify(f)}`);
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${count}/${p.agents} agents received the kill within 10 s`)), 10_000);
      });
      try {
        await Promise.race([Promise.all([everyone, ack]), timeout]);
      } finally {
        clearTimeout(timer);
      }
      let last = 0;
      for (const t of received) {
        if (measured) deliveries.push(t - sent);
        last = Math.max(last, t - sent);
      }
      (measured ? lastMs : coldMs).push(last);
      for (const a of agents) a.onPush = undefined;

      // Nothing is granted under a killed scope.
      const replies = await Promise.all(agents.map((a, i) => a.request({ type: 'reserve', id: `after-kill-${run}-${i}`, cost_usd: 0.001 })));
      for (const r of replies) {
        if (r.type === 'grant') grantsAfterKill += 1;
        else {
          const code = String(r.code);
          refusals[code] = (refusals[code] ?? 0) + 1;
        }
      }
      const resumed = await operator.request({ type: 'resume', id: `r${run}`, all: true });
      if (resumed.type !== 'result') throw new Error(`resume refused: ${JSON.stringify(resumed)}`);
      await sleep(100);
    }
  } finally {
    operator.close();
    for (const a of agents) a.close();
  }
  const sortedLast = [...lastMs].sort((a, b) => a - b);
  const sortedDeliveries = deliveries.sort((a, b) => a - b);
  return {
    agents: p.agents,
    runs: p.runs,
    connectSeconds,
    lastMs,
    lastP50Ms: percentile(sortedLast, 50),
    lastP99Ms: percentile(sortedLast, 99),
    lastMaxMs: percentile(sortedLast, 100),
    deliveryP50Ms: percentile(sortedDeliveries, 50),
    deliveryP99Ms: percentile(sortedDeliveries, 99),
    operatorAckP50Ms: percentile(
      [...operatorAck].sort((a, b) => a - b),
      50,
    ),
    grantsAfterKill,
    refusalsAfterKill: refusals,
    coldMs,
  };
}
