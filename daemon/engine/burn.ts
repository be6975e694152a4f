/** Spend per 10 s bucket over the last 10 minutes: enough for 1- and 10-minute burn rates. */
const BUCKET_MS = 10_000;
const BUCKETS = 60;

const NONE = new Float64Array(BUCKETS).fill(-1);

export class BurnMeter {
  // Allocated on the first spend: most scopes (an agent that only connects) never burn, and
  // 10,000 connected agents would otherwise hold 10,000 pairs of arrays.
  private buckets: Float64Array = NONE;
  private stamps: Float64Array = NONE;
  private firstMs: number | null = null;

  add(nowMs: number, costNano: number): void {
    if (this.firstMs === null) {
      this.firstMs = nowMs;
      this.buckets = new Float64Array(BUCKETS);
      this.stamps = new Float64Array(BUCKETS).fill(-1);
    }
    const slot = Math.floor(nowMs / BUCKET_MS);
    const i = slot % BUCKETS;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.buckets[i] = 0;
    }
    this.buckets[i] = (this.buckets[i] ?? 0) + costNano;
  }

  /**
   * Nano-USD per minute over the last `windowMs`, or null while the meter has seen less than a
   * sixth of the window (a rate from a few seconds of data would be invented, not measured).
   */
  ratePerMin(nowMs: number, windowMs: number): number | null {
    if (this.firstMs === null) return null;
    const observed = Math.min(windowMs, nowMs - this.firstMs);
    if (observed < windowMs / 6) return null;
    const nowSlot = Math.floor(nowMs / BUCKET_MS);
    const slots = Math.ceil(windowMs / BUCKET_MS);
    let sum = 0;
    for (let s = nowSlot - slots + 1; s <= nowSlot; s++) {
      const i = ((s % BUCKETS) + BUCKETS) % BUCKETS;
      if (this.stamps[i] === s) sum += this.buckets[i] ?? 0;
    }
    return (sum / observed) * 60_000;
  }

  /** Spend within the last `windowMs` (10 s resolution, at most 10 minutes). */
  sum(nowMs: number, windowMs: number): number {
    const nowSlot = Math.floor(nowMs / BUCKET_MS);
    const slots = Math.min(BUCKETS, Math.ceil(windowMs / BUCKET_MS));
    let sum = 0;
    for (let s = nowSlot - slots + 1; s <= nowSlot; s++) {
      const i = ((s % BUCKETS) + BUCKETS) % BUCKETS;
      if (this.stamps[i] === s) sum += this.buckets[i] ?? 0;
    }
    return sum;
  }

  /** Per-bucket spend, oldest first, for sparklines. */
  series(nowMs: number, count = 30): number[] {
    const nowSlot = Math.floor(nowMs / BUCKET_MS);
    const out: number[] = [];
    for (let s = nowSlot - count + 1; s <= nowSlot; s++) {
      const i = ((s % BUCKETS) + BUCKETS) % BUCKETS;
      out.push(this.stamps[i] === s ? (this.buckets[i] ?? 0) : 0);
    }
    return out;
  }
}
