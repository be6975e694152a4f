import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ConnId } from '../engine/state.js';
import type { LedgerHealth } from '../../shared/protocol/operator.js';
import { decodeAgentFrame, decodeOperatorFrame } from './frames.js';
import { guarded, type Logger } from './log.js';
import { FairQueue, PausableGroup, type Pausable } from './fair-queue.js';
import { writeFrame } from './broadcast.js';
import { TokenBucket } from './rate.js';
import type { Supervisor, Transport } from './supervisor.js';
import { authenticateAgent, bearerOf } from './auth.js';
import { tokenMatches, type Tokens } from './tokens.js';

type Role = 'agent' | 'operator';
/**
 * What waits in a lane: a frame as received, a connection's close (served after its last
 * frame), or work of a non-WebSocket client (an HTTP-API or proxy request).
 */
type Queued =
  | { readonly conn: ConnId; readonly data: RawData; readonly isBinary: boolean }
  | { readonly conn: ConnId; readonly closed: true }
  | { readonly run: () => void };
/**
 * Lanes of the fair queue: one per connection, but one per key for key-bound clients — a key
 * holder gets one turn however many sockets and HTTP sessions it opens.
 */
type Lane = ConnId | `key:${string}` | `http:${string}`;

interface Client {
  readonly ws: WebSocket;
  /** The upgraded TCP socket under `ws`, for frames built once for many (broadcast.ts). */
  readonly socket: Duplex;
  readonly role: Role;
  readonly bucket: TokenBucket;
  alive: boolean;
  strikes: number;
}

/** ws accepts frames up to this and closes above it; frames between 64 KiB and this get TOO_LARGE. */
const HARD_PAYLOAD_LIMIT = 16 * 1024 * 1024;
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const HEARTBEAT_MS = 30_000;
/** HTTP requests cannot be paused; they are bounded per session and per key (http-api.ts). */
const NOT_PAUSABLE: Pausable = { pause: () => undefined, resume: () => undefined };
/** Time a closed connection's peer has to answer the close frame before its socket is cut. */
const CLOSE_GRACE_MS = 1_000;
const RATE_BURST = 2_000;
const RATE_PER_SECOND = 1_000;
/** Invalid frames beyond the rate limit close the connection (policy violation). */
const MAX_STRIKES = 100;
/** Operator connections (TUI, CLI) at once: a handful in practice; agents have max_connections. */
const MAX_OPERATOR_CONNECTIONS = 64;

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tokens: Tokens;
  readonly log: Logger;
  /** Refuse the shared agent token: agents must authenticate with a key bound to a scope. */
  readonly requireKeys?: boolean;
}

export class SpendguardServer implements Transport {
  readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly clients = new Map<ConnId, Client>();
  /** Open WebSocket connections by role (the door's bound). */
  private readonly open: Record<Role, number> = { agent: 0, operator: 0 };
  private nextConn = 1;
  private heartbeat: NodeJS.Timeout | undefined;
  supervisor: Supervisor | undefined;
  ready = false;
  /** Extra HTTP handlers (metrics, the HTTP agent API), tried in order; true = handled. */
  readonly routes: Array<(req: IncomingMessage, res: ServerResponse) => boolean> = [];
  /** Connections that are not WebSockets (HTTP API sessions): frames go to their sink. */
  private readonly virtual = new Map<ConnId, { deliver: (data: string) => void; close: () => void }>();
  private readonly queue: FairQueue<Lane, Queued>;
  /** The sockets feeding each key lane: a lane that outgrows its bound pauses them all. */
  private readonly keyLanes = new Map<Lane, PausableGroup<WebSocket>>();

  constructor(private readonly opts: ServerOptions) {
    this.queue = new FairQueue<Lane, Queued>(
      (_lane, item) => this.serveQueued(item),
      (error) => this.opts.log('error', 'serving a frame failed', { error: error instanceof Error ? error.message : String(error) }),
    );
    this.http = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      for (const route of this.routes) if (route(req, res)) return;
      if (req.method === 'GET' && path === '/healthz') {
        const health = this.health();
        res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(health));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not found' }));
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: HARD_PAYLOAD_LIMIT, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  /**
   * 200 once agents are accepted and the ledger can be written; 503 while starting, or while the
   * ledger fails (the daemon is up but failing closed: reserves are denied UNAVAILABLE).
   */
  health(): { ok: boolean; ledger?: LedgerHealth; error?: string } {
    if (!this.ready) return { ok: false, error: 'daemon is starting' };
    const ledger = this.supervisor?.engine.ledger;
    if (!ledger || ledger.writable) return { ok: true };
    return { ok: false, ledger, error: `ledger cannot be written (${ledger.error ?? 'unknown error'}): reserves are denied UNAVAILABLE until it can` };
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.host, () => {
        const addr = this.http.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('no address'));
        this.heartbeat = setInterval(guarded(this.opts.log, 'heartbeat', () => this.beat()), HEARTBEAT_MS);
        this.heartbeat.unref();
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const role: Role | undefined = url.pathname === '/v1/agent' ? 'agent' : url.pathname === '/v1/operator' ? 'operator' : undefined;
    const refuse = (status: 401 | 404 | 503, message: string): void => {
      const text = status === 401 ? 'Unauthorized' : status === 503 ? 'Service Unavailable' : 'Not Found';
      socket.write(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\nconnection: close\r\n${status === 503 ? 'retry-after: 5\r\n' : ''}content-length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
      socket.destroy();
    };
    if (!role) return refuse(404, `unknown endpoint ${url.pathname}: use /v1/agent or /v1/operator`);
    if (!this.ready) return refuse(404, 'daemon is starting');
    const token = bearerOf(req.headers.authorization) || (url.searchParams.get('token') ?? '');
    let key: string | undefined;
    if (role === 'operator') {
      if (!tokenMatches(token, this.opts.tokens.operator)) {
        this.opts.log('warn', 'refused connection: missing or wrong token', { endpoint: url.pathname, remote: req.socket.remoteAddress });
        return refuse(401, token ? `UNAUTHORIZED: this token may not use ${url.pathname}` : 'UNAUTHORIZED: missing bearer token');
      }
    } else {
      const view = this.supervisor?.engine.view;
      if (!view) return refuse(404, 'daemon is starting');
      const auth = authenticateAgent(token, this.opts.tokens, view, this.requireKeys);
      if (!auth.ok) {
        this.opts.log('warn', 'refused connection', { endpoint: url.pathname, why: auth.why, remote: req.socket.remoteAddress });
        return refuse(401, auth.message);
      }
      key = auth.key;
    }
    const full = this.atCapacity(role);
    if (full) {
      this.opts.log('warn', 'refused connection: too many connections', { endpoint: url.pathname, limit: full });
      return refuse(503, `UNAVAILABLE: ${full} ${role} connections are open, the most this daemon takes (max_connections); retry later`);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket, role, key));
  }

  /** The limit reached for `role`, or 0 while there is room: a bound on memory, decided at the door. */
  private atCapacity(role: Role): number {
    const limit = role === 'operator' ? MAX_OPERATOR_CONNECTIONS : (this.supervisor?.engine.config.max_connections ?? Number.POSITIVE_INFINITY);
    return this.open[role] >= limit ? limit : 0;
  }

  private accept(ws: WebSocket, socket: Duplex, role: Role, key: string | undefined): void {
    const conn = this.nextConn++;
    const client: Client = { ws, socket, role, bucket: new TokenBucket(RATE_BURST, RATE_PER_SECOND, Date.now()), alive: true, strikes: 0 };
    this.clients.set(conn, client);
    this.open[role] += 1;
    this.supervisor?.dispatch({ type: 'open', conn, ...(key === undefined ? {} : { key }) });
    ws.on('pong', () => {
      client.alive = true;
    });
    // Every frame waits its lane's turn (fair-queue.ts); its disconnect comes after them.
    if (key === undefined) {
      ws.on('message', (data, isBinary) => this.queue.add(conn, { conn, data, isBinary }, ws));
      ws.on('close', () => this.queue.end(conn, { conn, closed: true }));
    } else {
      const lane: Lane = `key:${key}`;
      const group = this.keyLane(lane);
      group.join(ws);
      ws.on('message', (data, isBinary) => this.queue.add(lane, { conn, data, isBinary }, group));
      ws.on('close', () => {
        group.leave(ws);
        this.queue.add(lane, { conn, closed: true }, group);
      });
    }
    ws.on('error', (err) => this.opts.log('debug', 'socket error', { conn, error: err.message }));
  }

  private keyLane(lane: Lane): PausableGroup<WebSocket> {
    let group = this.keyLanes.get(lane);
    if (!group) this.keyLanes.set(lane, (group = new PausableGroup<WebSocket>()));
    return group;
  }

  /**
   * Work of a non-WebSocket client (an HTTP-API or proxy request) in the fair queue: in its key's
   * lane, so that a key's sockets, HTTP sessions and proxied calls share one turn; else its own.
   */
  enqueue(lane: `key:${string}` | `http:${string}`, run: () => void): void {
    this.queue.add(lane, { run }, NOT_PAUSABLE);
  }

  private serveQueued(item: Queued): void {
    if ('run' in item) {
      item.run();
      return;
    }
    const conn = item.conn;
    const client = this.clients.get(conn);
    if (!client) return;
    if (!('closed' in item)) {
      this.onMessage(conn, client, item.data, item.isBinary);
      return;
    }
    this.clients.delete(conn);
    this.open[client.role] -= 1;
    this.supervisor?.unsubscribe(conn);
    this.supervisor?.dispatch({ type: 'disconnect', conn });
  }

  private onMessage(conn: ConnId, client: Client, raw: RawData, isBinary: boolean): void {
    const sup = this.supervisor;
    if (!sup) return;
    const data = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    const withinRate = client.bucket.take(Date.now());
    if (client.role === 'operator') {
      const d = decodeOperatorFrame(data, isBinary);
      if (!d.ok) return this.reject(conn, client, d.error, withinRate);
      // The client names itself (`cli:alice@host`, `top:alice@host`); unnamed clients stay 'operator'.
      sup.operatorFrame(conn, d.frame, d.frame.actor ?? 'operator');
      if (d.frame.type === 'subscribe') sup.subscribe(conn);
      return;
    }
    const parsing = sup.stages.now();
    const d = decodeAgentFrame(data, isBinary);
    sup.stages.since('parse', parsing);
    if (!d.ok) return this.reject(conn, client, d.error, withinRate);
    const frame = d.frame;
    if (frame.type === 'hello') {
      sup.dispatch({ type: 'hello', conn, frame });
      return;
    }
    if (!withinRate && (frame.type === 'reserve' || frame.type === 'delegate' || frame.type === 'ping')) {
      // Settling frames (commit, release, spend, bye) are never dropped: they carry spent money.
      const deny = { type: 'deny', id: frame.id, code: 'RATE_LIMITED', scope: 'connection', message: `more than ${RATE_PER_SECOND} frames/s on this connection`, retry_after_ms: client.bucket.retryAfterMs() };
      this.send(conn, JSON.stringify(frame.type === 'ping' ? { type: 'error', id: frame.id, code: 'INVALID', message: deny.message } : deny));
      return;
    }
    if (frame.type === 'commit' || frame.type === 'spend') {
      // Past the held-batch bound (a failing disk) settling frames are not taken: the SDK resends
      // unacknowledged ones under their keys after reconnecting with backoff. 1013: try again later.
      const refusal = sup.settleRefusal();
      if (refusal !== null) {
        client.ws.close(1013, refusal);
        return;
      }
    }
    sup.agentFrame(conn, frame);
  }

  private reject(conn: ConnId, client: Client, error: object, withinRate: boolean): void {
    if (!withinRate) {
      client.strikes += 1;
      if (client.strikes > MAX_STRIKES) {
        client.ws.close(1008, 'too many invalid frames');
        return;
      }
    }
    this.send(conn, JSON.stringify(error));
  }

  /** A connection id for a non-WebSocket client; the engine treats it like any other. */
  openVirtual(sink: { deliver: (data: string) => void; close: () => void }, key?: string): ConnId {
    const conn = this.nextConn++;
    this.virtual.set(conn, sink);
    this.supervisor?.dispatch({ type: 'open', conn, ...(key === undefined ? {} : { key }) });
    return conn;
  }

  closeVirtual(conn: ConnId): void {
    if (!this.virtual.delete(conn)) return;
    this.supervisor?.dispatch({ type: 'disconnect', conn });
  }

  send(conn: ConnId, data: string | Buffer): void {
    const v = this.virtual.get(conn);
    if (v) {
      v.deliver(typeof data === 'string' ? data : data.toString('utf8'));
      return;
    }
    const c = this.clients.get(conn);
    if (!c || c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.opts.log('warn', 'closing a connection that does not read its replies', { conn });
      c.ws.terminate();
      return;
    }
    // One buffer, one write per reply; a Buffer is one frame for many sockets, framed once (broadcast.ts).
    writeFrame(c.socket, data);
  }

  close(conn: ConnId): void {
    const v = this.virtual.get(conn);
    if (v) {
      this.virtual.delete(conn);
      v.close();
      this.supervisor?.dispatch({ type: 'disconnect', conn });
      return;
    }
    const c = this.clients.get(conn);
    if (!c) return;
    c.ws.close(1000, 'bye');
    // A peer that never answers the close frame is cut after a moment, not after ws's 30 s.
    const cut = setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS);
    cut.unref();
    c.ws.once('close', () => clearTimeout(cut));
  }

  private beat(): void {
    for (const c of this.clients.values()) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** Sends `shutdown` to everyone, then closes sockets and the listener. */
  async stop(): Promise<void> {
    this.ready = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const c of this.clients.values()) {
      if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify({ type: 'shutdown' }));
    }
    for (const c of this.clients.values()) c.ws.close(1001, 'daemon shutting down');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const c of this.clients.values()) c.ws.terminate();
        resolve();
      }, 500);
      t.unref();
      if (this.clients.size === 0) {
        clearTimeout(t);
        resolve();
      } else {
        const check = setInterval(() => {
          if (this.clients.size === 0) {
            clearInterval(check);
            clearTimeout(t);
            resolve();
          }
        }, 20);
        check.unref();
      }
    });
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  get requireKeys(): boolean {
    return this.opts.requireKeys === true;
  }

  get connectionCount(): number {
    return this.clients.size;
  }
}
