import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BIN, REPO } from '../test/e2e/daemon-process.js';
import { startBenchDaemon } from './daemon.js';
import { percentile } from './proc.js';

/**
 * How long the commands that run often take, whole process, against a live daemon: a status bar
 * runs `spendguard status --line` every few seconds, Claude Code runs the hook before every tool
 * call. Measured in the same run as a bare `node -e 0` — the floor no node program beats — with
 * the commands interleaved round by round, so a busy moment on the machine hits all of them.
 * Goal: within 2× of bare node (compiled code that loads only what the command uses).
 */

export interface StartupRow {
  readonly name: string;
  readonly p50Ms: number;
  readonly p90Ms: number;
  /** p50 over bare node's p50; 1 for bare node itself. */
  readonly ratio: number;
}

export interface StartupResult {
  readonly runs: number;
  readonly rows: readonly StartupRow[];
  readonly goalRatio: number;
  readonly ok: boolean;
}

const HOOK_BIN = join(REPO, 'bin', 'spendguard-hook.js');
/** A process that has not exited by then is hung, not slow. */
const RUN_TIMEOUT_MS = 30_000;

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  /** PreToolUse JSON for round `i`, for the hooks; nothing for the others. */
  readonly stdin?: (i: number) => string;
  /** The goal applies to it (bare node is the yardstick, the dedicated hook bin a reference). */
  readonly judged: boolean;
}

/** A different command each call: the loop detector refuses the same call repeated. */
const toolCall = (session: string) => (i: number): string =>
  JSON.stringify({ session_id: session, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: `make -j${i}` } });

function timed(c: Case, i: number): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, c.args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2_000)));
  child.stdin.end(c.stdin?.(i) ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  return new Promise((resolve, reject) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${c.name} (run ${i}) exited ${code ?? signal}: ${stderr}`));
    }),
  );
}

export async function runStartup(opts: { runs: number; goalRatio: number }): Promise<StartupResult> {
  const d = await startBenchDaemon('limits:\n  session: { cost_usd: 100, mode: hard }\n  task: { cost_usd: 100, mode: hard }\n');
  try {
    const target = ['--url', d.url, '--state-dir', d.stateDir];
    const cases: readonly Case[] = [
      { name: 'node -e 0 (bare node)', args: ['-e', '0'], judged: false },
      { name: 'spendguard status --line', args: [BIN, 'status', '--line', ...target], judged: true },
      { name: 'spendguard hook claude-code', args: [BIN, 'hook', 'claude-code', ...target], stdin: toolCall('bench-startup-cli'), judged: true },
      { name: 'spendguard-hook claude-code', args: [HOOK_BIN, 'claude-code', ...target], stdin: toolCall('bench-startup-bin'), judged: false },
    ];
    // One unmeasured round: the first run of each reads its files from disk, not from the page cache.
    for (const c of cases) await timed(c, -1);
    const times = cases.map(() => [] as number[]);
    for (let i = 0; i < opts.runs; i++) {
      for (const [k, c] of cases.entries()) times[k]?.push(await timed(c, i));
    }
    const sorted = times.map((t) => [...t].sort((a, b) => a - b));
    const bareP50 = percentile(sorted[0] ?? [], 50);
    const rows = cases.map((c, k) => {
      const s = sorted[k] ?? [];
      const p50Ms = percentile(s, 50);
      return { name: c.name, p50Ms, p90Ms: percentile(s, 90), ratio: p50Ms / bareP50 };
    });
    const ok = rows.every((r, k) => !cases[k]?.judged || r.ratio <= opts.goalRatio);
    return { runs: opts.runs, rows, goalRatio: opts.goalRatio, ok };
  } finally {
    await d.stop();
  }
}

export function formatStartup(r: StartupResult): string {
  const width = Math.max(...r.rows.map((row) => row.name.length));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(width) : c.padStart(8))).join('  ');
  return [
    `Start-up: whole process against a live daemon, ${r.runs} runs each, interleaved (p50 / p90 ms, p50 over bare node's)`,
    line(['command', 'p50 ms', 'p90 ms', '× node']),
    line(['-'.repeat(width), ...Array.from({ length: 3 }, () => '-'.repeat(8))]),
    ...r.rows.map((row) => line([row.name, row.p50Ms.toFixed(1), row.p90Ms.toFixed(1), `${row.ratio.toFixed(2)}×`])),
    `   goal: status --line and hook claude-code within ${r.goalRatio}× of bare node  ${r.ok ? 'PASS' : 'FAIL'}`,
  ].join('\n');
}
