import { performance } from 'node:perf_hooks';

/**
 * Where the daemon's time goes per request, cumulatively, for `npm run bench` and /metrics
 * (`spendguard_stage_seconds_total{stage}`): a few clock reads per request, so it stays on.
 *
 * - parse: a frame's bytes to a validated frame (JSON + schema).
 * - engine: the budget engine deciding (`handle`).
 * - observers: metrics and alert sinks looking at each event and its effects.
 * - send: replies serialised and handed to the sockets.
 * - handoff: a batch serialised and posted to the writer thread.
 * - bind: the batch's rows bound and inserted (on the ledger's writer thread).
 * - commit: the batch's transaction around them: BEGIN, COMMIT and its fsync (writer thread).
 *
 * The first five run on the main thread; bind and commit on the writer thread, off it.
 */
export const STAGES = ['parse', 'engine', 'observers', 'send', 'handoff', 'bind', 'commit'] as const;
export type Stage = (typeof STAGES)[number];

export class StageTimes {
  private readonly ms: Record<Stage, number> = { parse: 0, engine: 0, observers: 0, send: 0, handoff: 0, bind: 0, commit: 0 };

  /** A start time for `add`. */
  now(): number {
    return performance.now();
  }

  /** Adds the time since `since` (from `now()`) to `stage`. */
  since(stage: Stage, since: number): void {
    this.ms[stage] += performance.now() - since;
  }

  add(stage: Stage, ms: number): void {
    this.ms[stage] += ms;
  }

  seconds(stage: Stage): number {
    return this.ms[stage] / 1_000;
  }
}
