import { cpus } from 'node:os';
import { cpuMsOf } from '../proc.js';
import type { ThroughputRun } from '../throughput.js';

/**
 * CPU of a process measureOnce does not sample (redis-server): polled every `everyMs` with a
 * CLOCK_MONOTONIC timestamp, then cut to measureOnce's measured window (`windowUs`, same clock).
 */

export interface CpuSampler {
  /** % of one core over the part of `windowUs` covered by samples; null if not enough of them. */
  pctIn(windowUs: readonly [number, number]): number | null;
  stop(): void;
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export function sampleCpu(pid: number | undefined, everyMs = 100): CpuSampler {
  const samples: Array<readonly [number, number]> = [];
  const take = (): void => {
    const ms = cpuMsOf(pid);
    if (ms !== undefined) samples.push([nowUs(), ms]);
    if (samples.length > 100_000) samples.splice(0, 50_000); // bounded: a sampler left running long
  };
  take();
  const t = setInterval(take, everyMs);
  return {
    pctIn([us0, us1]) {
      const inside = samples.filter(([us]) => us >= us0 && us <= us1);
      const a = inside[0];
      const b = inside[inside.length - 1];
      if (a === undefined || b === undefined || b[0] - a[0] < 200_000) return null;
      return ((b[1] - a[1]) / ((b[0] - a[0]) / 1000)) * 100;
    },
    stop: () => clearInterval(t),
  };
}

/** CPU used on the machine by none of loadgen, server and backend, in % of one core; null if unknown. */
export function otherCpuPct(run: ThroughputRun, backendPct: number | null): number | null {
  if (run.machineCpuPct === null || run.serverCpuPct === null) return null;
  return Math.max(0, (run.machineCpuPct * cpus().length) - run.loadgenCpuPct - run.serverCpuPct - (backendPct ?? 0));
}
