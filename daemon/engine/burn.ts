/**
 * Spend per 10 s bucket over the last 10 minutes: enough for the 1- and 10-minute burn rates of
 * status and the sparkline. The burn-rate breaker, whose window is configured (up to 366 days),
 * keeps its own `WindowSum` instead.
 */
const BUCKET_MS = 10_000;
const BUCKETS = 60;

// Plain arrays, not typed ones: a Float64Array's store is malloc'd outside the JS heap, where the
// memory of scopes that left is not given back to the system (glibc keeps it); heap pages are.
// Shared by every meter that never burned; never written (`add` allocates first).
const NONE: number[] = new Array<number>(BUCKETS).fill(-1);

export class BurnMeter {
  // Allocated on the first spend: most scopes (an agent that only connects) never burn, and
  // 10,000 connected agents would otherwise hold 10,000 pairs of arrays.
  private buckets: number[] = NONE;
  private stamps: number[] = NONE;
  private firstMs: number | null = null;
  /** The amount of the latest `add` (nano-USD on a cost meter): what the burn-rate breaker adds to its window. */
  last_added = 0;

  add(nowMs: number, costNano: number): void {
    this.last_added = costNano;
    if (this.firstMs === null) {
      this.firstMs = nowMs;
      this.buckets = new Array<number>(BUCKETS).fill(0);
      this.stamps = new Array<number>(BUCKETS).fill(-1);
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

/** Buckets of a `WindowSum`: its resolution is a sixtieth of its window. */
export const WINDOW_BUCKETS = 60;
const NONE_WINDOW: number[] = new Array<number>(WINDOW_BUCKETS).fill(-1);

/**
 * Spend within a sliding window of any length (the burn-rate breaker's `window`): 60 buckets of
 * window/60 each, so memory is fixed (two 60-slot arrays) whatever the window, and a spend
 * counts for between 59/60 of the window and the whole window after it happened.
 */
export class WindowSum {
  readonly bucket_ms: number;
  // Allocated on the first spend, like BurnMeter's: a scope that never spends holds nothing.
  private buckets: number[] = NONE_WINDOW;
  private stamps: number[] = NONE_WINDOW;
  /** Time of the latest spend, or null before the first. */
  last_ms: number | null = null;

  constructor(readonly window_ms: number) {
    this.bucket_ms = Math.max(1, Math.ceil(window_ms / WINDOW_BUCKETS));
  }

  add(nowMs: number, costNano: number): void {
    if (this.last_ms === null) {
      this.buckets = new Array<number>(WINDOW_BUCKETS).fill(0);
      this.stamps = new Array<number>(WINDOW_BUCKETS).fill(-1);
    }
    this.last_ms = Math.max(this.last_ms ?? nowMs, nowMs);
    const slot = Math.floor(nowMs / this.bucket_ms);
    const i = slot % WINDOW_BUCKETS;
    const stamp = this.stamps[i] ?? -1;
    // A slot older than the one held there is outside the window already (re-bucketing adds
    // history oldest first, so this only drops what has slid out).
    if (slot < stamp) return;
    if (slot > stamp) {
      this.stamps[i] = slot;
      this.buckets[i] = 0;
    }
    this.buckets[i] = (this.buckets[i] ?? 0) + costNano;
  }

  /** Spend within the window ending at `nowMs`. */
  sum(nowMs: number): number {
    if (this.last_ms === null) return 0;
    const nowSlot = Math.floor(nowMs / this.bucket_ms);
    let sum = 0;
    for (let i = 0; i < WINDOW_BUCKETS; i++) {
      const stamp = this.stamps[i] ?? -1;
      if (stamp > nowSlot - WINDOW_BUCKETS && stamp <= nowSlot) sum += this.buckets[i] ?? 0;
    }
    return sum;
  }

  /** True while some spend is still inside the window: forgetting it would reset the breaker. */
  holds(nowMs: number): boolean {
    return this.last_ms !== null && nowMs - this.last_ms < this.window_ms;
  }

  /** The same history in a window of another length (a config reload), oldest bucket first. */
  resized(windowMs: number): WindowSum {
    const out = new WindowSum(windowMs);
    if (this.last_ms === null) return out;
    const order = [...this.stamps.keys()].filter((i) => (this.stamps[i] ?? -1) >= 0).sort((a, b) => (this.stamps[a] ?? 0) - (this.stamps[b] ?? 0));
    for (const i of order) out.add((this.stamps[i] ?? 0) * this.bucket_ms, this.buckets[i] ?? 0);
    out.last_ms = this.last_ms;
    return out;
  }
}
