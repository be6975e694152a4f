import { DaemonUnreachableError, isDaemonUrl, OperatorError, operatorEndpoint } from './operator-connection.js';
import { type RawData, WebSocket } from './ws.js';

/**
 * One authenticated connection to `/v1/operator` that matches replies to requests by id and
 * knows no frame beyond that: what a reply holds is the caller's to check. `OperatorClient`
 * (operator.ts) adds the protocol's schemas on both sides; `spendguard status --line` uses this
 * directly and reads only the fields it prints, because loading zod alone takes longer than
 * node's own start-up.
 */

export interface ConnectOptions {
  /** Daemon base URL (`ws://127.0.0.1:7878`); `/v1/operator` is appended. */
  url: string;
  token?: string | undefined;
  /** Bound on the opening handshake and on each request's reply. */
  timeoutMs?: number;
}

/** An operator frame on the wire: its `type`, the caller's `id` (echoed in the reply), its fields. */
export type OutgoingFrame = { readonly type: string; readonly id: string } & Readonly<Record<string, unknown>>;

/** A `result` frame as received: `type` and `id` checked, the rest unread. */
export type RawResult = { readonly type: 'result'; readonly id: string } & Readonly<Record<string, unknown>>;

const DEFAULT_TIMEOUT_MS = 5_000;
/** A status snapshot with 10,000 agents is a few MB; far beyond that is not a reply we want. */
const MAX_REPLY_BYTES = 32 * 1024 * 1024;
/** In-flight requests per connection; past this, `send` refuses instead of queueing. */
const MAX_PENDING = 1_024;
const CLOSE_WAIT_MS = 1_000;

interface Pending {
  resolve: (result: RawResult) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class OperatorSocket {
  readonly #socket: WebSocket;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, Pending>();

  private constructor(socket: WebSocket, url: string, timeoutMs: number) {
    this.#socket = socket;
    this.#url = url;
    this.#timeoutMs = timeoutMs;
    socket.on('message', (data: RawData) => this.#onMessage(data));
    socket.on('close', (code: number, reason: Buffer) => {
      const why = reason.length > 0 ? reason.toString() : `close code ${code}`;
      this.#rejectAll(new DaemonUnreachableError(url, `connection closed (${why})`));
    });
  }

  static connect(options: ConnectOptions): Promise<OperatorSocket> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!isDaemonUrl(options.url)) {
      return Promise.reject(new OperatorError('INVALID', `not a daemon URL: ${JSON.stringify(options.url)} (expected ws://host:port)`));
    }
    const endpoint = operatorEndpoint(options.url);
    const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(endpoint, { headers, handshakeTimeout: timeoutMs, maxPayload: MAX_REPLY_BYTES });
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      // Kept for the socket's whole life: an `error` event without a listener would crash the process.
      socket.on('error', (err: Error) => fail(new DaemonUnreachableError(options.url, err.message)));
      socket.once('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        fail(
          status === 401 || status === 403
            ? new OperatorError('UNAUTHORIZED', `the daemon at ${options.url} refused the operator token (HTTP ${status})`)
            : new DaemonUnreachableError(options.url, `unexpected HTTP ${status} on ${endpoint}`),
        );
        socket.terminate();
      });
      socket.once('open', () => {
        if (settled) return;
        settled = true;
        resolve(new OperatorSocket(socket, options.url, timeoutMs));
      });
    });
  }

  get url(): string {
    return this.#url;
  }

  /** Sends one frame and resolves with the `result` that answers its id; an `error` reply rejects with `OperatorError`. */
  send(frame: OutgoingFrame): Promise<RawResult> {
    const { id } = frame;
    if (this.#pending.has(id)) return Promise.reject(new OperatorError('INVALID', `request id ${id} is already waiting for its reply`));
    if (this.#socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new DaemonUnreachableError(this.#url, 'connection is not open'));
    }
    if (this.#pending.size >= MAX_PENDING) {
      return Promise.reject(new OperatorError('BUSY', `more than ${MAX_PENDING} requests in flight`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new DaemonUnreachableError(this.#url, `no reply to ${frame.type} within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.send(JSON.stringify(frame), (err) => {
        if (err) this.#settle(id, (p) => p.reject(new DaemonUnreachableError(this.#url, err.message)));
      });
    });
  }

  /** Closes the connection; pending requests reject. Resolves once the socket is closed. */
  close(): Promise<void> {
    const socket = this.#socket;
    if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => socket.terminate(), CLOSE_WAIT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(1000, 'bye');
    });
  }

  #onMessage(data: RawData): void {
    let raw: unknown;
    try {
      raw = JSON.parse(rawText(data));
    } catch {
      return; // not a reply to anything we can match
    }
    if (!isRecord(raw)) return;
    const frame = raw;
    const { type, id } = frame;
    if (typeof type !== 'string' || (id !== undefined && typeof id !== 'string')) return;

    if (type === 'error') {
      // Read leniently: a newer daemon's code must still reach the operator.
      const { code, message } = frame;
      const error =
        typeof code === 'string' && typeof message === 'string'
          ? new OperatorError(code, message)
          : new OperatorError('BAD_REPLY', 'malformed error frame from the daemon');
      // An error without id answers a frame the daemon could not read: it cannot be matched, so it fails them all.
      if (id === undefined) this.#rejectAll(error);
      else this.#settle(id, (p) => p.reject(error));
      return;
    }
    if (type !== 'result' || id === undefined) return; // pushes (snapshots, alerts) are not replies
    this.#settle(id, (p) => p.resolve({ ...frame, type, id }));
  }

  #settle(id: string, action: (pending: Pending) => void): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    action(pending);
  }

  #rejectAll(error: Error): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, (p) => p.reject(error));
  }
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
