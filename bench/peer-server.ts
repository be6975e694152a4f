import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PeerReady } from './ipc.js';

/**
 * Peer servers the daemon is compared with, each run as its own child process (like the daemon):
 *
 *   --mode echo    a bare `ws` echo server: every frame is sent straight back.
 *   --mode naive   a naive budget server speaking the same subset of protocol v1 (hello, reserve,
 *                  commit) with a check-then-spend cap: it reads the task's spent amount from an
 *                  asynchronous store, checks it against the cap, then writes spent + cost back.
 *                  Requests interleave between the read and the write, so it overshoots.
 *
 * Prints nothing; reports `{type: 'ready', url}` over IPC and exits when the parent goes away.
 */

const args = process.argv.slice(2);
const mode = args[args.indexOf('--mode') + 1];
const capMicro = Math.round(Number(args.includes('--cap-usd') ? args[args.indexOf('--cap-usd') + 1] : '1') * 1e6);

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 * 1024 });

if (mode === 'echo') {
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
} else if (mode === 'naive') {
  /** An "async store" (think: a database round trip), one tick per read and per write. */
  const table = new Map<string, number>();
  const store = {
    get: (k: string): Promise<number> => new Promise((r) => setImmediate(() => r(table.get(k) ?? 0))),
    set: (k: string, v: number): Promise<void> => new Promise((r) => setImmediate(() => (table.set(k, v), r()))),
  };
  let nextRes = 1;
  wss.on('connection', (ws: WebSocket) => {
    let task: string | undefined;
    const send = (f: object): void => ws.send(JSON.stringify(f));
    ws.on('message', (data) => {
      void (async () => {
        const f = JSON.parse(data.toString()) as { type?: string; id?: string; task?: string; cost_usd?: number };
        if (f.type === 'hello') {
          task = f.task ?? 'default';
          send({ type: 'welcome', v: 1 });
        } else if (f.type === 'reserve' && task !== undefined) {
          const cost = Math.round((f.cost_usd ?? 0) * 1e6);
          const spent = await store.get(task); // check …
          if (spent + cost > capMicro) {
            send({ type: 'deny', id: f.id, code: 'BUDGET_EXCEEDED', scope: `task:${task}` });
            return;
          }
          await store.set(task, spent + cost); // … then spend (a lost update if someone spent meanwhile)
          send({ type: 'grant', id: f.id, reservation: `n${nextRes++}`, cost_usd: cost / 1e6 });
        } else if (f.type === 'commit') {
          send({ type: 'ack', id: f.id, cost_usd: f.cost_usd ?? 0, duplicate: false });
        } else {
          send({ type: 'error', id: f.id, code: 'INVALID', message: 'naive peer: unsupported frame' });
        }
      })();
    });
  });
} else {
  console.error(`peer-server: unknown --mode ${String(mode)} (echo | naive)`);
  process.exit(2);
}

wss.on('listening', () => {
  const { port } = wss.address() as AddressInfo;
  const ready: PeerReady = { type: 'ready', url: `ws://127.0.0.1:${port}` };
  process.send?.(ready);
});

// The parent owns our lifetime.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
