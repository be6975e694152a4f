import { machineTicks } from '../throughput.js';
import { sleep } from '../proc.js';

/**
 * This machine has 2 cores and the load generator and the server take both: any other work on it
 * (a test run, a build) lands straight in the figures. Before each measurement the peer bench
 * waits, within a budget shared by the whole phase, until the machine is idle; a measurement
 * during which another process still took more than NOISY_PCT of a core is taken again (up to
 * `--peer-attempts` measurements, and half as many repeats as slots in all; the least
 * disturbed one is kept, and marked in the output if still disturbed).
 */

/** CPU of no bench process during a measurement above which it counts as disturbed, % of one core. */
export const NOISY_PCT = 15;

/** Machine busy, % of all cores, below which it counts as idle between measurements. */
const IDLE_PCT = 10;

/** Waits until the machine is idle over 500 ms, or the shared `budget` (ms) runs out. */
export async function waitIdle(budget: { ms: number }): Promise<void> {
  while (budget.ms > 0) {
    const a = machineTicks();
    await sleep(500);
    budget.ms -= 500;
    const b = machineTicks();
    if (a === undefined || b === undefined || b.total <= a.total) return;
    if (((b.busy - a.busy) / (b.total - a.total)) * 100 < IDLE_PCT) return;
  }
}
