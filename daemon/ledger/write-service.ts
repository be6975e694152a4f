import type { MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type Batch, BatchWriter, openForWriting } from './batch-writer.js';
import type { WorkerReply, WorkerRequest } from './durable-writer.js';

/** Points where a test thread may stop, as a crash would stop it. */
export interface WriteHooks {
  /** Before the batch's transaction begins. */
  beforeWrite?(request: WorkerRequest): void;
  /** After its COMMIT returned, before the answer is posted. */
  afterCommit?(request: WorkerRequest): void;
}

/**
 * The ledger writer thread's work (durable-writer.ts): its own connection, one batch per message,
 * one answer per batch.
 */
export function serveWrites(port: MessagePort, path: string, hooks: WriteHooks = {}): void {
  const db = new Database(path);
  openForWriting(db);
  // It only appends: a small page cache does (the main connection keeps the default for reads).
  db.pragma('cache_size = -512');
  const writer = new BatchWriter(db);
  port.on('message', (request: WorkerRequest) => {
    let reply: WorkerReply;
    try {
      hooks.beforeWrite?.(request);
      // A resend after a lost thread: written already if its token is the last one committed.
      const timing = writer.committed(request.token) ? { bindMs: 0, totalMs: 0 } : writer.write(JSON.parse(request.batch) as Batch, request.token);
      hooks.afterCommit?.(request);
      reply = { type: 'written', id: request.id, outcome: { ok: true, ...timing } };
    } catch (e) {
      reply = { type: 'written', id: request.id, outcome: { ok: false, error: e instanceof Error ? e.message : String(e) } };
    }
    port.postMessage(reply);
  });
}
