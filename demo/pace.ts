import { setTimeout as sleepFor } from 'node:timers/promises';

/** Fastest and slowest `--speed`: beyond these the story is either unwatchable or a blur of timeouts. */
export const MIN_SPEED = 0.1;
export const MAX_SPEED = 20;

/**
 * Demo time. Every scenario wait and every fake provider latency goes through here, so
 * `--speed 3` plays the whole story three times faster. Daemon-side times (backpressure
 * delays, approval timeouts, breaker resets) are real and stay unscaled.
 */
export class Pace {
  constructor(readonly speed: number) {
    if (!(speed >= MIN_SPEED && speed <= MAX_SPEED)) throw new RangeError(`speed must be between ${MIN_SPEED} and ${MAX_SPEED}, got ${speed}`);
  }

  /** Real milliseconds for `ms` of demo time. */
  real(ms: number): number {
    return Math.max(0, Math.round(ms / this.speed));
  }

  /** Rejects with the signal's reason when it aborts (the demo is stopping). */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return sleepFor(this.real(ms), undefined, { signal });
  }
}

export type Random = () => number;

/** A uniform integer in [lo, hi]. */
export function int(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** `value` ± `fraction` of it, uniformly. */
export function jitter(random: Random, value: number, fraction: number): number {
  return value * (1 + (random() * 2 - 1) * fraction);
}
