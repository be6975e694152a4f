import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isLoadResult, isPhase, type LoadParams, type LoadResult } from './ipc.js';
import { cpuMsOf, forkTs, nextMessage, percentile } from './proc.js';
import { meanStages, perPair, readStages, type StageSeconds } from './stages.js';

/** One measured run of the load generator against one server, with CPU figures. */
export type ThroughputRun = Omit<LoadResult, 'type' | 'samples'> & {
  /** CPU the server process used during the measured window, % of one core (Linux /proc). */
  readonly serverCpuPct: number | null;
  /** Whole machine busy during the measured window, % of all cores (Linux /proc/stat). */
  readonly machineCpuPct: number | null;
  /** The daemon's own time per pair by stage (µs), from its /metrics; absent for other servers. */
  readonly stagesUs?: StageSeconds | null;
};

/** Aggregate CPU counters of the machine (jiffies): busy and total. */
export function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Drives `url` with the load generator in its own process; samples CPU meanwhile. */
export async function measureOnce(
  params: Omit<LoadParams, 'type'>,
  serverPid: number | undefined,
  /** The daemon's /metrics, to read its per-stage time over the window. */
  metricsUrl?: string,
): Promise<{ run: ThroughputRun; samples: readonly number[]; windowUs: readonly [number, number] }> {
  const gen = forkTs('loadgen.ts', ['--child']);
  const measuring = nextMessage(gen, isPhase('measure'));
  const done = nextMessage(gen, isPhase('done'));
  const result = nextMessage(gen, isLoadResult, params.warmupMs + params.measureMs + 60_000);
  // If the child dies, all three reject; whichever is not being awaited yet must not go unhandled.
  for (const p of [measuring, done, result]) p.catch(() => undefined);
  gen.send({ type: 'load', ...params } satisfies LoadParams);
  await measuring;
  const stages0 = metricsUrl === undefined ? null : await readStages(metricsUrl);
  const cpu0 = cpuMsOf(serverPid);
  const m0 = machineTicks();
  const t0 = performance.now();
  // CLOCK_MONOTONIC in µs: the clock of V8's .cpuprofile timestamps, to cut a profile to this window.
  const us0 = Number(process.hrtime.bigint() / 1000n);
  await done;
  const us1 = Number(process.hrtime.bigint() / 1000n);
  const cpu1 = cpuMsOf(serverPid);
  const m1 = machineTicks();
  const wall = performance.now() - t0;
  const stages1 = metricsUrl === undefined ? null : await readStages(metricsUrl);
  const r: LoadResult = await result;
  const { samples, type: _type, ...rest } = r;
  return {
    run: {
      ...rest,
      serverCpuPct: cpu0 !== undefined && cpu1 !== undefined ? ((cpu1 - cpu0) / wall) * 100 : null,
      machineCpuPct: m0 && m1 && m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 : null,
      ...(metricsUrl === undefined ? {} : { stagesUs: perPair(stages0, stages1, r.pairs) }),
    },
    samples,
    windowUs: [us0, us1],
  };
}

/** Pools several runs: pairs over total measured time, percentiles over all pooled samples. */
export function combine(runs: ReadonlyArray<{ run: ThroughputRun; samples: readonly number[] }>): ThroughputRun {
  const all = Float64Array.from(runs.flatMap((r) => r.samples)).sort();
  const pairs = runs.reduce((s, r) => s + r.run.pairs, 0);
  const seconds = runs.reduce((s, r) => s + r.run.seconds, 0);
  const mean = (f: (r: ThroughputRun) => number | null): number | null => {
    const v = runs.map((r) => f(r.run)).filter((x): x is number => x !== null);
    return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
  };
  return {
    pairs,
    seconds,
    pairsPerSec: pairs / seconds,
    p50Ms: percentile(all, 50),
    p90Ms: percentile(all, 90),
    p99Ms: percentile(all, 99),
    maxMs: percentile(all, 100),
    unexpected: runs.reduce((s, r) => s + r.run.unexpected, 0),
    unexpectedSamples: runs.flatMap((r) => r.run.unexpectedSamples).slice(0, 5),
    loadgenCpuPct: mean((r) => r.loadgenCpuPct) ?? Number.NaN,
    serverCpuPct: mean((r) => r.serverCpuPct),
    machineCpuPct: mean((r) => r.machineCpuPct),
    ...(runs.some((r) => r.run.stagesUs !== undefined) ? { stagesUs: meanStages(runs.map((r) => ({ pairs: r.run.pairs, stages: r.run.stagesUs }))) } : {}),
  };
}

/** How busy the machine is before the bench starts anything (% of all cores over `ms`). */
export async function backgroundLoad(ms = 1_000): Promise<number | null> {
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineTicks();
  return a && b && b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * 100 : null;
}
