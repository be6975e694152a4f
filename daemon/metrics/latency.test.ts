import { describe, expect, it } from 'vitest';
import { ReserveLatency } from './latency.js';

function tracker(): { l: ReserveLatency; seen: number[]; clock: { now: number } } {
  const seen: number[] = [];
  const clock = { now: 0 };
  return { l: new ReserveLatency((s) => seen.push(s), 2, () => clock.now), seen, clock };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ReserveLatency', () => {
  it('closes a batch without ledger rows at the end of its event-loop turn', async () => {
    const { l, seen, clock } = tracker();
    l.stamp();
    clock.now = 3;
    await turn();
    expect(seen).toEqual([0.003]);
  });

  it('waits for the durable write when the batch produced rows, however long it takes', async () => {
    const { l, seen, clock } = tracker();
    l.stamp();
    l.rowsProduced();
    await turn();
    expect(seen).toEqual([]);
    clock.now = 1;
    l.stamp();
    await turn();
    expect(seen).toEqual([]);
    clock.now = 5;
    l.flushed();
    expect(seen).toEqual([0.005, 0.004]);
  });

  it('counts reserves beyond its buffer instead of growing it', async () => {
    const { l, seen } = tracker();
    l.stamp();
    l.stamp();
    l.stamp();
    await turn();
    expect(seen).toHaveLength(2);
    expect(l.unsampled).toBe(1);
  });
});
