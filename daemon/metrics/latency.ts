/**
 * Reserve latency without a hook in the server: the supervisor holds replies until the batch of
 * their event-loop turn is durable, so a reply leaves when that batch is flushed. A reserve is
 * stamped when the engine has decided it (an observer runs right after `engine.handle`) and
 * closed when its batch is released:
 *  - a batch that writes ledger rows is released after the write, which `flushObservers` report;
 *  - a batch without rows (typical for grants and denials) is released in the supervisor's
 *    `setImmediate` of the same turn, next to which our own `setImmediate` runs.
 * Not measured: frame decoding and the engine's own handling (microseconds, before the stamp)
 * and the socket write after the release.
 */
export class ReserveLatency {
  private readonly stamps: Float64Array;
  private count = 0;
  private closeScheduled = false;
  /** Rows were produced since the last durable write: replies wait for `flushObservers`. */
  private writePending = false;
  /** Reserves beyond the stamp buffer in one batch; they are answered but not timed. */
  unsampled = 0;

  constructor(
    private readonly observe: (seconds: number) => void,
    capacity = 8_192,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.stamps = new Float64Array(capacity);
  }

  /** A reserve was answered (grant or deny) by the engine just now. */
  stamp(): void {
    if (this.count === this.stamps.length) {
      this.unsampled += 1;
      return;
    }
    this.stamps[this.count++] = this.now();
    if (!this.closeScheduled) {
      this.closeScheduled = true;
      setImmediate(this.closeUnwritten);
    }
  }

  /** The current batch has ledger rows (usage or actions). */
  rowsProduced(): void {
    this.writePending = true;
  }

  /** The supervisor made a batch durable and released its replies. */
  flushed(): void {
    this.writePending = false;
    this.close();
  }

  private readonly closeUnwritten = (): void => {
    this.closeScheduled = false;
    if (!this.writePending) this.close();
  };

  private close(): void {
    if (this.count === 0) return;
    const end = this.now();
    for (let i = 0; i < this.count; i++) this.observe((end - (this.stamps[i] ?? end)) / 1000);
    this.count = 0;
  }
}
