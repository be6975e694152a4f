import { usd as dollars } from '../../shared/format/units.js';
import type { DenyCode } from '../../shared/protocol/agent.js';
import type { CallSpec } from '../agent.js';
import { int } from '../pace.js';
import { withAgent, type Scenario, type ScenarioContext } from '../scenario.js';

/**
 * A planner delegates part of its task budget to 6–12 sub-agents (SPEC §1 "fan-out"); each
 * connects with `parent`, calls the priciest model until its delegated budget is used, and
 * says `bye`, which returns its remainder. The first round asks for 12 children so the fan-out
 * detector (`detectors.fanout.children`, 10 by default) refuses the last ones.
 */

const MODEL = 'claude-opus-4-1';
/** Ten of these, the plan and the report fit the $0.50 task cap of the demo config. */
const CHILD_BUDGET_USD = 0.04;
const FIRST_ROUND_CHILDREN = 12;
/** A child stops at its cap long before this; the bound only guards against a daemon without one. */
const MAX_CHILD_CALLS = 12;
const CHILD_STAGGER_MS = 300;

const PLAN: CallSpec = { model: MODEL, inputTokens: 1_200, maxOutputTokens: 500, naturalOutputTokens: 300 };
const REPORT: CallSpec = { model: MODEL, inputTokens: 1_500, maxOutputTokens: 400, naturalOutputTokens: 300 };

interface ChildOutcome {
  calls: number;
  stoppedBy: DenyCode | undefined;
}

export const fanOut: Scenario = {
  id: 'fan-out',
  startMs: 4_000,
  restMs: 30_000,
  async round(ctx, n) {
    const session = ctx.names.of('research');
    const task = ctx.names.of('fan-out', n);
    await withAgent(ctx, this.id, { session, task, agent: ctx.names.of('planner', n) }, async (planner) => {
      ctx.log.line(this.id, `${planner.name} plans a research report in task:${task} on ${MODEL}, then fans out to sub-agents`);
      const plan = await planner.call(PLAN);
      if (plan.kind === 'denied') {
        ctx.log.line(this.id, `${planner.name} denied ${plan.deny.code}: ${plan.deny.message}`);
        return;
      }
      const wanted = n === 1 ? FIRST_ROUND_CHILDREN : int(ctx.random, 6, 12);
      const children: string[] = [];
      let refused: { code: DenyCode; message: string; count: number } | undefined;
      for (let i = 1; i <= wanted; i++) {
        const child = `${planner.name}.sub-${String(i).padStart(2, '0')}`;
        const outcome = await planner.delegate(child, CHILD_BUDGET_USD);
        if (outcome.kind === 'delegated') children.push(child);
        else refused = { code: outcome.deny.code, message: outcome.deny.message, count: (refused?.count ?? 0) + 1 };
      }
      const refusal = refused ? `; ${refused.count} more refused ${refused.code}: ${refused.message}` : '';
      ctx.log.line(this.id, `${planner.name} delegated ${dollars(CHILD_BUDGET_USD)} each to ${children.length} sub-agents${refusal}`);

      const settled = await Promise.allSettled(children.map((child, i) => runChild(ctx, this.id, { session, task, parent: planner.name, agent: child }, i)));
      ctx.signal.throwIfAborted();
      const outcomes = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      for (const r of settled) if (r.status === 'rejected') ctx.log.error(this.id, `a sub-agent of ${planner.name} failed: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
      const calls = outcomes.reduce((sum, o) => sum + o.calls, 0);
      const capped = outcomes.filter((o) => o.stoppedBy === 'BUDGET_EXCEEDED').length;
      ctx.log.line(this.id, `${outcomes.length} sub-agents made ${calls} ${MODEL} calls; ${capped} stopped at their own ${dollars(CHILD_BUDGET_USD)} cap; all said bye and their remainders went back to ${planner.name}`);

      const report = await planner.call(REPORT);
      if (report.kind === 'denied') ctx.log.line(this.id, `${planner.name} could not write the report: ${report.deny.code}: ${report.deny.message}`);
      else ctx.log.line(this.id, `${planner.name} wrote the report; task:${task} is done`);
    });
  },
};

async function runChild(ctx: ScenarioContext, source: string, hello: { session: string; task: string; parent: string; agent: string }, index: number): Promise<ChildOutcome> {
  await ctx.pace.sleep(index * CHILD_STAGGER_MS, ctx.signal);
  return withAgent(ctx, source, hello, async (sub) => {
    const outcome: ChildOutcome = { calls: 0, stoppedBy: undefined };
    while (outcome.calls < MAX_CHILD_CALLS) {
      const r = await sub.call({ model: MODEL, inputTokens: int(ctx.random, 500, 700), maxOutputTokens: 250, naturalOutputTokens: int(ctx.random, 100, 200) });
      if (r.kind === 'denied') {
        outcome.stoppedBy = r.deny.code;
        break;
      }
      outcome.calls += 1;
      await ctx.pace.sleep(int(ctx.random, 300, 800), ctx.signal);
    }
    return outcome;
  });
}
