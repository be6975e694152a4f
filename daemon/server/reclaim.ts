import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Gives memory back after many scopes left it. Node returns freed heap pages to the system only
 * after a full collection, which a quiet daemon may not run for a long while: 50,000 scopes that
 * left memory would keep their pages (hundreds of MB) until then. A full collection of the small
 * heap that is left takes a few milliseconds, and runs only when the daemon is idle enough to
 * have evicted thousands of scopes.
 */
export const RECLAIM_AFTER_EVICTIONS = 2_000;

let collect: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    collect = typeof gc === 'function' ? () => (gc as () => void)() : null;
  } catch {
    collect = null;
  }
  return collect;
}

export class Reclaimer {
  private seen = 0;

  /** Call on the tick with the engine's eviction count; collects once enough scopes have left. */
  maybeCollect(evictedTotal: number): boolean {
    if (evictedTotal - this.seen < RECLAIM_AFTER_EVICTIONS) return false;
    this.seen = evictedTotal;
    const gc = collector();
    if (!gc) return false;
    gc();
    return true;
  }
}
