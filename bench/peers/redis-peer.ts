import { createClient } from 'redis';
import type { WebSocket, WebSocketServer } from 'ws';
import { capOf, commitAmount, counterKey, parseFrame, reserveAsk, type Caps, type Unit } from './frames.js';

/**
 * The Redis + Lua peer (`peer-server.ts --mode redis`): a ws server whose budget state lives in a
 * Redis the bench started. One counter per task and unit holds committed usage plus the
 * reservations not yet settled.
 *
 *   reserve → one EVALSHA of RESERVE_LUA: read the counter, compare with the cap, add the ask —
 *             atomically, so concurrent reserves cannot both take the last room.
 *   commit  → one INCRBY of (actual − reserved): records what the call used and gives the unused
 *             part of the reservation back.
 *
 * The reply goes out once Redis has answered; with `appendfsync always` Redis answers a write only
 * after its AOF is fsync'd, with `everysec` before. Reservations live in this process's memory
 * (no lease: one never committed stays counted), there is one level of caps (the task), no
 * validation of frames and no policy.
 */

const RESERVE_LUA = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end
return redis.call('INCRBY', KEYS[1], ARGV[1])
`;

/** Reservations outstanding in this peer, at most this many (then reserves are refused). */
const MAX_HELD = 1_000_000;

interface Held {
  readonly key: string;
  readonly unit: Unit;
  readonly amount: number;
}

export async function serveRedis(wss: WebSocketServer, opts: { readonly url: string; readonly caps: Caps }): Promise<void> {
  const client = createClient({ url: opts.url });
  let errors = 0; // logged once: when redis-server goes first (bench interrupted), reconnects fail in a loop
  client.on('error', (e: unknown) => {
    if (errors++ === 0) console.error('redis peer:', e instanceof Error ? e.message : e);
  });
  await client.connect();
  const sha = await client.scriptLoad(RESERVE_LUA);
  const held = new Map<string, Held>();
  let nextRes = 1;

  wss.on('connection', (ws: WebSocket) => {
    let task: string | undefined;
    const send = (f: object): void => ws.send(JSON.stringify(f));
    const fail = (id: string | undefined, e: unknown): void => send({ type: 'error', id, code: 'UNAVAILABLE', message: String(e) });
    ws.on('message', (data) => {
      const f = parseFrame(data);
      if (f.type === 'hello') {
        task = f.task ?? 'default';
        send({ type: 'welcome', v: 1 });
      } else if (f.type === 'reserve' && task !== undefined) {
        const ask = reserveAsk(f);
        const key = counterKey(ask.unit, task);
        if (held.size >= MAX_HELD) return send({ type: 'deny', id: f.id, code: 'UNAVAILABLE', scope: 'peer' });
        client
          .evalSha(sha, { keys: [key], arguments: [String(ask.amount), String(capOf(opts.caps, ask.unit))] })
          .then((r) => {
            if (Number(r) < 0) return send({ type: 'deny', id: f.id, code: 'BUDGET_EXCEEDED', scope: `task:${task}` });
            const reservation = `x${nextRes++}`;
            held.set(reservation, { key, unit: ask.unit, amount: ask.amount });
            send({ type: 'grant', id: f.id, reservation, cost_usd: ask.unit === 'usd' ? ask.amount / 1e6 : 0 });
          })
          .catch((e: unknown) => fail(f.id, e));
      } else if (f.type === 'commit') {
        const res = f.reservation ?? '';
        const h = held.get(res);
        if (h === undefined) return send({ type: 'error', id: f.id, code: 'UNKNOWN_RESERVATION', message: 'redis peer: no such reservation' });
        held.delete(res);
        const actual = commitAmount(f, h.unit);
        client
          .incrBy(h.key, actual - h.amount)
          .then(() => send({ type: 'ack', id: f.id, cost_usd: h.unit === 'usd' ? actual / 1e6 : (f.cost_usd ?? 0), duplicate: false }))
          .catch((e: unknown) => fail(f.id, e));
      } else {
        send({ type: 'error', id: f.id, code: 'INVALID', message: 'redis peer: unsupported frame' });
      }
    });
  });
}
