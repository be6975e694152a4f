import { describe, expect, it } from 'vitest';
import { FairQueue } from './fair-queue.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function source(): { paused: boolean; pauses: number; pause(): void; resume(): void } {
  return {
    paused: false,
    pauses: 0,
    pause() {
      this.paused = true;
      this.pauses += 1;
    },
    resume() {
      this.paused = false;
    },
  };
}

describe('FairQueue', () => {
  it("serves a quiet connection's frame in the first round, however much a flooder queued before it", async () => {
    const served: string[] = [];
    const q = new FairQueue<string, string>((k, item) => served.push(`${k}:${item}`), (e) => {
      throw e;
    }, { perRound: 4, perTurn: 64, pauseAt: 1_000_000, resumeAt: 0 });
    const flood = source();
    for (let i = 0; i < 10_000; i++) q.add('flood', String(i), flood);
    q.add('calm', 'x', source());
    await turn();
    expect(served.indexOf('calm:x')).toBeLessThan(8);
    expect(served.length).toBeLessThanOrEqual(64);
  });

  it('pauses a connection whose queue outgrows pauseAt, resumes it once drained, and loses nothing', async () => {
    const served: number[] = [];
    const q = new FairQueue<number, number>((_k, item) => served.push(item), (e) => {
      throw e;
    }, { perRound: 8, perTurn: 32, pauseAt: 64, resumeAt: 16 });
    const s = source();
    for (let i = 0; i < 200; i++) q.add(1, i, s);
    expect(s.paused).toBe(true);
    expect(s.pauses).toBe(1);
    while (served.length < 200) await turn();
    expect(s.paused).toBe(false);
    expect(served).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(q.queued).toBe(0);
  });

  it("serves a closed connection's queued frames before its end, then forgets it", async () => {
    const served: string[] = [];
    const q = new FairQueue<number, string>((_k, item) => served.push(item), (e) => {
      throw e;
    });
    const s = source();
    q.add(7, 'commit', s);
    q.add(7, 'spend', s);
    q.end(7, 'closed');
    while (served.length < 3) await turn();
    expect(served).toEqual(['commit', 'spend', 'closed']);
    q.end(8, 'closed-at-once');
    expect(served.at(-1)).toBe('closed-at-once');
  });

  it('a throwing handler costs only its own frame', async () => {
    const served: number[] = [];
    const errors: unknown[] = [];
    const q = new FairQueue<number, number>((_k, item) => {
      if (item === 1) throw new Error('bad frame');
      served.push(item);
    }, (e) => errors.push(e));
    const s = source();
    for (const i of [0, 1, 2]) q.add(1, i, s);
    while (served.length < 2) await turn();
    expect(served).toEqual([0, 2]);
    expect(errors).toHaveLength(1);
  });
});
