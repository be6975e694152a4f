import type { MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type Batch, BatchWriter, openForWriting } from './batch-writer.js';
import { errorMessage, type WorkerReply, type WorkerRequest } from './durable-writer.js';

/** Points where a test thread may stop, as a crash would stop it. */
export interface WriteHooks {
  /** Before a batch's transaction begins. */
  beforeWrite?(request: WorkerRequest): void;
  /** After a part is bound, its transaction still open. */
  afterPart?(request: WorkerRequest): void;
  /** After its COMMIT returned, before the answer is posted. */
  afterCommit?(request: WorkerRequest): void;
}

/**
 * The ledger writer thread's work (durable-writer.ts): its own connection; a batch arrives as
 * one or more parts, written in one transaction, with one answer once it is durable (or why not,
 * having written nothing of it).
 */
export function serveWrites(port: MessagePort, path: string, hooks: WriteHooks = {}): void {
  const db = new Database(path);
  openForWriting(db);
  // It only appends: a small page cache does (the main connection keeps the default for reads).
  db.pragma('cache_size = -512');
  const writer = new BatchWriter(db);
  /** The batch whose parts are arriving: committed before (a resend), or failed at some part. */
  let current: { id: number; committedBefore: boolean; error: string | null } | null = null;
  port.on('message', (request: WorkerRequest) => {
    if (request.part === 0) {
      // A resend after a lost thread: written already if its token is the last one committed.
      current = { id: request.id, committedBefore: writer.committed(request.token), error: null };
      if (!current.committedBefore) {
        try {
          hooks.beforeWrite?.(request);
          writer.begin();
        } catch (e) {
          current.error = errorMessage(e);
        }
      }
    }
    const batch = current;
    if (batch === null || batch.id !== request.id) return; // parts of a batch whose start this thread never saw
    if (!batch.committedBefore && batch.error === null) {
      try {
        writer.part(JSON.parse(request.batch) as Batch);
        hooks.afterPart?.(request);
      } catch (e) {
        batch.error = errorMessage(e);
        writer.abort();
      }
    }
    if (request.part < request.parts - 1) return;
    current = null;
    let reply: WorkerReply;
    if (batch.committedBefore) reply = { type: 'written', id: request.id, outcome: { ok: true, bindMs: 0, totalMs: 0 } };
    else if (batch.error !== null) reply = { type: 'written', id: request.id, outcome: { ok: false, error: batch.error } };
    else {
      try {
        const timing = writer.finish(request.token);
        hooks.afterCommit?.(request);
        reply = { type: 'written', id: request.id, outcome: { ok: true, ...timing } };
      } catch (e) {
        writer.abort();
        reply = { type: 'written', id: request.id, outcome: { ok: false, error: errorMessage(e) } };
      }
    }
    port.postMessage(reply);
  });
}
