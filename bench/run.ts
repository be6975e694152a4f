import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO } from '../test/e2e/daemon-process.js';
import { startBenchDaemon } from './daemon.js';
import { ledgerOvershoots, runFanout } from './fanout.js';
import { measureFsyncFloor } from './fsync.js';
import { isPeerReady } from './ipc.js';
import { runKill } from './kill.js';
import { BENCH_DIR, cleanup, forkTs, nextMessage } from './proc.js';
import { summarizeProfile } from './profile.js';
import { formatResults, writeResults, type BenchResults } from './report.js';
import { backgroundLoad, combine, measureOnce, type ThroughputRun } from './throughput.js';
import { runTuiCpu } from './tui-cpu.js';
import { runHook } from './hook.js';
import { runRss } from './rss.js';
import { runStartup } from './startup.js';
import { runProxyLatency } from './proxy.js';
import { runPeers } from './peers/peers.js';
import { formatPeers } from './peers/report.js';

/**
 * `npm run bench` (`-- --profile` adds a CPU profile of the daemon under the throughput load).
 * Measures SPEC §10 on this machine, with every server and the load generator in its own
 * process: (1) daemon vs bare ws echo throughput and latency, (2) cap soundness under fan-out vs
 * a naive check-then-spend peer, (3) kill-switch latency to 1,000 agents, (4) the dashboard's CPU
 * (`spendguard top` in tmux) while the daemon handles 10,000 spends/s, (5) the Claude Code hook's
 * decision time per tool call, (6) the daemon's RSS with 10,000 agents connected, (7) start-up of
 * `status --line` and the hook against bare node. Prints a table and writes
 * bench/results/latest.json. Options: --only throughput,fanout,kill,tui,hook,rss,startup,proxy,peers (peers — spendguard
 * beside a ws echo, a naive server, Redis + Lua and a durable floor, see bench/peers/peers.ts — runs only when named)  --connections N
 * --rounds N  --warmup S  --measure S (per server, split over the rounds)  --trials N
 * --parallel N (fan-out trials at a time)  --fanout-budget S (time budget of the daemon's trials;
 * the naive peer gets half)  --kill-agents N  --kill-runs N  --tui-rate N (spends/s)
 * --tui-measure S  --tui-idle S  --startup-runs N  --proxy-calls N.
 */

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
};
const onlyArg = argv.includes('--only') ? (argv[argv.indexOf('--only') + 1] ?? '') : 'throughput,fanout,kill,tui,hook,rss,startup,proxy';
const only = new Set(onlyArg.split(','));

const S = {
  connections: opt('connections', 50),
  rounds: opt('rounds', 4),
  warmupS: opt('warmup', 2),
  rewarmS: 0.5,
  measureS: opt('measure', 8),
  fanoutTrials: opt('trials', 1000),
  fanoutAgents: 50,
  fanoutCostUsd: 0.03,
  fanoutCapUsd: 1,
  fanoutParallel: opt('parallel', 10),
  fanoutBudgetDaemonS: opt('fanout-budget', 80),
  fanoutBudgetNaiveS: opt('fanout-budget', 80) / 2,
  killAgents: opt('kill-agents', 1000),
  killRuns: opt('kill-runs', 50),
  profile: flag('profile'),
  tuiRate: opt('tui-rate', 10_000),
  tuiConnections: 50,
  tuiWindow: 64,
  tuiWarmupS: 2,
  tuiMeasureS: opt('tui-measure', 10),
  tuiIdleS: opt('tui-idle', 5),
  hookRuns: opt('hook-runs', 20),
  rssAgents: opt('rss-agents', 10_000),
  startupRuns: opt('startup-runs', 20),
  proxyCalls: opt('proxy-calls', 1000),
};

/** Kills before the measured ones: the first after start compiles the path (reported apart). */
const KILL_WARMUP_RUNS = 2;

const GOALS = { throughputRatioMin: 0.6, p99RatioMax: 2, killP99Ms: 20, tuiCpuPct: 10, hookDecisionMs: 100, rssMb: 200, startupRatio: 2, proxyAddedP50Ms: 1 };

/** Generous limits: nothing in the throughput or kill phases is ever refused for budget. */
const GENEROUS_CONFIG = `
limits:
  global:  { cost_usd: 1000000, mode: hard }
  user:    { cost_usd: 1000000, mode: hard }
  session: { cost_usd: 1000000, mode: hard }
  task:    { cost_usd: 1000000, mode: hard }
`;

/**
 * The fan-out race. 33 grants must be in flight at once in one task, above the default
 * per-task concurrency detector (32), so that detector is raised here: this phase measures the
 * budget cap, not the in-flight limit.
 */
const FANOUT_CONFIG = `
limits:
  task: { cost_usd: ${S.fanoutCapUsd}, mode: hard }
detectors:
  concurrency: { agent: 8, task: 64 }
`;

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};

async function main(): Promise<BenchResults> {
  const started = performance.now();
  const resultsDir = join(BENCH_DIR, 'results');
  const cpuInfo = cpus();
  const background = await backgroundLoad();
  if (background !== null && background > 10) log(`warning: the machine is already ${background.toFixed(0)}% busy before the bench starts; numbers will be noisy`);
  const meta: BenchResults['meta'] = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpuInfo.length,
    cpuModel: cpuInfo[0]?.model.trim() ?? 'unknown',
    settings: { ...S },
    backgroundCpuPct: background,
    loadavg1: loadavg()[0] ?? 0,
  };
  let result: BenchResults = { meta, totalSeconds: 0 };

  if (only.has('throughput')) {
    log('throughput: starting the ws echo server and the daemon …');
    const echoProc = forkTs('peer-server.ts', ['--mode', 'echo']);
    const echoUrl = (await nextMessage(echoProc, isPeerReady, 20_000)).url;
    const d = await startBenchDaemon(GENEROUS_CONFIG);
    const base = { connections: S.connections, measureMs: (S.measureS * 1000) / S.rounds };
    const echoRuns: Array<Awaited<ReturnType<typeof measureOnce>>> = [];
    const daemonRuns: Array<Awaited<ReturnType<typeof measureOnce>>> = [];
    for (let round = 1; round <= S.rounds; round++) {
      const warmupMs = (round === 1 ? S.warmupS : Math.min(S.rewarmS, S.warmupS)) * 1000;
      const e = await measureOnce({ ...base, warmupMs, url: echoUrl, token: 'none', hello: false, agentPrefix: `echo${round}` }, echoProc.pid);
      echoRuns.push(e);
      log(`  round ${round} echo:   ${Math.round(e.run.pairsPerSec)} pairs/s, p99 ${e.run.p99Ms.toFixed(2)} ms`);
      const dm = await measureOnce({ ...base, warmupMs, url: d.url, token: d.agentToken, hello: true, agentPrefix: `r${round}` }, d.child.pid, `${d.url.replace(/^ws/, 'http')}/metrics`);
      daemonRuns.push(dm);
      log(`  round ${round} daemon: ${Math.round(dm.run.pairsPerSec)} pairs/s, p99 ${dm.run.p99Ms.toFixed(2)} ms`);
    }
    echoProc.kill('SIGTERM');
    await d.stop();
    const echo: ThroughputRun = combine(echoRuns);
    const daemon: ThroughputRun = combine(daemonRuns);
    const throughputRatio = daemon.pairsPerSec / echo.pairsPerSec;
    const p99Ratio = daemon.p99Ms / echo.p99Ms;
    result = {
      ...result,
      throughput: {
        echo,
        daemon,
        rounds: echoRuns.map((e, i) => ({ echo: e.run, daemon: (daemonRuns[i] ?? e).run })),
        throughputRatio,
        p99Ratio,
        goals: {
          throughputRatioMin: GOALS.throughputRatioMin,
          p99RatioMax: GOALS.p99RatioMax,
          throughputOk: throughputRatio >= GOALS.throughputRatioMin && daemon.unexpected === 0,
          p99Ok: p99Ratio <= GOALS.p99RatioMax,
        },
      },
    };
  }

  if (only.has('fanout')) {
    const fp = { trials: S.fanoutTrials, agents: S.fanoutAgents, costUsd: S.fanoutCostUsd, capUsd: S.fanoutCapUsd, parallel: S.fanoutParallel, prefix: 'trial' };
    log(`fan-out: daemon, ${fp.trials} trials …`);
    const d = await startBenchDaemon(FANOUT_CONFIG);
    const daemonRun = await runFanout({ ...fp, budgetMs: S.fanoutBudgetDaemonS * 1000, url: d.url, token: d.agentToken }, (n) => log(`  daemon: ${n}/${fp.trials} trials`));
    const ledger = ledgerOvershoots(d.stateDir, fp.prefix, fp.capUsd);
    await d.stop();

    log(`fan-out: naive check-then-spend peer, ${fp.trials} trials …`);
    const naiveProc = forkTs('peer-server.ts', ['--mode', 'naive', '--cap-usd', String(fp.capUsd)]);
    const naiveUrl = (await nextMessage(naiveProc, isPeerReady, 20_000)).url;
    const naive = await runFanout({ ...fp, budgetMs: S.fanoutBudgetNaiveS * 1000, url: naiveUrl, token: 'none' }, (n) => log(`  naive: ${n}/${fp.trials} trials`));
    naiveProc.kill('SIGTERM');
    if (daemonRun.trials < fp.trials) log(`  daemon: time budget reached after ${daemonRun.trials} trials`);
    if (naive.trials < fp.trials) log(`  naive: time budget reached after ${naive.trials} trials`);
    const ok = daemonRun.overshootTrials === 0 && daemonRun.falseRefusalTrials === 0 && ledger.overCap === 0 && naive.overshootTrials > 0;
    result = { ...result, fanout: { daemon: { ...daemonRun, ledger }, naive, ok } };
  }

  if (only.has('kill')) {
    log(`kill switch: ${S.killAgents} agents, ${S.killRuns} runs …`);
    const d = await startBenchDaemon(GENEROUS_CONFIG);
    const k = await runKill({ url: d.url, agentToken: d.agentToken, operatorToken: d.operatorToken, agents: S.killAgents, runs: S.killRuns, warmupRuns: KILL_WARMUP_RUNS });
    await d.stop();
    // The same clients against a bare ws server that only broadcasts: the floor of this machine.
    log(`kill switch: the same against a bare ws broadcast …`);
    const bareProc = forkTs('peer-server.ts', ['--mode', 'broadcast']);
    const bareUrl = (await nextMessage(bareProc, isPeerReady, 20_000)).url;
    const bare = await runKill({ url: bareUrl, agentToken: 'none', operatorToken: 'none', agents: S.killAgents, runs: S.killRuns, warmupRuns: KILL_WARMUP_RUNS });
    bareProc.kill('SIGTERM');
    result = { ...result, kill: { ...k, goalP99Ms: GOALS.killP99Ms, ok: k.lastP99Ms <= GOALS.killP99Ms && k.grantsAfterKill === 0, bare: { lastP50Ms: bare.lastP50Ms, lastP99Ms: bare.lastP99Ms } } };
  }

  if (only.has('tui')) {
    const tui = await runTuiCpu(
      {
        connections: S.tuiConnections,
        rate: S.tuiRate,
        window: S.tuiWindow,
        warmupMs: S.tuiWarmupS * 1000,
        measureMs: S.tuiMeasureS * 1000,
        idleMs: S.tuiIdleS * 1000,
        cols: 120,
        rows: 40,
        goalPct: GOALS.tuiCpuPct,
      },
      log,
    );
    result = { ...result, tui };
  }

  if (only.has('hook')) {
    log(`Claude Code hook: ${S.hookRuns} tool calls …`);
    result = { ...result, hook: await runHook({ runs: S.hookRuns, goalMs: GOALS.hookDecisionMs }) };
  }

  if (only.has('rss')) {
    log(`memory: ${S.rssAgents} agents connected …`);
    result = { ...result, rss: await runRss({ agents: S.rssAgents, goalMb: GOALS.rssMb }) };
  }

  if (only.has('proxy')) {
    log(`provider proxy: ${S.proxyCalls} calls direct and through the proxy …`);
    result = { ...result, proxy: await runProxyLatency({ calls: S.proxyCalls, goalP50Ms: GOALS.proxyAddedP50Ms }) };
  }

  if (only.has('startup')) {
    log(`start-up: bare node, status --line and the hook, ${S.startupRuns} runs each …`);
    result = { ...result, startup: await runStartup({ runs: S.startupRuns, goalRatio: GOALS.startupRatio }) };
  }

  if (S.profile) {
    log('profile: daemon under the throughput load with --cpu-prof …');
    const profDir = join(resultsDir, 'profile');
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    const d = await startBenchDaemon(GENEROUS_CONFIG, { cpuProfDir: profDir });
    const { run: load, windowUs } = await measureOnce(
      { url: d.url, token: d.agentToken, hello: true, agentPrefix: 'prof', connections: S.connections, warmupMs: S.warmupS * 1000, measureMs: S.measureS * 1000 },
      d.child.pid,
    );
    await d.stop(); // the profile is written when the daemon exits
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: sorted, the main thread (0) comes first.
    const file = existsSync(profDir) ? readdirSync(profDir).sort().find((f) => f.endsWith('.cpuprofile')) : undefined;
    if (file === undefined) log('  no .cpuprofile was written (did the daemon exit cleanly?)');
    else
      result = {
        ...result,
        profile: {
          ...summarizeProfile(join(profDir, file), REPO, windowUs),
          file: relative(REPO, join(profDir, file)),
          loadPairsPerSec: load.pairsPerSec,
          loadP99Ms: load.p99Ms,
          daemonCpuPct: load.serverCpuPct,
          fsyncFloor: measureFsyncFloor(),
        },
      };
  }

  // Side by side with the peers (not in the default --only: it adds 1.5–2 min and needs redis-server).
  const peers = only.has('peers') ? await runPeers({ argv, generousConfig: GENEROUS_CONFIG, log }) : undefined;
  if (peers !== undefined) result = Object.assign(result, { peers });

  result = { ...result, totalSeconds: (performance.now() - started) / 1000 };
  const path = writeResults(resultsDir, result);
  console.log(formatResults(result));
  if (peers !== undefined) console.log(`\n${formatPeers(peers)}`);
  console.log(`results: ${relative(REPO, path)}`);
  return result;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping children and removing temp dirs …`);
    void cleanup(500).finally(() => process.exit(130));
  });
}

try {
  await main();
  await cleanup();
} catch (e) {
  if (!interrupted) {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    await cleanup();
    process.exitCode = 1;
  }
}
