import { performance } from 'node:perf_hooks';
import { runFanout, type FanoutResult } from '../fanout.js';
import { combine, measureOnce, type ThroughputRun } from '../throughput.js';
import { otherCpuPct, sampleCpu } from './cpu.js';
import { NOISY_PCT, waitIdle } from './noise.js';
import { findRedisServer, redisVersion, startRedis, type Fsync, type RedisServer } from './redis-server.js';
import { hasCap, LABELS, startTarget, TARGETS, type Limits, type Target, type TargetName } from './targets.js';
import { runTokenShare, type TokenShareResult } from './token-share.js';

/**
 * `npm run bench -- --only peers`: spendguard side by side with the servers it is compared with
 * (bench/peers/targets.ts), one load generator for all, in one run.
 *
 * 1. Throughput: every target is started (each its own process), then `rounds` rounds; in each
 *    round every target in turn gets the throughput load generator (bench/throughput.ts
 *    `measureOnce`: 50 connections, closed loop of reserve→grant + commit→ack), the order rotated
 *    each round so that drift on the machine falls on all of them alike.
 * 2. Caps, for the targets that have one, each started afresh with a $1 and a 100,000-token task
 *    cap: the fan-out race (bench/fanout.ts `runFanout`) and the token-cap share
 *    (bench/peers/token-share.ts).
 *
 * Options: --peer-rounds N  --peer-measure S (measured per target, split over the rounds)
 * --peer-warmup S (first round)  --peer-trials N (fan-out)  --peer-token-trials N
 * --peer-attempts N (at most N measurements of a target per round, default 3; at most half as many
 * repeats as measurements in all)  --peer-idle-wait S (budget for waiting until the machine is idle, default 60).
 */

export interface PeerRow {
  readonly name: TargetName;
  readonly label: string;
  readonly throughput: ThroughputRun;
  /** redis-server's CPU, mean over the rounds, % of one core; null for the others. */
  readonly backendCpuPct: number | null;
  /** pairs/s over the echo's; p99 over the echo's. */
  readonly pairsRatio: number;
  readonly p99Ratio: number;
  /** null: the target has no cap, nothing to race. */
  readonly fanout: FanoutResult | null;
  readonly tokenShare: TokenShareResult | null;
}

export interface RoundFigures {
  readonly pairsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** redis-server's CPU over the measured window, % of one core (null: no such process). */
  readonly backendCpuPct: number | null;
  /** CPU on the machine used by none of the load generator, server and redis-server (noise), % of one core. */
  readonly otherCpuPct: number | null;
  /** Measurements taken: more than 1 when other work disturbed the earlier ones (see noise.ts). */
  readonly attempts: number;
}

export interface PeersResult {
  readonly settings: Readonly<Record<string, number | string>>;
  /** redis-server's version, or null when it was not found (the Redis targets are then left out). */
  readonly redisVersion: string | null;
  readonly rows: readonly PeerRow[];
  /** Every round, per target: the round's own figures. */
  readonly rounds: ReadonlyArray<Partial<Record<TargetName, RoundFigures>>>;
  readonly seconds: number;
}

function settingsFrom(argv: readonly string[]) {
  const opt = (name: string, dflt: number): number => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(argv[i + 1]) : dflt;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
    return v;
  };
  return {
    connections: 50,
    rounds: opt('peer-rounds', 4),
    measureS: opt('peer-measure', 4),
    warmupS: opt('peer-warmup', 1.5),
    rewarmS: 0.5,
    attempts: Math.floor(opt('peer-attempts', 3)),
    idleWaitS: opt('peer-idle-wait', 60),
    fanoutTrials: opt('peer-trials', 20),
    fanoutAgents: 50,
    fanoutCostUsd: 0.03,
    fanoutCapUsd: 1,
    fanoutParallel: 10,
    fanoutBudgetS: 30,
    tokenTrials: opt('peer-token-trials', 20),
    tokenAgents: 10,
    tokenCap: 100_000,
    tokenInput: 1_000,
    tokenMaxOutput: 2_000,
    tokenOutputMin: 100,
    tokenOutputMax: 1_000,
  };
}
type Settings = ReturnType<typeof settingsFrom>;

const TOKEN_MODEL = 'bench-model';

/** The caps phase's daemon: the fan-out config of bench/run.ts plus a token cap, and a price for the model. */
const capsConfig = (s: Settings): string => `
limits:
  task: { cost_usd: ${s.fanoutCapUsd}, tokens: ${s.tokenCap}, mode: hard }
detectors:
  concurrency: { agent: 8, task: 64 }
pricing:
  models:
    ${TOKEN_MODEL}: { input: 1, output: 4 }
`;

async function stopAll(targets: readonly Target[]): Promise<void> {
  for (const t of targets) await t.stop();
}

const pctS = (v: number | null): string => (v === null ? '—' : `${v.toFixed(0)}%`);

/**
 * One measurement of `t`, taken again (`s.attempts` in all at most) while other work disturbs it;
 * the least disturbed one is kept.
 */
async function measureTarget(t: Target, s: Settings, round: number, warmupMs: number, budget: { ms: number; retries: number }, log: (m: string) => void) {
  let best: { m: Awaited<ReturnType<typeof measureOnce>>; figures: RoundFigures } | undefined;
  for (let attempt = 1; ; attempt++) {
    await waitIdle(budget);
    const sampler = t.backendPid === undefined ? undefined : sampleCpu(t.backendPid);
    const m = await measureOnce(
      { url: t.url, token: t.token, hello: t.hello, agentPrefix: `p${round}x${attempt}`, connections: s.connections, warmupMs, measureMs: (s.measureS * 1000) / s.rounds },
      t.pid,
    );
    sampler?.stop();
    const backendCpuPct = sampler?.pctIn(m.windowUs) ?? null;
    const other = otherCpuPct(m.run, backendCpuPct);
    const noisy = other !== null && other > NOISY_PCT;
    log(
      `  round ${round} ${t.name.padEnd(14)} ${Math.round(m.run.pairsPerSec)} pairs/s, p99 ${m.run.p99Ms.toFixed(2)} ms; CPU loadgen ${pctS(m.run.loadgenCpuPct)} server ${pctS(m.run.serverCpuPct)}${backendCpuPct === null ? '' : ` redis ${pctS(backendCpuPct)}`} other ${pctS(other)}${m.run.unexpected > 0 ? `, ${m.run.unexpected} unexpected` : ''}${noisy && attempt < s.attempts && budget.retries > 0 ? ' — disturbed, again' : ''}`,
    );
    if (best === undefined || (other ?? 0) < (best.figures.otherCpuPct ?? 0))
      best = { m, figures: { pairsPerSec: m.run.pairsPerSec, p50Ms: m.run.p50Ms, p99Ms: m.run.p99Ms, backendCpuPct, otherCpuPct: other, attempts: attempt } };
    if (!noisy || attempt >= s.attempts || budget.retries-- <= 0) return { m: best.m, figures: { ...best.figures, attempts: attempt } };
  }
}

async function throughputPhase(names: readonly TargetName[], s: Settings, generousConfig: string, redis: ReadonlyMap<Fsync, RedisServer>, log: (m: string) => void) {
  const targets: Target[] = [];
  try {
    for (const n of names) targets.push(await startTarget(n, { capUsd: 1e6, capTokens: 1e12, daemonConfig: generousConfig }, redis));
    const runs = new Map<TargetName, Array<Awaited<ReturnType<typeof measureOnce>>>>(names.map((n) => [n, []]));
    const backend = new Map<TargetName, number[]>(names.map((n) => [n, []]));
    const rounds: Array<Partial<Record<TargetName, RoundFigures>>> = [];
    // Shared by the phase: idle waits and repeated measurements together add at most ~1.5 min.
    const budget = { ms: s.idleWaitS * 1000, retries: Math.ceil((names.length * s.rounds) / 2) };
    for (let round = 1; round <= s.rounds; round++) {
      const warmupMs = (round === 1 ? s.warmupS : Math.min(s.rewarmS, s.warmupS)) * 1000;
      const order = [...targets.slice((round - 1) % targets.length), ...targets.slice(0, (round - 1) % targets.length)];
      const row: Partial<Record<TargetName, RoundFigures>> = {};
      for (const t of order) {
        const { m, figures } = await measureTarget(t, s, round, warmupMs, budget, log);
        if (figures.backendCpuPct !== null) backend.get(t.name)?.push(figures.backendCpuPct);
        runs.get(t.name)?.push(m);
        row[t.name] = figures;
      }
      rounds.push(row);
    }
    const mean = (v: readonly number[]): number | null => (v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length);
    return { pooled: new Map(names.map((n) => [n, combine(runs.get(n) ?? [])])), backend: new Map(names.map((n) => [n, mean(backend.get(n) ?? [])])), rounds };
  } finally {
    await stopAll(targets);
  }
}

async function capsPhase(name: TargetName, s: Settings, redis: ReadonlyMap<Fsync, RedisServer>, log: (m: string) => void) {
  const limits: Limits = { capUsd: s.fanoutCapUsd, capTokens: s.tokenCap, daemonConfig: capsConfig(s) };
  const t = await startTarget(name, limits, redis);
  try {
    const fanout = await runFanout({
      url: t.url,
      token: t.token,
      trials: s.fanoutTrials,
      agents: s.fanoutAgents,
      costUsd: s.fanoutCostUsd,
      capUsd: s.fanoutCapUsd,
      parallel: s.fanoutParallel,
      prefix: 'race',
      budgetMs: s.fanoutBudgetS * 1000,
    });
    log(`  ${name}: fan-out ${fanout.overshootTrials}/${fanout.trials} trials over the cap, grants ${fanout.grantsMin}–${fanout.grantsMax}`);
    const tokenShare = await runTokenShare({
      url: t.url,
      token: t.token,
      trials: s.tokenTrials,
      agents: s.tokenAgents,
      capTokens: s.tokenCap,
      inputTokens: s.tokenInput,
      maxOutputTokens: s.tokenMaxOutput,
      outputMin: s.tokenOutputMin,
      outputMax: s.tokenOutputMax,
      model: TOKEN_MODEL,
      prefix: 'tokcap',
    });
    log(`  ${name}: token cap share ${(tokenShare.meanShare * 100).toFixed(1)}% (${(tokenShare.minShare * 100).toFixed(1)}–${(tokenShare.maxShare * 100).toFixed(1)}%)`);
    return { fanout, tokenShare };
  } finally {
    await t.stop();
  }
}

export async function runPeers(o: { readonly argv: readonly string[]; readonly generousConfig: string; readonly log: (m: string) => void }): Promise<PeersResult> {
  const started = performance.now();
  const s = settingsFrom(o.argv);
  const bin = findRedisServer();
  if (bin === undefined) o.log('peers: redis-server is not on PATH, the Redis targets are left out (apt-get install redis-server)');
  const names = TARGETS.filter((n) => bin !== undefined || !n.startsWith('redis'));
  const redis = new Map<Fsync, RedisServer>();
  try {
    if (bin !== undefined) for (const f of ['always', 'everysec'] as const) redis.set(f, await startRedis(bin, f));
    o.log(`peers: throughput, ${names.length} targets × ${s.rounds} rounds …`);
    const tp = await throughputPhase(names, s, o.generousConfig, redis, o.log);
    const caps = new Map<TargetName, Awaited<ReturnType<typeof capsPhase>>>();
    for (const n of names.filter(hasCap)) {
      o.log(`peers: caps, ${n} (${s.fanoutTrials} fan-out trials, ${s.tokenTrials} token-cap trials) …`);
      caps.set(n, await capsPhase(n, s, redis, o.log));
    }
    const echo = tp.pooled.get('echo');
    const rows = names.map((n): PeerRow => {
      const t = tp.pooled.get(n);
      if (t === undefined) throw new Error(`peers: no throughput figures for ${n}`);
      return {
        name: n,
        label: LABELS[n],
        throughput: t,
        backendCpuPct: tp.backend.get(n) ?? null,
        pairsRatio: echo === undefined ? Number.NaN : t.pairsPerSec / echo.pairsPerSec,
        p99Ratio: echo === undefined ? Number.NaN : t.p99Ms / echo.p99Ms,
        fanout: caps.get(n)?.fanout ?? null,
        tokenShare: caps.get(n)?.tokenShare ?? null,
      };
    });
    return { settings: { ...s }, redisVersion: bin === undefined ? null : redisVersion(bin), rows, rounds: tp.rounds, seconds: (performance.now() - started) / 1000 };
  } finally {
    for (const r of redis.values()) await r.stop();
  }
}
