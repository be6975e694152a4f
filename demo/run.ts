import { setTimeout as sleep } from 'node:timers/promises';
import type { StatusJson } from '../shared/protocol/operator.js';
import { DemoAgent, type AgentEnv } from './agent.js';
import { joinDaemon, startEmbeddedDaemon, type DemoDaemon } from './daemon.js';
import { FakeProvider } from './fake-provider.js';
import { DemoLog, formatEntry } from './log.js';
import { Names } from './names.js';
import { Pace, type Random } from './pace.js';
import { runScenario, type ScenarioContext } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';
import { DemoStats } from './stats.js';
import { DaemonStatus, printStatusLines } from './status.js';
import { StopSwitch, type StopReason } from './stop.js';
import { loadTop, type RunTop } from './top.js';

/**
 * `spendguard demo`: a daemon (embedded, or joined with --url), simulated agents playing every
 * scenario over real sockets, and a view — the dashboard, or status lines when headless —
 * until the user quits, a signal arrives or the duration is over; then everything is stopped
 * and the temporary state dir removed.
 */

export interface DemoOptions {
  /** Show the dashboard; false prints a status line every 2 s. */
  readonly tui: boolean;
  /** stdin and stdout are a terminal: without one the dashboard cannot run and status lines are printed. */
  readonly terminal: boolean;
  /** Stop after this many (real) seconds. */
  readonly durationS: number | undefined;
  readonly speed: number;
  /** Join this running daemon instead of starting one. */
  readonly join: { readonly url: string; readonly stateDir: string | undefined } | undefined;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly random?: Random;
}

export interface DemoResult {
  readonly reason: StopReason;
  /** The dashboard did not unmount when asked: the caller must end the process to give the terminal back. */
  readonly dashboardStillUp: boolean;
}

const STATUS_EVERY_MS = 2_000;
/** Agents get this long to say `bye` (their clients drain commits first) before the daemon stops anyway. */
const AGENTS_STOP_MS = 5_000;
const DASHBOARD_UNMOUNT_MS = 1_000;
const ERRORS_SHOWN = 5;

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const log = new DemoLog(started);
  if (options.tui && !options.terminal) options.stderr.write('note: not a terminal, so no dashboard; printing status lines instead (--no-tui asks for this)\n');
  const top = options.tui && options.terminal ? await loadTop() : undefined;
  const dashboard: RunTop | undefined = top?.ok ? top.runTop : undefined;
  if (top && !top.ok) options.stderr.write(`note: no dashboard (${top.reason}); printing status lines instead\n`);
  if (!dashboard) log.printTo((line) => options.stdout.write(`${line}\n`));

  const stop = new StopSwitch();
  const signal = stop.signal;
  const names = options.join ? Names.fresh() : new Names(undefined);
  let toAbandon: DemoDaemon | undefined;
  // Watching before the daemon starts, so an early Ctrl-C still removes the temporary dir.
  const unwatch = stop.watch(options.durationS, () => toAbandon?.abandon());
  let daemon: DemoDaemon;
  try {
    daemon = options.join ? await joinDaemon(options.join.url, options.join.stateDir, options.env) : await startEmbeddedDaemon(names, log);
  } catch (err) {
    unwatch();
    throw err;
  }
  toAbandon = daemon;
  const status = new DaemonStatus(daemon.url, daemon.operatorToken);
  const stats = new DemoStats();
  let view: View | undefined;

  try {
    announce(options.stderr, daemon, names, dashboard !== undefined);
    const agents = playScenarios(daemon, names, { speed: options.speed, random: options.random ?? Math.random, log, stats, signal });
    view = dashboard ? new DashboardView(dashboard, daemon, stop) : { done: printStatusLines(status, log, STATUS_EVERY_MS, signal), up: () => false, failure: undefined };

    await stop.stopped();
    if (view.up()) await Promise.race([view.done, sleep(DASHBOARD_UNMOUNT_MS)]);
    const final = await status.fetch();
    await stopAgents(agents.open, agents.running);
    if (!view.up()) await view.done;
    log.flush();
    if (!view.up()) options.stdout.write(summary(stop.reason ?? 'quit', Date.now() - started, final, stats, daemon, names));
  } finally {
    unwatch();
    await status.close();
    await daemon.stop();
  }
  if (view.failure !== undefined) throw view.failure;
  if (dashboard) printErrors(options.stderr, log);
  return { reason: stop.reason ?? 'quit', dashboardStillUp: view.up() };
}

interface View {
  /** Settles when the view has ended (the dashboard unmounted, the status lines stopped). */
  readonly done: Promise<void>;
  /** The dashboard is still on screen. */
  up(): boolean;
  /** Why the dashboard failed, if it did. */
  readonly failure: unknown;
}

/** The dashboard on screen; the user quitting it stops the demo. */
class DashboardView implements View {
  readonly done: Promise<void>;
  failure: unknown;
  private shown = true;

  constructor(runTop: RunTop, daemon: DemoDaemon, stop: StopSwitch) {
    this.done = runTop({ url: daemon.url, token: daemon.operatorToken, readonly: false, signal: stop.signal })
      .catch((err: unknown) => {
        this.failure = err;
      })
      .finally(() => {
        this.shown = false;
        stop.stop('quit');
      });
  }

  up(): boolean {
    return this.shown;
  }
}

interface AgentSettings {
  readonly speed: number;
  readonly random: Random;
  readonly log: DemoLog;
  readonly stats: DemoStats;
  readonly signal: AbortSignal;
}

/** Starts every scenario; each runs round after round until `signal` aborts. */
function playScenarios(daemon: DemoDaemon, names: Names, s: AgentSettings): { running: Promise<void>[]; open: Set<DemoAgent> } {
  const pace = new Pace(s.speed);
  const env: AgentEnv = {
    url: daemon.url,
    token: daemon.agentToken,
    user: names.of('demo'),
    pace,
    provider: new FakeProvider(pace, s.random),
    log: s.log,
    stats: s.stats,
    signal: s.signal,
    open: new Set<DemoAgent>(),
  };
  const ctx: ScenarioContext = { pace, signal: s.signal, random: s.random, names, log: s.log, connect: (source, hello) => DemoAgent.connect(env, source, hello) };
  return { running: SCENARIOS.map((scenario) => runScenario(scenario, ctx)), open: env.open };
}

/** Closing a client ends a reserve parked for approval, which nothing else can interrupt. */
async function stopAgents(open: Set<DemoAgent>, running: readonly Promise<void>[]): Promise<void> {
  const settled = Promise.allSettled(running);
  await Promise.allSettled([...open].map((agent) => agent.close()));
  await Promise.race([settled, sleep(AGENTS_STOP_MS)]);
  // Any agent that finished connecting while the others closed.
  await Promise.allSettled([...open].map((agent) => agent.close()));
}

function announce(out: NodeJS.WritableStream, daemon: DemoDaemon, names: Names, dashboard: boolean): void {
  const flags = `--url ${daemon.url} --state-dir ${daemon.stateDir}`;
  const lines = [
    `spendguard demo: ${SCENARIOS.length} simulated stories (${SCENARIOS.map((s) => s.id).join(', ')}) — fake provider, no internet, no real money`,
    `demo daemon: ${daemon.url} state: ${daemon.stateDir}`,
  ];
  if (daemon.configPath) lines.push(`config: ${daemon.configPath} (edit and save it: the daemon reloads it live)`);
  else lines.push(`joined a running daemon: its own limits apply; this run's scopes end in .${names.tag ?? ''}`);
  if (dashboard) lines.push('q quits; the demo then stops its agents and cleans up');
  else lines.push(`operate it from another terminal: spendguard top|prompts|grant <id>|kill --all|resume --all ${flags}`);
  out.write(`${lines.join('\n')}\n`);
}

function summary(reason: StopReason, elapsedMs: number, final: StatusJson | undefined, stats: DemoStats, daemon: DemoDaemon, names: Names): string {
  const why = reason === 'duration' ? 'duration elapsed' : reason === 'signal' ? 'interrupted' : 'quit';
  const spent = final?.scopes[names.tag === undefined ? 'global' : `user:${names.of('demo')}`]?.spent.cost_usd;
  const money = typeof spent === 'number' ? `$${spent.toFixed(2)} spent, ` : '';
  const lines = [
    `demo stopped (${why}) after ${Math.round(elapsedMs / 1000)} s: ${money}${stats.calls} calls by ${stats.agents} agents; denials: ${stats.denialSummary()}`,
    daemon.embedded ? `daemon stopped; ${daemon.stateDir} removed` : `left ${daemon.url} running`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Under the dashboard nothing was printed; errors are worth seeing once it is gone. */
function printErrors(out: NodeJS.WritableStream, log: DemoLog): void {
  const errors = log.errors();
  if (errors.length === 0) return;
  out.write(`${errors.length} error${errors.length === 1 ? '' : 's'} during the demo${errors.length > ERRORS_SHOWN ? `, the last ${ERRORS_SHOWN}` : ''}:\n`);
  for (const e of errors.slice(-ERRORS_SHOWN)) out.write(`${formatEntry(e)}\n`);
}
