/** Messages between `bench/run.ts` and its child processes (load generator, peer servers). */

export interface PeerReady {
  readonly type: 'ready';
  readonly url: string;
}

export interface LoadParams {
  readonly type: 'load';
  /** Base ws:// URL; the load generator connects to `${url}/v1/agent`. */
  readonly url: string;
  readonly token: string;
  readonly connections: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Send a `hello` first and wait for `welcome` (the daemon); the echo peer needs none. */
  readonly hello: boolean;
  /** Agent names are `${agentPrefix}-a<n>` (unique per run against the same daemon). */
  readonly agentPrefix: string;
}

export interface LoadPhase {
  readonly type: 'phase';
  readonly phase: 'measure' | 'done';
}

export interface LoadResult {
  readonly type: 'result';
  readonly pairs: number;
  readonly seconds: number;
  readonly pairsPerSec: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Replies that were neither the expected grant/ack nor the echo (deny, error). */
  readonly unexpected: number;
  readonly unexpectedSamples: readonly string[];
  /** CPU the load generator itself used during the measured window, in % of one core. */
  readonly loadgenCpuPct: number;
  /** Latency of every measured pair (ms), for pooling several runs. */
  readonly samples: readonly number[];
}

function isObject(m: unknown): m is Record<string, unknown> {
  return typeof m === 'object' && m !== null;
}

export const isPeerReady = (m: unknown): m is PeerReady => isObject(m) && m.type === 'ready' && typeof m.url === 'string';
export const isLoadParams = (m: unknown): m is LoadParams => isObject(m) && m.type === 'load' && typeof m.url === 'string';
export const isLoadResult = (m: unknown): m is LoadResult => isObject(m) && m.type === 'result' && typeof m.pairs === 'number';
export const isPhase =
  (phase: LoadPhase['phase']) =>
  (m: unknown): m is LoadPhase =>
    isObject(m) && m.type === 'phase' && m.phase === phase;
