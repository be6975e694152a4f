import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { AgentFrame, type DaemonFrame, type DenyCode, type Reserve } from '../../protocol/agent.js';

/** What the fake answers to one `reserve`. */
export type ReserveScript =
  | { kind: 'grant'; max_output_tokens?: number; delay_ms?: number; suggested_model?: string; cost_usd?: number }
  | { kind: 'deny'; code: DenyCode; scope?: string; retry_after_ms?: number }
  /** Sends `pending`; the test answers later with `answer(id, …)`. */
  | { kind: 'pending' }
  /** Says nothing (for timeouts and drops). */
  | { kind: 'silent' };

type Received = AgentFrame;

/**
 * A small in-process daemon speaking protocol v1 for client tests: welcome, scripted
 * grant/deny/pending, acks with duplicate detection by key, kill pushes, and switches to drop
 * connections or refuse new ones.
 */
export class FakeDaemon {
  readonly received: Received[] = [];
  /** Usage keys ever recorded: survives dropped connections, like the ledger. */
  readonly keys = new Set<string>();
  readonly sockets = new Set<WebSocket>();
  /** While true, upgrades are refused with 503 (the daemon is "down"). */
  down = false;
  onReserve: (frame: Reserve) => ReserveScript = () => ({ kind: 'grant' });
  /** Checked for each frame after it is recorded; true terminates that connection without a reply. */
  dropWhen: ((frame: Received) => boolean) | undefined;
  private reservationSeq = 0;
  /** Whether each commit/spend id was a duplicate when it arrived, decided before any drop. */
  private readonly duplicates = new Map<string, boolean>();

  private constructor(
    private readonly wss: WebSocketServer,
    readonly token: string,
  ) {
    wss.on('connection', (ws) => this.accept(ws));
  }

  static async start(token = 'test-token'): Promise<FakeDaemon> {
    let daemon: FakeDaemon | undefined;
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      path: '/v1/agent',
      verifyClient: (info: { req: IncomingMessage }, cb: (ok: boolean, code?: number) => void) => {
        if (daemon?.down) return cb(false, 503);
        cb(info.req.headers.authorization === `Bearer ${token}`, 401);
      },
    });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    daemon = new FakeDaemon(wss, token);
    return daemon;
  }

  get url(): string {
    const { port } = this.wss.address() as AddressInfo;
    return `ws://127.0.0.1:${port}`;
  }

  framesOf<K extends Received['type']>(type: K): Extract<Received, { type: K }>[] {
    return this.received.filter((f): f is Extract<Received, { type: K }> => f.type === type);
  }

  send(frame: DaemonFrame): void {
    for (const ws of this.sockets) ws.send(JSON.stringify(frame));
  }

  /** Final answer to a reserve that got `pending`. */
  answer(id: string, script: ReserveScript): void {
    for (const ws of this.sockets) this.replyReserve(ws, id, script);
  }

  kill(scope: string, reason: string): void {
    this.send({ type: 'kill', scope, reason });
  }

  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      const frame = AgentFrame.parse(JSON.parse(String(data)));
      this.received.push(frame);
      this.record(frame);
      if (this.dropWhen?.(frame)) {
        ws.terminate();
        return;
      }
      this.reply(ws, frame);
    });
  }

  private record(frame: Received): void {
    if (frame.type !== 'commit' && frame.type !== 'spend') return;
    const key = frame.type === 'commit' ? (frame.key ?? frame.reservation) : frame.key;
    this.duplicates.set(frame.id, this.keys.has(key));
    this.keys.add(key);
  }

  private reply(ws: WebSocket, frame: Received): void {
    const out = (f: DaemonFrame): void => ws.send(JSON.stringify(f));
    switch (frame.type) {
      case 'hello':
        out({ type: 'welcome', v: 1, scopes: ['global', `agent:${frame.agent}`], budgets: {} });
        return;
      case 'reserve':
        this.replyReserve(ws, frame.id, this.onReserve(frame), frame);
        return;
      case 'commit':
      case 'spend': {
        const duplicate = this.duplicates.get(frame.id) ?? false;
        out({ type: 'ack', id: frame.id, cost_usd: duplicate ? 0 : 0.001, duplicate, ...(frame.type === 'spend' ? { over: false } : {}) });
        return;
      }
      case 'release':
        out({ type: 'ack', id: frame.id });
        return;
      case 'delegate':
        out({ type: 'delegated', id: frame.id, child: frame.child, limits: frame.limits });
        return;
      case 'ping':
        out({ type: 'pong', id: frame.id });
        return;
      case 'bye':
        ws.close(1000, 'bye');
        return;
      default:
        frame satisfies never;
    }
  }

  private replyReserve(ws: WebSocket, id: string, script: ReserveScript, frame?: Reserve): void {
    const out = (f: DaemonFrame): void => ws.send(JSON.stringify(f));
    switch (script.kind) {
      case 'grant':
        out({
          type: 'grant',
          id,
          reservation: `r-${++this.reservationSeq}`,
          max_output_tokens: script.max_output_tokens ?? frame?.max_output_tokens ?? 1000,
          cost_usd: script.cost_usd ?? 0.01,
          delay_ms: script.delay_ms ?? 0,
          pressure: 'ok',
          expires_ms: 300_000,
          warnings: [],
          ...(script.suggested_model === undefined ? {} : { suggested_model: script.suggested_model }),
        });
        return;
      case 'deny':
        out({
          type: 'deny',
          id,
          code: script.code,
          scope: script.scope ?? 'task:t-1',
          message: `denied: ${script.code}`,
          ...(script.retry_after_ms === undefined ? {} : { retry_after_ms: script.retry_after_ms }),
        });
        return;
      case 'pending':
        out({ type: 'pending', id, prompt: `p-${id}` });
        return;
      case 'silent':
        return;
      default:
        script satisfies never;
    }
  }
}
