/**
 * The daemon's per-stage time (`spendguard_stage_seconds_total{stage}` on /metrics) over a
 * measured window, as µs per reserve→commit pair: where a pair's time goes, for the next person
 * who wants it faster.
 */

export const STAGE_NAMES = ['parse', 'engine', 'observers', 'send', 'handoff', 'bind', 'commit'] as const;
export type StageName = (typeof STAGE_NAMES)[number];
export type StageSeconds = Record<StageName, number>;

export async function readStages(metricsUrl: string): Promise<StageSeconds | null> {
  try {
    const text = await (await fetch(metricsUrl)).text();
    const out = {} as StageSeconds;
    for (const stage of STAGE_NAMES) {
      const m = new RegExp(`^spendguard_stage_seconds_total\\{stage="${stage}"\\} (\\S+)$`, 'm').exec(text);
      if (!m) return null;
      out[stage] = Number(m[1]);
    }
    return out;
  } catch {
    return null;
  }
}

/** µs per pair spent in each stage between two readings. */
export function perPair(before: StageSeconds | null, after: StageSeconds | null, pairs: number): StageSeconds | null {
  if (!before || !after || pairs <= 0) return null;
  const out = {} as StageSeconds;
  for (const stage of STAGE_NAMES) out[stage] = ((after[stage] - before[stage]) * 1e6) / pairs;
  return out;
}

/** Pair-weighted mean of several windows. */
export function meanStages(runs: ReadonlyArray<{ pairs: number; stages: StageSeconds | null | undefined }>): StageSeconds | null {
  const known = runs.filter((r): r is { pairs: number; stages: StageSeconds } => r.stages !== null && r.stages !== undefined);
  const pairs = known.reduce((s, r) => s + r.pairs, 0);
  if (pairs === 0) return null;
  const out = {} as StageSeconds;
  for (const stage of STAGE_NAMES) out[stage] = known.reduce((s, r) => s + r.stages[stage] * r.pairs, 0) / pairs;
  return out;
}
