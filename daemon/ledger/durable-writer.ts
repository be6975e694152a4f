import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { type Batch, type BatchTiming, partsOf } from './batch-writer.js';

export type WriteOutcome = ({ readonly ok: true } & BatchTiming) | { readonly ok: false; readonly error: string };

/**
 * Where group commits go. One batch at a time: `done` is called once, on the calling thread,
 * after the batch is durable (or with why it is not, having written nothing of it).
 */
export interface DurableWriter {
  write(batch: Batch, done: (outcome: WriteOutcome) => void): void;
  /** After the batch in flight (if any) is done. */
  close(): Promise<void>;
}

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Writes on the calling thread, blocking it through the fsync: tests and tools. */
export class InlineWriter implements DurableWriter {
  constructor(readonly ledger: { write(usage: Batch['usage'], actions: Batch['actions'], scopes: Batch['scopes']): BatchTiming | void }) {}

  write(batch: Batch, done: (outcome: WriteOutcome) => void): void {
    let outcome: WriteOutcome;
    try {
      outcome = { ok: true, bindMs: 0, totalMs: 0, ...(this.ledger.write(batch.usage, batch.actions, batch.scopes) ?? {}) };
    } catch (e) {
      outcome = { ok: false, error: errorMessage(e) };
    }
    done(outcome);
  }

  async close(): Promise<void> {}
}

const COMPILED_WORKER = new URL('./write-worker.js', import.meta.url);
/** Fresh threads a batch in doubt is sent to before it fails. */
const MAX_RESENDS = 2;
/**
 * The writer thread holds one part of one batch at a time (PART_ROWS rows of each kind): a small
 * heap is plenty however large the batch — the backlog of a disk that was full can be MAX_HELD
 * rows and the counters of every scope in memory, which whole would not fit in it.
 */
const WORKER_HEAP = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 2 };
export const PART_ROWS = 1_000;

/**
 * The writer for a daemon: on its own thread when running compiled (the product); on the
 * calling thread when running from TypeScript sources (the test runner cannot start a worker
 * from a .ts file), which end-to-end tests against `dist/` do not.
 */
export function ledgerWriter(path: string, ledger: InlineWriter['ledger'] & { written(usage: Batch['usage'], lastSeq?: number): void }): DurableWriter {
  if (!existsSync(COMPILED_WORKER)) return new InlineWriter(ledger);
  return new WorkerWriter(path, (batch, lastSeq) => ledger.written(batch.usage, lastSeq));
}

/** One part of a batch; its parts are sent in order and written in one transaction. */
export type WorkerRequest = {
  readonly type: 'write';
  readonly id: number;
  /** Written with the batch, in its transaction: a resend of a batch already committed is not written again. */
  readonly token: string;
  readonly part: number;
  readonly parts: number;
  /**
   * The part as JSON text: posting one flat string costs far less than the structured clone of
   * many small row objects (measured: the clone was a seventh of the daemon's time under load).
   */
  readonly batch: string;
};
export type WorkerReply = { readonly type: 'written'; readonly id: number; readonly outcome: WriteOutcome };

/**
 * Writes on a thread of its own with its own connection to the ledger, so the main thread keeps
 * parsing and deciding while a batch binds and syncs; the daemon still sends no reply before its
 * batch is durable (the supervisor waits for `done`).
 *
 * A thread that dies leaves its batch in doubt: committed or not. The same request (its token) is
 * sent again to a fresh thread, which writes it only if the ledger does not already record that
 * token as committed; so a batch is never written twice, even one of only action rows (which no
 * key would stop). Past MAX_RESENDS the batch fails, and the supervisor retries it like any.
 */
export class WorkerWriter implements DurableWriter {
  private worker: Worker | null = null;
  private inflight: { readonly id: number; readonly requests: readonly WorkerRequest[]; readonly done: (outcome: WriteOutcome) => void; resends: number } | null = null;
  private nextId = 1;
  private idle: (() => void) | null = null;

  constructor(
    private readonly path: string,
    /** Rows committed, on the main thread (the ledger's key filter learns their keys), with the seq of the last. */
    private readonly committed: (batch: Batch, lastSeq: number | undefined) => void,
    /** The compiled write-worker.js; the one beside this file by default. */
    private readonly script: URL = COMPILED_WORKER,
    /** Makes batch tokens unique to this writer (a test names it). */
    private readonly run: string = randomUUID(),
  ) {}

  write(batch: Batch, done: (outcome: WriteOutcome) => void): void {
    if (this.inflight) throw new Error('ledger writer: one batch at a time');
    const id = this.nextId++;
    const token = `${this.run}:${id}`;
    const parts = partsOf(batch, PART_ROWS);
    const requests = parts.map((part, i): WorkerRequest => ({ type: 'write', id, token, part: i, parts: parts.length, batch: JSON.stringify(part) }));
    this.inflight = {
      id,
      requests,
      resends: 0,
      done: (outcome) => {
        if (outcome.ok) this.committed(batch, outcome.lastSeq);
        done(outcome);
      },
    };
    this.post(requests);
  }

  private post(requests: readonly WorkerRequest[]): void {
    const thread = this.thread();
    for (const r of requests) thread.postMessage(r);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // Bounded like everything else: a thread past its heap dies, and its batch is retried on a new one.
    const worker = new Worker(this.script, { workerData: { path: this.path }, resourceLimits: WORKER_HEAP });
    worker.on('message', (reply: WorkerReply) => {
      if (this.inflight?.id === reply.id) this.finish(reply.outcome);
    });
    const lost = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      const inflight = this.inflight;
      if (inflight && inflight.resends < MAX_RESENDS) {
        inflight.resends += 1;
        this.post(inflight.requests);
        return;
      }
      this.finish({ ok: false, error: `ledger writer thread stopped: ${why}` });
    };
    worker.on('error', (e) => lost(errorMessage(e)));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.worker = worker;
    return worker;
  }

  private finish(outcome: WriteOutcome): void {
    const inflight = this.inflight;
    if (!inflight) return;
    this.inflight = null;
    inflight.done(outcome);
    this.idle?.();
  }

  async close(): Promise<void> {
    if (this.inflight) await new Promise<void>((resolve) => (this.idle = resolve));
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }
}
