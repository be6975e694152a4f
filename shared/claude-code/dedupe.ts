import { maxUsage, type UsageLine } from './transcript.js';

/** A message's usage, ready to be sent as one keyed `spend`. */
export type UsageRecord = UsageLine & { sessionId: string };

interface Open {
  record: UsageRecord;
  last_seen_ms: number;
}

/**
 * Turns the lines of one transcript into one record per (message id, request id). Claude Code
 * writes a line per content block of a streamed message, each repeating the usage, and the early
 * ones may carry a partial output count. The daemon keeps the first record of a key, so a
 * message is held until it is complete: a line that says so (stop reason), the next message in
 * the same stream, `settle_ms` of quiet, or the end of a one-shot read.
 */
export class MessageCoalescer {
  readonly #open = new Map<string, Open>();
  /** Messages already sent: their later lines (parallel tool calls repeat the final usage) add nothing. */
  readonly #sent = new BoundedSet(1_024);

  constructor(
    private readonly settle_ms: number,
    /** Messages held at once; past it the oldest is released early rather than growing. */
    private readonly max_open = 64,
  ) {}

  get size(): number {
    return this.#open.size;
  }

  /** Adds one line; returns the records now complete. */
  push(line: UsageRecord, now_ms: number): UsageRecord[] {
    if (this.#sent.has(line.key)) return [];
    const out: UsageRecord[] = [];
    for (const [key, open] of this.#open) {
      if (key !== line.key && open.record.stream === line.stream) out.push(this.#take(key, open));
    }
    const held = this.#open.get(line.key);
    const record = held ? { ...line, usage: maxUsage(held.record.usage, line.usage), model: line.model ?? held.record.model } : line;
    if (line.final) {
      this.#open.delete(line.key);
      this.#sent.add(line.key);
      out.push(record);
    } else {
      this.#open.set(line.key, { record, last_seen_ms: now_ms });
    }
    for (const [key, open] of this.#open) {
      if (this.#open.size <= this.max_open) break;
      out.push(this.#take(key, open));
    }
    return out;
  }

  /** Records quiet for `settle_ms`. */
  due(now_ms: number): UsageRecord[] {
    const out: UsageRecord[] = [];
    for (const [key, open] of this.#open) if (now_ms - open.last_seen_ms >= this.settle_ms) out.push(this.#take(key, open));
    return out;
  }

  /** Everything held, complete or not (end of a one-shot read, shutdown). */
  drain(): UsageRecord[] {
    return [...this.#open].map(([key, open]) => this.#take(key, open));
  }

  /** Forgets everything, sent messages included: the file is read again from the start. */
  reset(): void {
    this.#open.clear();
    this.#sent.clear();
  }

  #take(key: string, open: Open): UsageRecord {
    this.#open.delete(key);
    this.#sent.add(key);
    return open.record;
  }
}

/** A set that forgets its oldest entries past `max` (Map keeps insertion order). */
export class BoundedSet {
  readonly #items = new Map<string, true>();
  constructor(private readonly max: number) {}

  has(key: string): boolean {
    return this.#items.has(key);
  }

  clear(): void {
    this.#items.clear();
  }

  add(key: string): void {
    this.#items.delete(key);
    this.#items.set(key, true);
    if (this.#items.size > this.max) {
      const oldest = this.#items.keys().next();
      if (!oldest.done) this.#items.delete(oldest.value);
    }
  }
}
