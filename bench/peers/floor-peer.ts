import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { WebSocket, WebSocketServer } from 'ws';
import { commitAmount, parseFrame, reserveAsk } from './frames.js';

/**
 * The durable floor (`peer-server.ts --mode floor`): what durability alone costs, with nothing
 * else around it. A ws server with in-memory counters per task and a SQLite ledger in WAL mode
 * with `synchronous = FULL` (the daemon's settings):
 *
 *   reserve → adds the ask to the task's in-memory counter and grants at once: no cap, no check.
 *   commit  → queues a usage row; one transaction per event-loop turn (setImmediate) writes every
 *             queued row, and the acks of that batch are sent only after its COMMIT returned.
 *
 * No validation of frames, no policy, no cap, no reservation bookkeeping.
 */

interface Counter {
  held: number;
  spent: number;
}

interface Queued {
  readonly ws: WebSocket;
  readonly reply: string;
  readonly row: readonly [string, string, number, number, number, number];
}

/** A batch holds at most this many rows; beyond that the rest waits for the next turn. */
const MAX_BATCH = 10_000;

export function serveFloor(wss: WebSocketServer, opts: { readonly dir: string }): void {
  const db = new Database(join(opts.dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(
    'CREATE TABLE IF NOT EXISTS usage (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, task TEXT NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, amount INTEGER NOT NULL, ts INTEGER NOT NULL) STRICT',
  );
  const insert = db.prepare('INSERT INTO usage (key, task, input_tokens, output_tokens, amount, ts) VALUES (?, ?, ?, ?, ?, ?)');
  const writeBatch = db.transaction((rows: ReadonlyArray<Queued['row']>) => {
    for (const r of rows) insert.run(...r);
  });
  const counters = new Map<string, Counter>();
  let queue: Queued[] = [];
  let scheduled = false;
  let nextRes = 1;

  const flush = (): void => {
    scheduled = false;
    const batch = queue.slice(0, MAX_BATCH);
    queue = queue.slice(batch.length);
    if (queue.length > 0) schedule();
    writeBatch(batch.map((q) => q.row)); // COMMIT returns after the WAL is fsync'd
    for (const q of batch) q.ws.send(q.reply);
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  wss.on('connection', (ws: WebSocket) => {
    let task = 'default';
    const send = (f: object): void => ws.send(JSON.stringify(f));
    ws.on('message', (data) => {
      const f = parseFrame(data);
      if (f.type === 'hello') {
        task = f.task ?? 'default';
        send({ type: 'welcome', v: 1 });
      } else if (f.type === 'reserve') {
        const ask = reserveAsk(f);
        const c = counters.get(task) ?? { held: 0, spent: 0 };
        c.held += ask.amount;
        counters.set(task, c);
        send({ type: 'grant', id: f.id, reservation: `f${nextRes++}`, cost_usd: f.cost_usd ?? 0 });
      } else if (f.type === 'commit') {
        const amount = f.cost_usd !== undefined ? commitAmount(f, 'usd') : commitAmount(f, 'tok');
        const c = counters.get(task) ?? { held: 0, spent: 0 };
        c.spent += amount;
        counters.set(task, c);
        const reply = JSON.stringify({ type: 'ack', id: f.id, cost_usd: f.cost_usd ?? 0, duplicate: false });
        queue.push({ ws, reply, row: [String(f.reservation), task, f.input_tokens ?? 0, f.output_tokens ?? 0, amount, Date.now()] });
        schedule();
      } else {
        send({ type: 'error', id: f.id, code: 'INVALID', message: 'floor peer: unsupported frame' });
      }
    });
  });
  process.once('exit', () => db.close());
}
