import type { DenyCode } from '../../shared/protocol/agent.js';
import type { CallSpec } from '../agent.js';
import { withAgent, type Scenario } from '../scenario.js';

/**
 * The same failing call retried every ~0.5 s (SPEC §1 "loops"): about $1.35/min on gpt-4o
 * until the task's hard cap ($0.50 in the demo config, ~30 s) denies it, after which it keeps hammering and keeps being
 * denied (BUDGET_EXCEEDED, then CIRCUIT_OPEN once the denial breaker trips). It passes `tool`
 * and `args_hash`, so the loop detector (`detectors.loop.repeats`) can stop it much earlier.
 */

const CALL: CallSpec = {
  model: 'gpt-4o',
  inputTokens: 4_000,
  maxOutputTokens: 1_024,
  naturalOutputTokens: 240,
  tool: 'run_tests',
  // Same tool, same arguments, every time: that is what makes it a loop.
  argsHash: 'sha256:4f1c9e0b7a2d',
};
/** Pause after a paid call (the call itself takes ~0.25 s) and after a denial. */
const AFTER_CALL_MS = 300;
const AFTER_DENIAL_MS = 500;
/** How long it hammers a closed door before its CI job times out and a new job starts. */
const GIVE_UP_AFTER_MS = 30_000;

export const retryLoop: Scenario = {
  id: 'retry-loop',
  startMs: 400,
  restMs: 5_000,
  async round(ctx, n) {
    const hello = { session: ctx.names.of('ci'), task: ctx.names.of('retry-loop', n), agent: ctx.names.of('test-fixer', n) };
    await withAgent(ctx, this.id, hello, async (agent) => {
      ctx.log.line(this.id, `${agent.name} asks ${CALL.model} to fix a failing test in task:${hello.task}; the fix fails and it retries the same call every ~0.5 s (~$1.35/min)`);
      const seen = new Set<DenyCode>();
      let paid = 0;
      let deniedMs = 0;
      for (;;) {
        const r = await agent.call(CALL);
        if (r.kind === 'ok') {
          paid += 1;
          deniedMs = 0;
          await ctx.pace.sleep(AFTER_CALL_MS, ctx.signal);
          continue;
        }
        if (!seen.has(r.deny.code)) {
          seen.add(r.deny.code);
          ctx.log.line(this.id, `${agent.name} denied ${r.deny.code} on ${r.deny.scope} after ${paid} paid calls: ${r.deny.message} — the loop keeps retrying`);
        }
        deniedMs += AFTER_DENIAL_MS;
        if (deniedMs >= GIVE_UP_AFTER_MS) {
          ctx.log.line(this.id, `${agent.name}'s CI job timed out after ${paid} paid calls and ${Math.round(deniedMs / 1000)} s of denials; CI starts a new job`);
          return;
        }
        await ctx.pace.sleep(AFTER_DENIAL_MS, ctx.signal);
      }
    });
  },
};
