import { int } from '../pace.js';
import { withAgent, type Scenario } from '../scenario.js';

/**
 * An agent in an approval-mode session (SPEC §3 "overdraft prompt"): it overdraws the small
 * session budget and its reserve gets `pending` until the operator answers. Granted, it goes
 * on (and overdraws again later); denied or timed out, it says so, waits and asks again with a
 * smaller request.
 */

const MODEL = 'gpt-4o';
const FULL_OUTPUT_TOKENS = 1_500;
const MIN_OUTPUT_TOKENS = 200;
const RETRY_AFTER_REFUSAL_MS = 10_000;
const RETRY_AFTER_OTHER_MS = 5_000;

/** The session whose limit the demo config keeps small and in `approval` mode. */
export const APPROVAL_SESSION = 'release';

export const approval: Scenario = {
  id: 'approval',
  startMs: 1_600,
  restMs: 5_000,
  async round(ctx, n) {
    const session = ctx.names.of(APPROVAL_SESSION);
    const hello = { session, task: ctx.names.of('needs-approval', n), agent: ctx.names.of('release-writer', n) };
    await withAgent(ctx, this.id, hello, async (agent) => {
      ctx.log.line(this.id, `${agent.name} drafts release notes in task:${hello.task}; session:${session} is approval-mode, so it will overdraw and wait for you`);
      let maxOutputTokens = FULL_OUTPUT_TOKENS;
      for (;;) {
        const r = await agent.call({
          model: MODEL,
          inputTokens: int(ctx.random, 2_500, 3_500),
          maxOutputTokens,
          naturalOutputTokens: int(ctx.random, 700, 1_000),
        });
        if (r.kind === 'ok') {
          maxOutputTokens = FULL_OUTPUT_TOKENS;
          await ctx.pace.sleep(int(ctx.random, 600, 1_000), ctx.signal);
          continue;
        }
        const { code, scope, message } = r.deny;
        if (code === 'APPROVAL_DENIED' || code === 'APPROVAL_TIMEOUT') {
          maxOutputTokens = Math.max(MIN_OUTPUT_TOKENS, Math.floor(maxOutputTokens / 2));
          ctx.log.line(this.id, `${agent.name} got ${code}: ${message}; it asks again in ${RETRY_AFTER_REFUSAL_MS / 1000} s for less (max_output_tokens ${maxOutputTokens})`);
          await ctx.pace.sleep(RETRY_AFTER_REFUSAL_MS, ctx.signal);
        } else if (code === 'BUDGET_EXCEEDED' && scope === `task:${hello.task}`) {
          ctx.log.line(this.id, `task:${hello.task} reached its hard cap (${message}); the next release task starts`);
          return;
        } else {
          ctx.log.line(this.id, `${agent.name} denied ${code} on ${scope}: ${message}; it asks again in ${RETRY_AFTER_OTHER_MS / 1000} s`);
          await ctx.pace.sleep(RETRY_AFTER_OTHER_MS, ctx.signal);
        }
      }
    });
  },
};
