import { serveBroadcast } from './peers/broadcast-peer.js';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PeerReady } from './ipc.js';
import { capOf, counterKey, parseCaps, parseFrame, requiredArg, reserveAsk } from './peers/frames.js';
import { serveFloor } from './peers/floor-peer.js';
import { serveRedis } from './peers/redis-peer.js';

/**
 * Peer servers the daemon is compared with, each run as its own child process (like the daemon):
 *
 *   --mode echo    a bare `ws` echo server: every frame is sent straight back.
 *   --mode naive   a naive budget server speaking the same subset of protocol v1 (hello, reserve,
 *                  commit) with a check-then-spend cap: it reads the task's spent amount from an
 *                  asynchronous store, checks it against the cap, then writes spent + cost back.
 *                  Requests interleave between the read and the write, so it overshoots. A
 *                  reserve without `cost_usd` asks for tokens (input + max output) against
 *                  `--cap-tokens`; either way the whole ask is spent at once, and a commit changes
 *                  nothing (the unused part of a reservation is never given back).
 *   --mode redis   check-and-increment in one Lua script on a Redis (`--redis-url`): see
 *                  peers/redis-peer.ts.
 *   --mode floor   ws + in-memory counters + SQLite WAL synchronous=FULL group commit in `--dir`,
 *                  no cap, no validation: see peers/floor-peer.ts.
 *
 * Prints nothing; reports `{type: 'ready', url}` over IPC and exits when the parent goes away.
 */

const args = process.argv.slice(2);
const mode = args[args.indexOf('--mode') + 1];
const caps = parseCaps(args, 1);
/** Set up before the server reports ready (the Redis connection and script). */
let setup: Promise<void> = Promise.resolve();

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
        const f = parseFrame(data);
        if (f.type === 'hello') {
          task = f.task ?? 'default';
          send({ type: 'welcome', v: 1 });
        } else if (f.type === 'reserve' && task !== undefined) {
          const { unit, amount } = reserveAsk(f);
          const key = counterKey(unit, task);
          const spent = await store.get(key); // check …
          if (spent + amount > capOf(caps, unit)) {
            send({ type: 'deny', id: f.id, code: 'BUDGET_EXCEEDED', scope: `task:${task}` });
            return;
          }
          await store.set(key, spent + amount); // … then spend (a lost update if someone spent meanwhile)
          send({ type: 'grant', id: f.id, reservation: `n${nextRes++}`, cost_usd: unit === 'usd' ? amount / 1e6 : 0 });
        } else if (f.type === 'commit') {
          send({ type: 'ack', id: f.id, cost_usd: f.cost_usd ?? 0, duplicate: false });
        } else {
          send({ type: 'error', id: f.id, code: 'INVALID', message: 'naive peer: unsupported frame' });
        }
      })();
    });
  });
} else if (mode === 'redis') {
  setup = serveRedis(wss, { url: requiredArg(args, '--redis-url'), caps });
} else if (mode === 'floor') {
  serveFloor(wss, { dir: requiredArg(args, '--dir') });
} else if (mode === 'broadcast') {
  serveBroadcast(wss);
} else {
  console.error(`peer-server: unknown --mode ${String(mode)} (echo | naive | redis | floor | broadcast)`);
  process.exit(2);
}

wss.on('listening', () => {
  const { port } = wss.address() as AddressInfo;
  const ready: PeerReady = { type: 'ready', url: `ws://127.0.0.1:${port}` };
  setup.then(
    () => process.send?.(ready),
    (e: unknown) => {
      console.error(`peer-server (${String(mode)}): setup failed:`, e);
      process.exit(1);
    },
  );
});

// The parent owns our lifetime.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
