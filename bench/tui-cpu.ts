import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { BIN } from '../test/e2e/daemon-process.js';
import { startBenchDaemon } from './daemon.js';
import { cpuMsOf, forkTs, nextMessage, percentile, sleep } from './proc.js';
import { machineTicks } from './throughput.js';

/**
 * Bench phase `tui` (SPEC §10: "the TUI uses ≤ 10% of one core while the daemon handles 10,000
 * events/s"). The real daemon, the real `spendguard top` in a real terminal (tmux, 120×40), and
 * a load generator in its own process streaming keyed `spend` frames over 50 connections, paced
 * to a target total rate with a bounded window of frames in flight per connection. The CPU of
 * the dashboard's process tree (utime + stime from /proc, all threads) is measured over the
 * loaded window, and over an idle window before it for comparison.
 *
 * Run as `--tui-loadgen` (through `forkTs`), this module is the load generator instead.
 */

// ─── messages between the phase and its load generator ──────────────────────────────────────

export interface TuiLoadParams {
  readonly type: 'tui-load';
  readonly url: string;
  readonly token: string;
  readonly connections: number;
  /** Target spend frames per second, all connections together. */
  readonly rate: number;
  /** Bound on frames in flight (sent, not yet acked) per connection. */
  readonly window: number;
  readonly warmupMs: number;
  readonly measureMs: number;
}

export interface TuiLoadPhase {
  readonly type: 'tui-load-phase';
  readonly phase: 'connected' | 'measure' | 'done';
}

export interface TuiLoadResult {
  readonly type: 'tui-load-result';
  /** Frames sent / acked inside the measured window. */
  readonly sent: number;
  readonly acked: number;
  readonly seconds: number;
  readonly ackedPerSec: number;
  readonly sentPerSec: number;
  /** Send opportunities skipped in the window because every connection had a full window. */
  readonly windowFullTicks: number;
  readonly ticks: number;
  readonly unexpected: number;
  readonly unexpectedSamples: readonly string[];
  /** Spend sent → ack received, over the measured window. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The load generator's own CPU in the window, % of one core. */
  readonly loadgenCpuPct: number;
  /** Total acked over the whole run (warm-up included), with each spend at `costUsd`. */
  readonly ackedTotal: number;
}

const isObj = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null;
const isTuiLoadParams = (m: unknown): m is TuiLoadParams => isObj(m) && m.type === 'tui-load';
const isTuiLoadResult = (m: unknown): m is TuiLoadResult => isObj(m) && m.type === 'tui-load-result';
const isTuiPhase =
  (phase: TuiLoadPhase['phase']) =>
  (m: unknown): m is TuiLoadPhase =>
    isObj(m) && m.type === 'tui-load-phase' && m.phase === phase;

// ─── the load generator (child process) ─────────────────────────────────────────────────────

const SPEND_USD = 0.0001;
const TICK_MS = 2;

async function runTuiLoad(p: TuiLoadParams, onPhase: (phase: TuiLoadPhase['phase']) => void): Promise<TuiLoadResult> {
  interface Conn {
    readonly ws: WebSocket;
    readonly inflight: Map<number, number>;
    n: number;
  }
  const conns: Conn[] = [];
  await Promise.all(
    Array.from({ length: p.connections }, async (_, c) => {
      const ws = new WebSocket(`${p.url}/v1/agent`, { headers: { authorization: `Bearer ${p.token}` }, perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        ws.once('open', () => {
          ws.once('message', (data) => {
            const f = JSON.parse(data.toString()) as { type?: string };
            if (f.type === 'welcome') resolve();
            else reject(new Error(`hello refused: ${data.toString()}`));
          });
          ws.send(JSON.stringify({ type: 'hello', v: 1, agent: `tui-a${c}`, session: `tui-s${c % 5}`, task: `tui-t${c}`, user: 'bench' }));
        });
      });
      conns[c] = { ws, inflight: new Map(), n: 0 };
    }),
  );
  onPhase('connected');

  let measuring = false;
  let sent = 0;
  let acked = 0;
  let ackedTotal = 0;
  let unexpected = 0;
  let windowFullTicks = 0;
  let ticks = 0;
  const unexpectedSamples: string[] = [];
  const latencies: number[] = [];

  conns.forEach((conn) => {
    conn.ws.on('message', (data) => {
      const text = data.toString();
      const f = JSON.parse(text) as { type?: string; id?: string };
      const id = typeof f.id === 'string' && f.id.startsWith('s') ? Number(f.id.slice(1)) : Number.NaN;
      const t0 = conn.inflight.get(id);
      if (t0 === undefined) return; // a push (alert, warning): not a reply
      conn.inflight.delete(id);
      if (f.type !== 'ack') {
        unexpected += 1;
        if (unexpectedSamples.length < 5) unexpectedSamples.push(text.slice(0, 300));
        return;
      }
      ackedTotal += 1;
      if (measuring) {
        acked += 1;
        latencies.push(performance.now() - t0);
      }
    });
  });

  // Pacing: a global schedule of `rate` frames/s from the start; each tick sends what is due,
  // round-robin over the connections that have room in their window. A backlog (every window
  // full) is carried for at most 50 ms, so a slow daemon is not hit by bursts to catch up.
  const start = performance.now();
  let scheduled = 0; // frames due so far, minus backlog dropped
  let rr = 0;
  const maxBacklog = Math.max(1, Math.round(p.rate * 0.05));
  const tick = (): void => {
    const now = performance.now();
    const due = Math.floor(((now - start) / 1000) * p.rate);
    if (due - scheduled > maxBacklog) scheduled = due - maxBacklog;
    let toSend = due - scheduled;
    if (measuring) ticks += 1;
    let blocked = 0;
    while (toSend > 0 && blocked < conns.length) {
      const c = rr;
      const conn = conns[c] as Conn;
      rr = (rr + 1) % conns.length;
      if (conn.inflight.size >= p.window) {
        blocked += 1;
        continue;
      }
      blocked = 0;
      conn.n += 1;
      conn.inflight.set(conn.n, performance.now());
      conn.ws.send(`{"type":"spend","id":"s${conn.n}","key":"tui-c${c}-${conn.n}","cost_usd":${SPEND_USD}}`);
      toSend -= 1;
      scheduled += 1;
      if (measuring) sent += 1;
    }
    if (toSend > 0 && measuring) windowFullTicks += 1;
  };
  const timer = setInterval(tick, TICK_MS);

  await sleep(p.warmupMs);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  onPhase('measure');
  await sleep(p.measureMs);
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  onPhase('done');
  // Let what is in flight settle, then close.
  const drainUntil = performance.now() + 2_000;
  while (conns.some((c) => c.inflight.size > 0) && performance.now() < drainUntil) await sleep(20);
  for (const c of conns) c.ws.terminate();

  const sorted = Float64Array.from(latencies).sort();
  return {
    type: 'tui-load-result',
    sent,
    acked,
    seconds,
    ackedPerSec: acked / seconds,
    sentPerSec: sent / seconds,
    windowFullTicks,
    ticks,
    unexpected,
    unexpectedSamples,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
    loadgenCpuPct: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
    ackedTotal,
  };
}

if (process.send !== undefined && process.argv.includes('--tui-loadgen')) {
  process.on('disconnect', () => process.exit(0));
  process.once('message', (m: unknown) => {
    if (!isTuiLoadParams(m)) {
      console.error('tui loadgen: bad parameters', m);
      process.exit(2);
    }
    runTuiLoad(m, (phase) => process.send?.({ type: 'tui-load-phase', phase } satisfies TuiLoadPhase))
      .then((r) => process.send?.(r, () => process.exit(0)))
      .catch((e: unknown) => {
        console.error('tui loadgen failed:', e);
        process.exit(1);
      });
  });
}

// ─── process-tree CPU ────────────────────────────────────────────────────────────────────────

/** `pid` and all its descendants, from /proc (Linux). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** CPU ms used so far by each process of the tree under `root`. */
function treeCpu(root: number): Map<number, number> {
  const m = new Map<number, number>();
  for (const pid of processTree(root)) {
    const ms = cpuMsOf(pid);
    if (ms !== undefined) m.set(pid, ms);
  }
  return m;
}

/** CPU ms the tree used between two snapshots (a process new in `b` counts from zero). */
function treeDelta(a: Map<number, number>, b: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of b) sum += ms - (a.get(pid) ?? 0);
  return sum;
}

// ─── the phase ───────────────────────────────────────────────────────────────────────────────

export interface TuiCpuSettings {
  readonly connections: number;
  readonly rate: number;
  readonly window: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly idleMs: number;
  readonly cols: number;
  readonly rows: number;
  readonly goalPct: number;
}

export interface TuiCpuResult {
  readonly settings: TuiCpuSettings;
  /** The dashboard's node process and every process of the pane's tree, with their names. */
  readonly tuiPid: number;
  readonly paneProcesses: readonly string[];
  readonly paneSize: string;
  readonly idle: { readonly seconds: number; readonly tuiCpuPct: number; readonly tuiRssMb: number | null; readonly machineCpuPct: number | null };
  readonly load: Omit<TuiLoadResult, 'type'> & {
    readonly tuiCpuPct: number;
    readonly tuiRssMb: number | null;
    readonly daemonCpuPct: number | null;
    readonly tmuxServerCpuPct: number | null;
    readonly machineCpuPct: number | null;
  };
  readonly screen: { readonly live: boolean; readonly spentBefore: string | null; readonly spentAfter: string | null; readonly advancing: boolean; readonly header: string };
  readonly rateReached: boolean;
  readonly ok: boolean;
}

/** Generous limits: nothing is refused; the loop detector is off (every spend looks alike). */
const TUI_CONFIG = `
limits:
  global:  { cost_usd: 1000000, mode: hard }
  user:    { cost_usd: 1000000, mode: hard }
  session: { cost_usd: 1000000, mode: hard }
  task:    { cost_usd: 1000000, mode: hard }
  agent:   { cost_usd: 1000000, mode: hard }
detectors:
  loop: { repeats: 0 }
`;

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** `spent $12.34` (or `today $…`) from the dashboard's header line. */
function spentOf(screen: string): string | null {
  const m = /(?:spent|today) (\$[0-9.,]+[kKmM]?)/.exec(screen);
  return m?.[1] ?? null;
}

function dollars(s: string | null): number {
  if (s === null) return Number.NaN;
  const m = /^\$([0-9.,]+)([kKmM]?)$/.exec(s);
  if (!m) return Number.NaN;
  const v = Number((m[1] ?? '').replace(/,/g, ''));
  const unit = (m[2] ?? '').toLowerCase();
  return v * (unit === 'k' ? 1e3 : unit === 'm' ? 1e6 : 1);
}

export async function runTuiCpu(s: TuiCpuSettings, log: (msg: string) => void): Promise<TuiCpuResult> {
  const socket = `sg-bench-tui-${process.pid}-${Date.now()}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const screen = (): string => tmux('capture-pane', '-p', '-t', 'top');
  let tuiPid: number | undefined;
  let tmuxStarted = false;
  let socketPath: string | undefined;
  const stopTmux = (): void => {
    if (!tmuxStarted) return;
    tmuxStarted = false;
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    // tmux 3.3 leaves its socket file behind in /tmp/tmux-<uid>/.
    if (socketPath !== undefined) rmSync(socketPath, { force: true });
    // kill-server hangs up the pane; make sure the dashboard we started is gone too.
    if (tuiPid !== undefined) {
      try {
        process.kill(tuiPid, 'SIGKILL');
      } catch {
        // exited on the hang-up
      }
    }
  };
  // run.ts's SIGINT/SIGTERM handler stops the tracked children (daemon, load generator) and
  // exits; the tmux server is not a child of ours, so it is stopped here, synchronously.
  const onSignal = (): void => stopTmux();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onSignal);

  const d = await startBenchDaemon(TUI_CONFIG);
  try {
    // ── the dashboard in tmux ──
    const cmd = `${process.execPath} ${BIN} top --url ${d.url} --state-dir ${d.stateDir}; echo "[top exited $?]"; sleep 60`;
    tmux('new-session', '-d', '-s', 'top', '-x', String(s.cols), '-y', String(s.rows), cmd);
    tmuxStarted = true;
    socketPath = tmux('display-message', '-p', '#{socket_path}').trim() || undefined;
    const paneSize = tmux('display-message', '-p', '-t', 'top', '#{pane_width}x#{pane_height}').trim();
    const panePid = Number(tmux('list-panes', '-t', 'top', '-F', '#{pane_pid}').trim());
    const tmuxServerPid = Number(tmux('display-message', '-p', '#{pid}').trim());
    log(`tui: spendguard top in tmux ${paneSize} (pane pid ${panePid}), waiting for ● live …`);
    const deadline = Date.now() + 30_000;
    let last = '';
    for (;;) {
      last = screen();
      if (last.includes('● live')) break;
      if (last.includes('[top exited') || Date.now() > deadline) throw new Error(`the dashboard did not show ● live:\n${last}`);
      await sleep(100);
    }
    const tree = processTree(panePid);
    // The pane runs `bash -c '<node …>; echo …'`: the dashboard is the node process under it.
    tuiPid = tree.find((pid) => commOf(pid).startsWith('node'));
    if (tuiPid === undefined) throw new Error(`no node process under the pane (${tree.map((p) => `${p} ${commOf(p)}`).join(', ')})`);
    const paneProcesses = tree.map((p) => `${p} ${commOf(p)}`);
    log(`  live; pane tree: ${paneProcesses.join(', ')}; dashboard pid ${tuiPid}`);

    // ── idle ──
    await sleep(1_000);
    const i0 = treeCpu(panePid);
    const im0 = machineTicks();
    const it0 = performance.now();
    await sleep(s.idleMs);
    const idleWall = performance.now() - it0;
    const i1 = treeCpu(panePid);
    const im1 = machineTicks();
    const idle = {
      seconds: idleWall / 1000,
      tuiCpuPct: (treeDelta(i0, i1) / idleWall) * 100,
      tuiRssMb: rssMb(tuiPid),
      machineCpuPct: im0 && im1 && im1.total > im0.total ? ((im1.busy - im0.busy) / (im1.total - im0.total)) * 100 : null,
    };
    log(`  idle ${idle.seconds.toFixed(1)} s: dashboard ${idle.tuiCpuPct.toFixed(1)}% of one core`);

    // ── loaded ──
    log(`  load: ${s.connections} connections, keyed spend frames paced to ${s.rate.toLocaleString('en-US')}/s (window ${s.window} per connection), ${s.warmupMs / 1000} s warm-up + ${s.measureMs / 1000} s measured …`);
    const gen = forkTs('tui-cpu.ts', ['--tui-loadgen']);
    const measuring = nextMessage(gen, isTuiPhase('measure'), 30_000);
    const done = nextMessage(gen, isTuiPhase('done'), 30_000 + s.warmupMs + s.measureMs);
    const result = nextMessage(gen, isTuiLoadResult, 40_000 + s.warmupMs + s.measureMs);
    for (const p of [measuring, done, result]) p.catch(() => undefined);
    gen.send({ type: 'tui-load', url: d.url, token: d.agentToken, connections: s.connections, rate: s.rate, window: s.window, warmupMs: s.warmupMs, measureMs: s.measureMs } satisfies TuiLoadParams);
    await measuring;
    const l0 = treeCpu(panePid);
    const dc0 = cpuMsOf(d.child.pid);
    const tc0 = cpuMsOf(tmuxServerPid);
    const lm0 = machineTicks();
    const lt0 = performance.now();
    // Two looks at the screen during the window: still live, and the spend moving.
    await sleep(s.measureMs * 0.2);
    const before = screen();
    await sleep(s.measureMs * 0.6);
    const after = screen();
    await done;
    const loadWall = performance.now() - lt0;
    const l1 = treeCpu(panePid);
    const dc1 = cpuMsOf(d.child.pid);
    const tc1 = cpuMsOf(tmuxServerPid);
    const lm1 = machineTicks();
    const tuiRssMb = rssMb(tuiPid);
    const { type: _t, ...r } = await result;
    const pct = (a: number | undefined, b: number | undefined): number | null => (a !== undefined && b !== undefined ? ((b - a) / loadWall) * 100 : null);
    const load = {
      ...r,
      tuiCpuPct: (treeDelta(l0, l1) / loadWall) * 100,
      tuiRssMb,
      daemonCpuPct: pct(dc0, dc1),
      tmuxServerCpuPct: pct(tc0, tc1),
      machineCpuPct: lm0 && lm1 && lm1.total > lm0.total ? ((lm1.busy - lm0.busy) / (lm1.total - lm0.total)) * 100 : null,
    };
    const spentBefore = spentOf(before);
    const spentAfter = spentOf(after);
    const header = (after.split('\n')[0] ?? '').trim();
    const scr = {
      live: before.includes('● live') && after.includes('● live'),
      spentBefore,
      spentAfter,
      advancing: dollars(spentAfter) > dollars(spentBefore),
      header,
    };
    log(`  loaded ${r.seconds.toFixed(1)} s: ${Math.round(r.ackedPerSec).toLocaleString('en-US')} spends acked/s; dashboard ${load.tuiCpuPct.toFixed(1)}% of one core; screen ${scr.live ? 'live' : 'NOT live'}, spent ${spentBefore ?? '?'} → ${spentAfter ?? '?'}`);
    const rateReached = r.ackedPerSec >= s.rate * 0.95;
    return {
      settings: s,
      tuiPid,
      paneProcesses,
      paneSize,
      idle,
      load,
      screen: scr,
      rateReached,
      ok: rateReached && load.tuiCpuPct <= s.goalPct && scr.live && scr.advancing && r.unexpected === 0,
    };
  } finally {
    stopTmux();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onSignal);
    await d.stop();
  }
}

// ─── report section ──────────────────────────────────────────────────────────────────────────

export function formatTuiCpu(t: TuiCpuResult, n: number): string {
  const f1 = (v: number | null): string => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(1));
  const f0 = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');
  const s = t.settings;
  const l = t.load;
  const out: string[] = [];
  out.push(
    `${n}. TUI CPU: \`spendguard top\` in tmux ${t.paneSize} (dashboard pid ${t.tuiPid}; pane tree ${t.paneProcesses.join(', ')}), daemon driven by ${s.connections} connections streaming keyed spend frames paced to ${f0(s.rate)}/s (≤ ${s.window} in flight per connection), ${s.warmupMs / 1000} s warm-up, ${f1(l.seconds)} s measured; idle window ${f1(t.idle.seconds)} s before the load`,
  );
  const rows: string[][] = [
    ['window', 'spends acked/s', 'dashboard CPU', 'dashboard RSS MB', 'daemon CPU', 'loadgen CPU', 'tmux server CPU', 'machine CPU'],
    ['idle (no agents)', '0', `${f1(t.idle.tuiCpuPct)}%`, f1(t.idle.tuiRssMb), '—', '—', '—', `${f1(t.idle.machineCpuPct)}%`],
    ['under load', f0(l.ackedPerSec), `${f1(l.tuiCpuPct)}%`, f1(l.tuiRssMb), `${f1(l.daemonCpuPct)}%`, `${f1(l.loadgenCpuPct)}%`, `${f1(l.tmuxServerCpuPct)}%`, `${f1(l.machineCpuPct)}%`],
  ];
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  out.push(line(rows[0] as string[]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line));
  out.push('   (dashboard / daemon / loadgen / tmux CPU: % of one core, utime+stime from /proc, all threads; machine CPU: % of all cores)');
  out.push(
    `   load: ${f0(l.sentPerSec)} sent/s, ${f0(l.ackedPerSec)} acked/s (target ${f0(s.rate)}/s ${t.rateReached ? 'reached' : 'NOT reached on this machine'}), spend→ack p50 ${l.p50Ms.toFixed(2)} ms p99 ${l.p99Ms.toFixed(2)} ms max ${l.maxMs.toFixed(1)} ms, unexpected replies ${l.unexpected}, window-full ticks ${l.windowFullTicks}/${l.ticks}`,
  );
  for (const u of l.unexpectedSamples) out.push(`   unexpected reply: ${u}`);
  out.push(`   screen during load: ${t.screen.live ? '● live' : 'NOT live'}, spent ${t.screen.spentBefore ?? '?'} → ${t.screen.spentAfter ?? '?'} (${t.screen.advancing ? 'advancing' : 'NOT advancing'})`);
  out.push(`   header: ${t.screen.header}`);
  const caveat = t.rateReached ? '' : ` — measured at ${f0(l.ackedPerSec)} events/s, below the ${f0(s.rate)}/s target: the daemon could not sustain it here`;
  out.push(`   goal: dashboard ≤ ${s.goalPct}% of one core under load, screen live and advancing  ${t.ok ? 'PASS' : 'FAIL'}${caveat}`);
  return out.join('\n');
}
