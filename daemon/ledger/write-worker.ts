import { parentPort, workerData } from 'node:worker_threads';
import { serveWrites } from './write-service.js';

// The ledger's writer thread (durable-writer.ts).
if (!parentPort) throw new Error('write-worker runs as a worker thread');
serveWrites(parentPort, (workerData as { path: string }).path);
