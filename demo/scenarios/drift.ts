import type { Pressure } from '../../shared/protocol/agent.js';
import { withAgent, type Scenario } from '../scenario.js';

/**
 * A task that wanders (SPEC §1 "drift"): every call re-sends a bigger context, more often, so
 * its burn climbs from ~$0.2/min to ~$1.6/min. Around 50 s it crosses warning, then critical;
 * grants then carry backpressure `delay_ms` (which `guard()` waits out) and, through `routing`,
 * a cheaper `suggested_model` it switches to. It ends when the task's cap denies it.
 */

const MODEL = 'gpt-4o';
const PRESSURES: readonly Pressure[] = ['ok', 'warning', 'critical', 'exceeded'];
/** Bound on one round, should the cap never come (a daemon with other limits). */
const MAX_ROUND_MS = 180_000;

export interface DriftStep {
  readonly inputTokens: number;
  readonly naturalOutputTokens: number;
  readonly maxOutputTokens: number;
  /** Demo-time pause before the next call. */
  readonly gapMs: number;
}

/** Call `i` of a drifting task. Input never shrinks: that is what the amplification detector sees. */
export function driftStep(i: number): DriftStep {
  const naturalOutputTokens = Math.min(1_000, Math.round(300 * 1.04 ** i));
  return {
    inputTokens: Math.min(14_000, Math.round(2_000 * 1.08 ** i)),
    naturalOutputTokens,
    maxOutputTokens: naturalOutputTokens * 2,
    gapMs: Math.max(1_000, 2_000 * 0.96 ** i),
  };
}

export const drift: Scenario = {
  id: 'drift',
  startMs: 1_200,
  restMs: 10_000,
  async round(ctx, n) {
    const hello = { session: ctx.names.of('refactor'), task: ctx.names.of('drift', n), agent: ctx.names.of('refactorer', n) };
    await withAgent(ctx, this.id, hello, async (agent) => {
      ctx.log.line(this.id, `${agent.name} refactors one module in task:${hello.task}, then wanders: bigger contexts, more often (burn climbs from ~$0.2/min)`);
      const deadline = Date.now() + ctx.pace.real(MAX_ROUND_MS);
      let model = MODEL;
      // Pressure and delay wobble as reservations come and go; only a rise is news.
      let shown = { level: 0, delay_ms: 0 };
      for (let i = 0; ; i++) {
        if (Date.now() > deadline) {
          ctx.log.line(this.id, `${agent.name} wrapped up task:${hello.task} after ${i} calls`);
          return;
        }
        const step = driftStep(i);
        const r = await agent.call({ model, ...step, applySuggestedModel: true });
        if (r.kind === 'denied') {
          ctx.log.line(this.id, `${agent.name} denied ${r.deny.code} on ${r.deny.scope} after ${i} calls: ${r.deny.message}; task:${hello.task} ends here`);
          return;
        }
        const { pressure, delay_ms, suggested_model } = r.grant;
        const level = PRESSURES.indexOf(pressure);
        if (level > shown.level || delay_ms > shown.delay_ms) {
          const waited = delay_ms > 0 ? `; backpressure: the grant carries delay_ms ${delay_ms}, which guard() waits before calling` : '';
          ctx.log.line(this.id, `${agent.name}'s grants say pressure ${pressure} after ${i + 1} calls (input now ${step.inputTokens} tokens)${waited}`);
          shown = { level: Math.max(level, shown.level), delay_ms: Math.max(delay_ms, shown.delay_ms) };
        }
        if (suggested_model !== undefined && suggested_model !== model) {
          ctx.log.line(this.id, `${agent.name} switches from ${model} to ${suggested_model}, as the daemon suggests at ${pressure} pressure`);
          model = suggested_model;
        }
        await ctx.pace.sleep(step.gapMs, ctx.signal);
      }
    });
  },
};
