import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO } from '../test/e2e/daemon-process.js';
import { startBenchDaemon } from './daemon.js';

/**
 * The Claude Code PreToolUse hook (`bin/spendguard-hook.js`, plain node) as Claude Code runs it:
 * a fresh process per tool call with the payload on stdin, against a live daemon. Reports the
 * hook's own decision time (connect, ask, answer: the part spendguard controls, goal ≤ 100 ms),
 * the whole process, and a bare `node -e ''` for the share that is Node's own start-up.
 */

export interface HookResult {
  readonly runs: number;
  readonly decidedP50Ms: number;
  readonly decidedP95Ms: number;
  readonly processP50Ms: number;
  readonly processP95Ms: number;
  readonly bareNodeP50Ms: number;
  readonly goalMs: number;
  readonly ok: boolean;
}

const HOOK_BIN = join(REPO, 'bin', 'spendguard-hook.js');

function timed(args: readonly string[], stdin: string): Promise<{ ms: number; code: number; stderr: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ ms: performance.now() - started, code: code ?? -1, stderr })));
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

export async function runHook(opts: { runs: number; goalMs: number }): Promise<HookResult> {
  const d = await startBenchDaemon('limits:\n  session: { cost_usd: 100, mode: hard }\n');
  try {
    const decided: number[] = [];
    const whole: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      // A different command each call: identical calls in a row would be refused as a loop.
      const payload = JSON.stringify({ session_id: 'bench-hook', hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: `make -j${i}` } });
      const r = await timed([HOOK_BIN, 'claude-code', '--timing', '--url', d.url, '--state-dir', d.stateDir], payload);
      const m = /decided in ([\d.]+) ms/.exec(r.stderr);
      if (r.code !== 0 || !m) throw new Error(`hook run ${i} exited ${r.code}: ${r.stderr}`);
      decided.push(Number(m[1]));
      whole.push(r.ms);
      bare.push((await timed(['-e', ''], '')).ms);
    }
    const decidedP95Ms = quantile(decided, 0.95);
    return {
      runs: opts.runs,
      decidedP50Ms: quantile(decided, 0.5),
      decidedP95Ms,
      processP50Ms: quantile(whole, 0.5),
      processP95Ms: quantile(whole, 0.95),
      bareNodeP50Ms: quantile(bare, 0.5),
      goalMs: opts.goalMs,
      ok: decidedP95Ms <= opts.goalMs,
    };
  } finally {
    await d.stop();
  }
}

export function formatHook(h: HookResult): string {
  const f = (n: number): string => n.toFixed(1);
  return [
    `Claude Code hook, ${h.runs} tool calls (a process each, plain node)`,
    `  decision p50 ${f(h.decidedP50Ms)} ms, p95 ${f(h.decidedP95Ms)} ms (goal ≤ ${h.goalMs} ms): ${h.ok ? 'PASS' : 'FAIL'}`,
    `  whole process p50 ${f(h.processP50Ms)} ms, p95 ${f(h.processP95Ms)} ms; bare \`node -e ''\` p50 ${f(h.bareNodeP50Ms)} ms`,
  ].join('\n');
}
