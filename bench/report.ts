import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FanoutResult } from './fanout.js';
import type { FsyncFloor } from './fsync.js';
import { formatHook, type HookResult } from './hook.js';
import { formatRss, type RssResult } from './rss.js';
import { formatStartup, type StartupResult } from './startup.js';
import { formatProxy, type ProxyResult } from './proxy.js';
import type { KillResult } from './kill.js';
import type { ProfileSummary } from './profile.js';
import type { ThroughputRun } from './throughput.js';
import { formatTuiCpu, type TuiCpuResult } from './tui-cpu.js';

/** The bench's results: printed as a table, written as JSON to bench/results/latest.json. */

export interface BenchResults {
  readonly meta: {
    readonly date: string;
    readonly node: string;
    readonly platform: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly settings: Readonly<Record<string, number | string | boolean>>;
    /** Machine busy (% of all cores) during 1 s before the bench started anything. */
    readonly backgroundCpuPct: number | null;
    readonly loadavg1: number;
  };
  readonly throughput?: {
    /** Pooled over the rounds. */
    readonly echo: ThroughputRun;
    readonly daemon: ThroughputRun;
    /** Each round: echo then daemon, back to back. */
    readonly rounds: ReadonlyArray<{ readonly echo: ThroughputRun; readonly daemon: ThroughputRun }>;
    readonly throughputRatio: number;
    readonly p99Ratio: number;
    readonly goals: { readonly throughputRatioMin: number; readonly p99RatioMax: number; readonly throughputOk: boolean; readonly p99Ok: boolean };
  };
  readonly fanout?: {
    readonly daemon: FanoutResult & { readonly ledger: { readonly tasks: number; readonly overCap: number; readonly maxUsd: number } };
    readonly naive: FanoutResult;
    readonly ok: boolean;
  };
  readonly kill?: KillResult & { readonly goalP99Ms: number; readonly ok: boolean; readonly bare?: { readonly lastP50Ms: number; readonly lastP99Ms: number } };
  readonly profile?: ProfileSummary & { readonly loadPairsPerSec: number; readonly loadP99Ms: number; readonly daemonCpuPct: number | null; readonly fsyncFloor: FsyncFloor };
  readonly tui?: TuiCpuResult;
  readonly hook?: HookResult;
  readonly rss?: RssResult;
  readonly startup?: StartupResult;
  readonly proxy?: ProxyResult;
  readonly totalSeconds: number;
}

export const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');
export const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—');
const pctS = (n: number | null): string => (n === null ? '—' : `${n.toFixed(0)}%`);
const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

/** Columns padded to their widest cell, the first left-aligned, the rest right-aligned. */
export function table(rows: ReadonlyArray<readonly string[]>): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const [head, ...body] = rows;
  if (head === undefined) return '';
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function formatResults(r: BenchResults): string {
  const out: string[] = [];
  const s = r.meta.settings;
  out.push(`spendguard bench — ${r.meta.date} — node ${r.meta.node}, ${r.meta.cpus} × ${r.meta.cpuModel}, ${r.meta.platform}`);
  out.push(
    `background load before start: ${pctS(r.meta.backgroundCpuPct)} of all cores busy, loadavg ${r.meta.loadavg1.toFixed(2)}${(r.meta.backgroundCpuPct ?? 0) > 10 ? '  ⚠ other work on the machine: treat the numbers as noisy' : ''}`,
  );
  if (r.throughput) {
    const { echo, daemon } = r.throughput;
    out.push('');
    out.push(
      `1. Throughput: ${String(s.connections)} connections, closed loop, pair = reserve→grant + commit→ack (2 round trips). Echo and daemon alternate for ${String(s.rounds)} rounds of ${String(Number(s.measureS) / Number(s.rounds))} s measured (${String(s.measureS)} s per server), after a warm-up of ${String(s.warmupS)} s (first round) / ${String(s.rewarmS)} s (fresh connections, later rounds); echo, daemon and load generator each in their own process`,
    );
    out.push(
      table([
        ['server', 'pairs/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'server CPU', 'loadgen CPU', 'machine CPU', 'unexpected'],
        ...(
          [
            ['ws echo', echo],
            ['daemon', daemon],
          ] as const
        ).map(([name, t]) => [
          name,
          f0(t.pairsPerSec),
          f2(t.p50Ms),
          f2(t.p90Ms),
          f2(t.p99Ms),
          f1(t.maxMs),
          pctS(t.serverCpuPct),
          pctS(t.loadgenCpuPct),
          pctS(t.machineCpuPct),
          String(t.unexpected),
        ]),
      ]),
    );
    out.push('   (server / loadgen CPU: % of one core; machine CPU: % of all cores)');
    r.throughput.rounds.forEach((rd, i) =>
      out.push(
        `   round ${i + 1}: echo ${f0(rd.echo.pairsPerSec)} pairs/s p99 ${f2(rd.echo.p99Ms)} ms · daemon ${f0(rd.daemon.pairsPerSec)} pairs/s p99 ${f2(rd.daemon.p99Ms)} ms · ratio ${((rd.daemon.pairsPerSec / rd.echo.pairsPerSec) * 100).toFixed(1)}%, ${(rd.daemon.p99Ms / rd.echo.p99Ms).toFixed(2)}×`,
      ),
    );
    const g = r.throughput.goals;
    out.push(`   daemon / echo throughput: ${(r.throughput.throughputRatio * 100).toFixed(1)}%  (goal ≥ ${g.throughputRatioMin * 100}%)  ${pass(g.throughputOk)}`);
    out.push(`   daemon p99 / echo p99:    ${r.throughput.p99Ratio.toFixed(2)}×  (goal ≤ ${g.p99RatioMax}×)  ${pass(g.p99Ok)}`);
    for (const u of daemon.unexpectedSamples) out.push(`   unexpected daemon reply: ${u}`);
    const st = daemon.stagesUs;
    if (st) {
      const main = st.parse + st.engine + st.observers + st.send + st.handoff;
      const cpu = daemon.serverCpuPct === null ? null : (daemon.serverCpuPct / 100) * (1e6 / daemon.pairsPerSec);
      out.push(
        `   daemon time per pair by stage (µs, from its /metrics): main thread — parse+validate ${f1(st.parse)} · engine ${f1(st.engine)} · metrics and alert observers ${f1(st.observers)} · serialise+send ${f1(st.send)} · batch to the writer ${f1(st.handoff)} = ${f1(main)}; writer thread — bind rows ${f1(st.bind)} · transaction+fsync ${f1(st.commit)}`,
      );
      out.push(`   daemon CPU per pair (all threads): ${cpu === null ? '—' : `${f1(cpu)} µs`}; what the stages leave out is socket reads and writes' system time, the fair queue, timers and GC`);
      const budget = cpuBudget(r.meta.cpus, g.throughputRatioMin, echo, daemon);
      if (budget && cpu !== null) {
        out.push(
          `   CPU budget at the goal: ${f0(budget.pairsPerSec)} pairs/s on ${r.meta.cpus} cores leave ${f1(budget.perPairUs)} µs per pair in all; the load generator takes ${f1(budget.loadgenUs)} (its cost against the echo), so the daemon may use ≤ ${f1(budget.daemonUs)} µs per pair on all its threads — it uses ${f1(cpu)}; the bare echo server uses ${f1(budget.echoUs)}`,
        );
        // What no cheaper parsing or deciding can remove: the daemon's CPU less those stages.
        const rest = cpu - (st.parse + st.engine + st.observers + st.handoff);
        out.push(`   with parse+validate, engine, observers and the hand-off all free, the daemon would still use about ${f1(rest)} µs per pair (sockets, serialise+send, fair queue, GC, the writer thread; stage times are wall time on their thread, so this is an estimate)`);
      }
    }
  }
  if (r.fanout) {
    const { daemon, naive } = r.fanout;
    out.push('');
    out.push(
      `2. Cap soundness: ${daemon.requestedTrials} trials × ${daemon.agents} agents racing $${String(s.fanoutCostUsd)} reserves for a $${String(s.fanoutCapUsd)} hard task cap (${daemon.expectedGrants} fit); ${String(s.fanoutParallel)} trials at a time`,
    );
    const codes = (c: Readonly<Record<string, number>>): string =>
      Object.entries(c)
        .map(([k, v]) => `${k}×${v}`)
        .join(' ') || '—';
    out.push(
      table([
        ['server', 'trials', 'grants min–max', 'overshoot trials', 'max committed $', 'false-refusal trials', 'refusals', 'seconds'],
        ['daemon', String(daemon.trials), `${daemon.grantsMin}–${daemon.grantsMax}`, String(daemon.overshootTrials), daemon.maxCommittedUsd.toFixed(2), String(daemon.falseRefusalTrials), codes(daemon.denyCodes), f1(daemon.seconds)],
        ['naive check-then-spend', String(naive.trials), `${naive.grantsMin}–${naive.grantsMax}`, String(naive.overshootTrials), naive.maxCommittedUsd.toFixed(2), String(naive.falseRefusalTrials), codes(naive.denyCodes), f1(naive.seconds)],
      ]),
    );
    for (const [name, f] of [
      ['daemon', daemon],
      ['naive peer', naive],
    ] as const)
      if (f.trials < f.requestedTrials) out.push(`   ${name}: time budget reached, ${f.trials} of ${f.requestedTrials} trials run`);
    out.push(`   daemon ledger check: ${daemon.ledger.tasks} trial tasks, ${daemon.ledger.overCap} over the cap, largest $${daemon.ledger.maxUsd.toFixed(2)}`);
    const partial = daemon.trials < daemon.requestedTrials ? ` (over ${daemon.trials} trials only, fewer than the ${daemon.requestedTrials} asked)` : '';
    out.push(`   goal: 0 overshoot and 0 false refusals for the daemon, the naive peer overshoots  ${pass(r.fanout.ok)}${partial}`);
  }
  if (r.kill) {
    const k = r.kill;
    out.push('');
    out.push(`3. Kill switch: ${k.agents} connected agents (connected in ${f1(k.connectSeconds)} s), operator kill --all, ${k.runs} runs`);
    out.push(
      table([
        ['metric', 'p50 ms', 'p99 ms', 'max ms'],
        ['kill sent → last agent has it (per run)', f2(k.lastP50Ms), f2(k.lastP99Ms), f2(k.lastMaxMs)],
        ['kill sent → each agent has it (all deliveries)', f2(k.deliveryP50Ms), f2(k.deliveryP99Ms), '—'],
        ['kill sent → operator result', f2(k.operatorAckP50Ms), '—', '—'],
      ]),
    );
    out.push(`   per run (ms): ${k.lastMs.map((v) => v.toFixed(1)).join(', ')}`);
    out.push(
      `   after each kill, every agent asked again: ${k.grantsAfterKill} granted; refused ${Object.entries(k.refusalsAfterKill)
        .map(([c, n]) => `${c}×${n}`)
        .join(' ')}`,
    );
    if (k.bare) out.push(`   the same clients against a bare ws server that only broadcasts (no budget logic): last agent p50 ${f2(k.bare.lastP50Ms)} ms, p99 ${f2(k.bare.lastP99Ms)} ms`);
    if (k.coldMs.length > 0) out.push(`   warm-up kills before the measured runs (not in the figures above): ${k.coldMs.map(f1).join(', ')} ms — the first right after start, cold`);
    out.push(`   goal: last-agent p99 ≤ ${k.goalP99Ms} ms and no grant under a killed scope  ${pass(k.ok)}`);
  }
  if (r.profile) {
    const p = r.profile;
    out.push('');
    const loopBusy = p.totalMs > 0 ? (p.busyMs / p.totalMs) * 100 : Number.NaN;
    out.push(
      `4. Daemon CPU profile (--cpu-prof), measured window only: ${f0(p.loadPairsPerSec)} pairs/s, p99 ${f2(p.loadP99Ms)} ms while profiled; ${f0(p.totalMs)} ms sampled, event loop busy ${f1(loopBusy)}% (idle ${f0(p.idleMs)} ms)`,
    );
    out.push(
      `   daemon process on-CPU ${p.daemonCpuPct === null ? '—' : f1(p.daemonCpuPct)}% of a core (all threads, profiler included). Self time of a native call counts while the loop is blocked in it: sqliteTransaction includes the COMMIT's fsync.`,
    );
    out.push(table([['self time by module', 'ms', '% busy'], ...p.byModule.map((row) => [row.name, f0(row.selfMs), f1(row.pct)])]));
    out.push('');
    out.push(table([['top functions (self time)', 'ms', '% busy'], ...p.topFunctions.map((row) => [row.name, f0(row.selfMs), f1(row.pct)])]));
    out.push(`   profile: ${p.file}`);
    const fl = p.fsyncFloor;
    out.push(
      `   durability floor on this disk (bare better-sqlite3, WAL, 20-row transactions): synchronous=FULL ${f2(fl.fullMs)} ms, OFF ${f2(fl.offMs)} ms per transaction → ${f2(fl.durabilityMs)} ms of blocking wait per group commit (≤ ${f0(1000 / fl.fullMs)} commits/s)`,
    );
  }
  if (r.tui) {
    out.push('');
    out.push(formatTuiCpu(r.tui, 5));
  }
  if (r.hook) {
    out.push('');
    out.push(formatHook(r.hook));
  }
  if (r.rss) {
    out.push('');
    out.push(formatRss(r.rss));
  }
  if (r.startup) {
    out.push('');
    out.push(formatStartup(r.startup));
  }
  if (r.proxy) {
    out.push('');
    out.push(formatProxy(r.proxy));
  }
  out.push('');
  out.push(`total ${f1(r.totalSeconds)} s`);
  return out.join('\n');
}

export function writeResults(dir: string, r: BenchResults): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'latest.json');
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}

/**
 * What the throughput goal leaves the daemon to spend, from this run's own figures: at the goal's
 * pairs/s every core's second is shared by the load generator and the server (they run on the
 * same machine), so the daemon's CPU per pair, on all its threads, must fit in what the load
 * generator leaves. The load generator's cost is taken against the echo (its cheapest per pair).
 */
export function cpuBudget(
  cores: number,
  ratioGoal: number,
  echo: { pairsPerSec: number; serverCpuPct: number | null; loadgenCpuPct: number | null },
  daemon: { pairsPerSec: number },
): { pairsPerSec: number; perPairUs: number; loadgenUs: number; daemonUs: number; echoUs: number } | null {
  if (echo.serverCpuPct === null || echo.loadgenCpuPct === null || echo.pairsPerSec <= 0 || daemon.pairsPerSec <= 0) return null;
  const pairsPerSec = ratioGoal * echo.pairsPerSec;
  const perPairUs = (cores * 1e6) / pairsPerSec;
  const loadgenUs = ((echo.loadgenCpuPct / 100) * 1e6) / echo.pairsPerSec;
  const echoUs = ((echo.serverCpuPct / 100) * 1e6) / echo.pairsPerSec;
  return { pairsPerSec, perPairUs, loadgenUs, daemonUs: perPairUs - loadgenUs, echoUs };
}
