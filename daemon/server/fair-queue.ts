/**
 * Per-connection fair scheduling. Every frame a connection sends waits in that connection's own
 * queue; queues are served round robin, a few frames each per round and a bounded number per
 * event-loop turn, so the durable batch after each turn stays small and no connection waits
 * behind another's flood. A connection whose queue grows past `pauseAt` is paused — its socket
 * is not read, so TCP pushes back on the sender — and resumed once its queue drains: a flooder
 * is slowed to what it is served, never dropped, and nothing it sent is lost.
 */

export interface Pausable {
  pause(): void;
  resume(): void;
}

export interface FairQueueOptions {
  /** Frames served from one connection before the next connection's turn. */
  readonly perRound: number;
  /** Frames served per event-loop turn in all (the rest wait for the next turn). */
  readonly perTurn: number;
  /** Queue length at which a connection is paused, and at or below which it is resumed. */
  readonly pauseAt: number;
  readonly resumeAt: number;
}

// 128 a turn: a turn (its durable batch included) stays a few ms, so a quiet agent waits at most that.
export const FAIR_DEFAULTS: FairQueueOptions = { perRound: 8, perTurn: 128, pauseAt: 64, resumeAt: 16 };

interface Lane<T> {
  readonly items: T[];
  /** Index of the next item to serve (the array is compacted when drained). */
  head: number;
  readonly source: Pausable;
  paused: boolean;
  /** Its connection closed: the lane goes once drained. */
  ending: boolean;
}

export class FairQueue<K, T> {
  private readonly lanes = new Map<K, Lane<T>>();
  /** Lanes with work, in round-robin order (a Map keeps insertion order; a served lane moves to the back). */
  private readonly ready = new Map<K, Lane<T>>();
  private scheduled = false;

  constructor(
    private readonly serve: (key: K, item: T) => void,
    private readonly onError: (error: unknown) => void,
    private readonly opts: FairQueueOptions = FAIR_DEFAULTS,
  ) {}

  add(key: K, item: T, source: Pausable): void {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { items: [], head: 0, source, paused: false, ending: false };
      this.lanes.set(key, lane);
    }
    lane.items.push(item);
    if (!this.ready.has(key)) this.ready.set(key, lane);
    if (!lane.paused && lane.items.length - lane.head >= this.opts.pauseAt) {
      lane.paused = true;
      lane.source.pause();
    }
    this.schedule();
  }

  /**
   * The connection closed: `last` is served after everything it still had queued (frames that
   * may carry spent money come before its disconnect), and then its lane is gone.
   */
  end(key: K, last: T): void {
    const lane = this.lanes.get(key);
    if (!lane) {
      this.serveSafely(key, last);
      return;
    }
    lane.ending = true;
    lane.items.push(last);
    if (!this.ready.has(key)) this.ready.set(key, lane);
    this.schedule();
  }

  private serveSafely(key: K, item: T): void {
    try {
      this.serve(key, item);
    } catch (error) {
      this.onError(error);
    }
  }

  /** Frames waiting, in all (a gauge). */
  get queued(): number {
    let n = 0;
    for (const lane of this.ready.values()) n += lane.items.length - lane.head;
    return n;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      try {
        this.drain();
      } catch (error) {
        this.onError(error);
      }
      if (this.ready.size > 0) this.schedule();
    });
  }

  /**
   * Round robin without copying the ready list: always serve the lane at its front, and put a
   * lane that still has work at its back (a Map keeps insertion order).
   */
  private drain(): void {
    let budget = this.opts.perTurn;
    while (budget > 0) {
      const next = this.ready.entries().next();
      if (next.done) return;
      const [key, lane] = next.value;
      const take = Math.min(this.opts.perRound, budget, lane.items.length - lane.head);
      for (let i = 0; i < take; i++) {
        const item = lane.items[lane.head] as T;
        lane.head += 1;
        this.serveSafely(key, item);
      }
      budget -= take;
      this.ready.delete(key);
      const left = lane.items.length - lane.head;
      if (left > 0) {
        this.ready.set(key, lane);
        // Served items are cut off now and then, so a lane that never empties stays small.
        if (lane.head >= 1_024) {
          lane.items.splice(0, lane.head);
          lane.head = 0;
        }
      } else if (lane.ending) {
        this.lanes.delete(key);
        continue;
      } else {
        lane.items.length = 0;
        lane.head = 0;
      }
      if (lane.paused && left <= this.opts.resumeAt) {
        lane.paused = false;
        lane.source.resume();
      }
    }
  }

}

/** Several sources feeding one lane (a key's sockets): paused and resumed together; one that joins a paused lane starts paused. */
export class PausableGroup<S extends Pausable> implements Pausable {
  private readonly members = new Set<S>();
  private paused = false;

  join(source: S): void {
    this.members.add(source);
    if (this.paused) source.pause();
  }

  leave(source: S): void {
    this.members.delete(source);
  }

  pause(): void {
    this.paused = true;
    for (const m of this.members) m.pause();
  }

  resume(): void {
    this.paused = false;
    for (const m of this.members) m.resume();
  }
}
