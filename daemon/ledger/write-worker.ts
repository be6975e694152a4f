import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type Batch, BatchWriter, openForWriting } from './batch-writer.js';
import type { WorkerReply, WorkerRequest } from './durable-writer.js';

// The ledger's writer thread (durable-writer.ts): its own connection, one batch per message.
const port = parentPort;
if (!port) throw new Error('write-worker runs as a worker thread');
const db = new Database((workerData as { path: string }).path);
openForWriting(db);
// It only appends: a small page cache does (the main connection keeps the default for reads).
db.pragma('cache_size = -512');
const writer = new BatchWriter(db);
port.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    // A resend after a lost thread: written already if its token is the last one committed.
    const timing = writer.committed(request.token) ? { bindMs: 0, totalMs: 0 } : writer.write(JSON.parse(request.batch) as Batch, request.token);
    reply = { type: 'written', id: request.id, outcome: { ok: true, ...timing } };
  } catch (e) {
    reply = { type: 'written', id: request.id, outcome: { ok: false, error: e instanceof Error ? e.message : String(e) } };
  }
  port.postMessage(reply);
});
