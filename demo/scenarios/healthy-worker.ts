import { int } from '../pace.js';
import { withAgent, type Scenario } from '../scenario.js';

/** Steady small calls on a cheap model: about $0.02/min against a $0.50 task cap, so it stays `ok`. */

const MODEL = 'gpt-4o-mini';
const CALLS_PER_TASK = 60;

export const healthyWorker: Scenario = {
  id: 'healthy-worker',
  startMs: 0,
  restMs: 3_000,
  async round(ctx, n) {
    const hello = { session: ctx.names.of('support'), task: ctx.names.of('healthy-worker', n), agent: ctx.names.of('summarizer', n) };
    await withAgent(ctx, this.id, hello, async (agent) => {
      ctx.log.line(this.id, `${agent.name} answers support tickets in task:${hello.task}: small ${MODEL} calls every ~1.5 s`);
      for (let i = 0; i < CALLS_PER_TASK; i++) {
        const r = await agent.call({
          model: MODEL,
          inputTokens: int(ctx.random, 900, 1_800),
          maxOutputTokens: 600,
          naturalOutputTokens: int(ctx.random, 150, 400),
        });
        if (r.kind === 'denied') {
          ctx.log.line(this.id, `${agent.name} denied ${r.deny.code}: ${r.deny.message}`);
          return;
        }
        await ctx.pace.sleep(int(ctx.random, 900, 1_600), ctx.signal);
      }
      ctx.log.line(this.id, `task:${hello.task} done after ${CALLS_PER_TASK} calls; the next ticket batch starts`);
    });
  },
};
