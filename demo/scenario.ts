import type { AgentHello, DemoAgent } from './agent.js';
import type { DemoLog } from './log.js';
import type { Names } from './names.js';
import type { Pace, Random } from './pace.js';

/** What a scenario gets to play its part: time, randomness, names, the log, and agents. */
export interface ScenarioContext {
  readonly pace: Pace;
  /** Aborted when the demo stops. */
  readonly signal: AbortSignal;
  readonly random: Random;
  readonly names: Names;
  readonly log: DemoLog;
  connect(source: string, hello: AgentHello): Promise<DemoAgent>;
}

/**
 * One story of the demo (SPEC §1: a healthy worker, a loop, a fan-out, drift, an approval).
 * A round is one task from start to finish; the runner starts the next round with fresh ids
 * until the demo stops.
 */
export interface Scenario {
  /** Name in the log: `retry-loop`. */
  readonly id: string;
  /** Demo-time delay before the first round, so the opening lines arrive in a readable order. */
  readonly startMs: number;
  /** Demo-time pause between rounds. */
  readonly restMs: number;
  round(ctx: ScenarioContext, n: number): Promise<void>;
}

/** A scenario failing (a bug, a daemon gone for good) is logged and its next round starts after a pause. */
export async function runScenario(scenario: Scenario, ctx: ScenarioContext): Promise<void> {
  try {
    await ctx.pace.sleep(scenario.startMs, ctx.signal);
    for (let n = 1; ; n++) {
      try {
        await scenario.round(ctx, n);
      } catch (err) {
        if (ctx.signal.aborted) return;
        ctx.log.error(scenario.id, `${err instanceof Error ? err.message : String(err)}; the next round starts after a pause`);
      }
      await ctx.pace.sleep(scenario.restMs, ctx.signal);
    }
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
  }
}

/** Runs `work` with a connected agent and always says `bye` afterwards. */
export async function withAgent<T>(ctx: ScenarioContext, source: string, hello: AgentHello, work: (agent: DemoAgent) => Promise<T>): Promise<T> {
  const agent = await ctx.connect(source, hello);
  try {
    return await work(agent);
  } finally {
    await agent.close();
  }
}
