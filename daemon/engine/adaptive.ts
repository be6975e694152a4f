/**
 * Adaptive reservation sizing (SPEC §3, `reservations.adaptive`): the grant's output tokens are
 * sized from the observed outputs of that agent and model (p99 plus a margin) instead of the
 * requested maximum, so siblings are not refused for budget that will never be used.
 */
const SAMPLES = 200;
const MIN_SAMPLES = 10;
const MARGIN = 1.2;
const MAX_KEYS = 10_000;

export class AdaptiveSizer {
  private readonly samples = new Map<string, number[]>();

  observe(agent: string, model: string | undefined, outputTokens: number): void {
    const key = `${agent}\u0000${model ?? ''}`;
    let list = this.samples.get(key);
    if (!list) {
      if (this.samples.size >= MAX_KEYS) this.samples.delete(this.samples.keys().next().value as string);
      list = [];
      this.samples.set(key, list);
    }
    list.push(outputTokens);
    if (list.length > SAMPLES) list.shift();
  }

  /** p99 × margin of the recent outputs, or undefined with too few samples. */
  estimate(agent: string, model: string | undefined): number | undefined {
    const list = this.samples.get(`${agent}\u0000${model ?? ''}`);
    if (!list || list.length < MIN_SAMPLES) return undefined;
    const sorted = [...list].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
    return Math.max(1, Math.ceil(p99 * MARGIN));
  }
}

export function adaptiveOutput(sizer: AdaptiveSizer, agent: string, model: string | undefined, requested: number): number {
  const est = sizer.estimate(agent, model);
  return est === undefined ? requested : Math.min(requested, est);
}
