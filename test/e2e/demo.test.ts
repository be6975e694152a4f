import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OperatorClient } from '../../shared/client/operator.js';
import { PromptJson, type StatusJson } from '../../shared/protocol/operator.js';
import { BIN, waitFor as poll } from './daemon-process.js';

/**
 * `spendguard demo --no-tui` as a real process: its simulated agents run over real sockets
 * against its embedded daemon, which this test inspects and operates like a user would.
 * At --speed 4 the approval prompt comes at ~5 s and the loop detector stops the retry loop in
 * its first seconds (the
 * daemon's backpressure delays near the cap are real time and do not scale). Every step waits
 * for its event rather than for a clock, so a loaded machine makes the test slower, not red.
 */

const run = promisify(execFile);
const SPEED = 4;
/** Only a safety net: the scenario test ends the demo with Ctrl-C once it has seen everything. */
const SAFETY_DURATION_S = 120;
const CHILD_BUDGET_USD = 0.04;

interface DemoProcess {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  readonly signal: (name: NodeJS.Signals) => void;
  /** Ctrl-C, then SIGKILL (and removing the state dir it could not) if it does not go. */
  readonly ensureStopped: () => Promise<void>;
}

function startDemo(...args: string[]): DemoProcess {
  const child = spawn(process.execPath, [BIN, 'demo', '--no-tui', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
    exited,
    signal: (name) => child.kill(name),
    async ensureStopped() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      await Promise.race([exited, sleep(8_000)]);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
      const stateDir = /demo daemon: \S+ state: (\S+)/.exec(stderr)?.[1];
      if (stateDir?.includes('spendguard-demo-')) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function daemonLine(demo: DemoProcess): Promise<{ url: string; stateDir: string }> {
  return waitFor(
    'the demo daemon line on stderr',
    () => {
      const m = /demo daemon: (ws:\/\/\S+) state: (\S+)/.exec(demo.stderr());
      return m?.[1] && m[2] ? { url: m[1], stateDir: m[2] } : undefined;
    },
    30_000,
    demo.output,
  );
}

const waitFor = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, context: () => string): Promise<T> =>
  poll(what, probe, timeoutMs, context, 100);

function number(amounts: StatusJson['scopes'][string]['spent'] | undefined, key: string): number {
  const v = amounts?.[key];
  return typeof v === 'number' ? v : 0;
}

describe.concurrent('spendguard demo --no-tui', () => {
  it('stops by itself when --duration elapses, exits 0 and removes its temporary state dir', async () => {
    const demo = startDemo('--duration', '2');
    try {
      const { stateDir } = await daemonLine(demo);
      expect(existsSync(stateDir)).toBe(true);
      expect(await demo.exited).toBe(0);
      expect(demo.stdout()).toMatch(/demo stopped \(duration elapsed\) after \d+ s: \$\d+\.\d\d spent/);
      expect(demo.stdout()).toContain(`${stateDir} removed`);
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      await demo.ensureStopped();
    }
  });

  it('records spend, fans out, prompts, stops the retry loop, obeys kill/resume, and exits 0 on Ctrl-C leaving nothing behind', async () => {
    const demo = startDemo('--duration', String(SAFETY_DURATION_S), '--speed', String(SPEED));
    const output = demo.output;
    const stdout = (): string => demo.stdout();
    let operator: OperatorClient | undefined;

    try {
      const { url, stateDir } = await daemonLine(demo);
      const cli = async (...args: string[]): Promise<{ code: number; stdout: string }> => {
        try {
          const r = await run(process.execPath, [BIN, ...args, '--url', url, '--state-dir', stateDir]);
          return { code: 0, stdout: r.stdout };
        } catch (e) {
          const err = e as { code: number; stdout: string; stderr: string };
          return { code: err.code, stdout: `${err.stdout}${err.stderr}` };
        }
      };
      const token = readFileSync(join(stateDir, 'operator.token'), 'utf8').trim();
      operator = await OperatorClient.connect({ url, token });
      const op = operator;
      const status = async (): Promise<StatusJson> => {
        const s = (await op.request({ type: 'status' })).status;
        if (!s) throw new Error('status reply without a status');
        return s;
      };
      const globalCalls = async (): Promise<number> => number((await status()).scopes['global']?.spent, 'calls');

      // Live numbers within seconds.
      await waitFor('the first recorded spend', async () => (number((await status()).scopes['global']?.spent, 'cost_usd') > 0 ? true : undefined), 10_000, output);

      // The fan-out: ≥ 6 children, each spending only what was delegated to it.
      const delegated = await waitFor('the fan-out', () => /planner delegated \$0\.04 each to (\d+) sub-agents/.exec(stdout())?.[1], 10_000, output);
      expect(Number(delegated)).toBeGreaterThanOrEqual(6);
      // Its first round asks for 12 children: the fan-out detector stops it at 10.
      expect(stdout()).toMatch(/planner delegated \$0\.04 each to 10 sub-agents; 2 more refused FANOUT_LIMIT/);
      const children = await waitFor(
        'sub-agents that spent their delegated budget',
        async () => {
          const subs = Object.entries((await status()).scopes).filter(([id, s]) => /^agent:planner\.sub-\d\d$/.test(id) && number(s.spent, 'cost_usd') > 0);
          return subs.length >= 6 ? subs : undefined;
        },
        10_000,
        output,
      );
      for (const [, s] of children) expect(number(s.spent, 'cost_usd')).toBeLessThanOrEqual(CHILD_BUDGET_USD + 1e-9);

      // The approval prompt, listed by the CLI; granting it lets the agent go on.
      const prompt = await waitFor('an approval prompt', async () => (await op.request({ type: 'prompts' })).prompts?.[0], 30_000, output);
      expect(prompt).toMatchObject({ scope: 'session:release', agent: 'agent:release-writer' });
      const listed = await cli('prompts', '--json');
      expect(listed.code).toBe(0);
      expect(z.array(PromptJson).parse(JSON.parse(listed.stdout)).map((p) => p.id)).toContain(prompt.id);
      const before = number((await status()).scopes[prompt.agent]?.spent, 'cost_usd');
      expect((await cli('grant', prompt.id)).code).toBe(0);
      await waitFor('the approved agent to spend again', async () => (number((await status()).scopes[prompt.agent]?.spent, 'cost_usd') > before ? true : undefined), 8_000, output);
      // The agent logs the answer once its call is through, which can be just after its spend shows.
      await waitFor('the answered prompt in the log', () => (stdout().includes(`prompt ${prompt.id} answered`) ? true : undefined), 8_000, output);

      // The loop detector stops the retry loop at its 8th identical call, far below the task cap.
      await waitFor('the retry loop denied LOOP_DETECTED', () => (/test-fixer denied LOOP_DETECTED on agent:test-fixer/.test(stdout()) ? true : undefined), 40_000, output);
      const loop = (await status()).scopes['task:retry-loop'];
      expect(number(loop?.spent, 'cost_usd')).toBeGreaterThan(0);
      expect(number(loop?.spent, 'cost_usd')).toBeLessThan(number(loop?.limit, 'cost_usd') / 2);

      // Kill everything: agents stay connected but nothing more is spent; resume and they go on.
      expect((await cli('kill', '--all')).code).toBe(0);
      await sleep(500); // commits already on the wire when the kill landed
      const frozen = await globalCalls();
      await sleep(1_200);
      expect(await globalCalls()).toBe(frozen);
      expect((await status()).agents).toBeGreaterThan(0);
      expect(stdout()).toMatch(/kill on global \(killed by the operator\): \d+ agents? stops?/);
      await op.request({ type: 'resume', all: true });
      await waitFor('calls after resume', async () => ((await globalCalls()) > frozen ? true : undefined), 10_000, output);
      await waitFor('agents reporting they resumed', () => (/resumed: \d+ agents? continues?/.test(stdout()) ? true : undefined), 5_000, output);

      await operator.close();
      operator = undefined;
      demo.signal('SIGINT');
      expect(await demo.exited).toBe(0);
      expect(stdout()).toMatch(/demo stopped \(interrupted\) after \d+ s: \$\d+\.\d\d spent, \d+ calls by \d+ agents; denials: .*LOOP_DETECTED/);
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      await operator?.close();
      await demo.ensureStopped();
    }
  }, 120_000);
});
