import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket, { type RawData } from 'ws';
import { z } from 'zod';
import { describeIssue } from '../protocol/parse.js';
import { OperatorFrame, OperatorResult } from '../protocol/operator.js';
import { DEFAULT_LISTEN, endpointUrl, listenToUrl, resolveStateDir, STATE_FILES } from '../paths.js';

/** An operator frame as the caller writes it; the client picks the id. */
export type OperatorRequest = OperatorFrame extends infer F ? (F extends OperatorFrame ? Omit<F, 'id'> : never) : never;

/** The daemon could not be reached, dropped the connection, or did not answer in time. */
export class DaemonUnreachableError extends Error {
  override readonly name = 'DaemonUnreachableError';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the daemon at ${url}: ${reason}`);
  }
}

/**
 * The daemon answered, but with an error: an `error` frame (`code` from the protocol, e.g.
 * `INVALID`, `UNAUTHORIZED`), a refused handshake, or a reply this client cannot read
 * (`BAD_REPLY`). Requests refused before sending use `INVALID` / `BUSY`.
 */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ConnectOptions {
  /** Daemon base URL (`ws://127.0.0.1:7878`); `/v1/operator` is appended. */
  url: string;
  token?: string | undefined;
  /** Bound on the opening handshake and on each request's reply. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;
/** A status snapshot with 10,000 agents is a few MB; far beyond that is not a reply we want. */
const MAX_REPLY_BYTES = 32 * 1024 * 1024;
/** In-flight requests per connection; past this, `request` refuses instead of queueing. */
const MAX_PENDING = 1_024;
const CLOSE_WAIT_MS = 1_000;

/** Error frames are read leniently: a newer daemon's code must still reach the operator. */
const ErrorReply = z.object({ type: z.literal('error'), id: z.string().optional(), code: z.string(), message: z.string() });
const Reply = z.object({ type: z.string(), id: z.string().optional() });

interface Pending {
  resolve: (result: OperatorResult) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** One authenticated connection to `/v1/operator`: request/reply with ids chosen here. */
export class OperatorClient {
  readonly #socket: WebSocket;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, Pending>();
  #nextId = 1;

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

  static connect(options: ConnectOptions): Promise<OperatorClient> {
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
        resolve(new OperatorClient(socket, options.url, timeoutMs));
      });
    });
  }

  get url(): string {
    return this.#url;
  }

  /** Sends one operator frame and resolves with its `result`; an `error` reply rejects with `OperatorError`. */
  request(frame: OperatorRequest): Promise<OperatorResult> {
    const id = `op-${this.#nextId++}`;
    const checked = OperatorFrame.safeParse({ ...frame, id });
    if (!checked.success) return Promise.reject(new OperatorError('INVALID', describeIssue(checked.error)));
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
      this.#socket.send(JSON.stringify(checked.data), (err) => {
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
    const head = Reply.safeParse(raw);
    if (!head.success) return;
    const { type, id } = head.data;

    if (type === 'error') {
      const frame = ErrorReply.safeParse(raw);
      const error = frame.success
        ? new OperatorError(frame.data.code, frame.data.message)
        : new OperatorError('BAD_REPLY', 'malformed error frame from the daemon');
      // An error without id answers a frame the daemon could not read: it cannot be matched, so it fails them all.
      if (id === undefined) this.#rejectAll(error);
      else this.#settle(id, (p) => p.reject(error));
      return;
    }
    if (type !== 'result' || id === undefined) return; // pushes (snapshots, alerts) are not replies

    const result = OperatorResult.safeParse(raw);
    this.#settle(id, (p) => {
      if (!result.success) p.reject(new OperatorError('BAD_REPLY', `unreadable reply from the daemon: ${describeIssue(result.error)}`));
      // Validated, then handed on as received so fields newer than this client survive into `--json`.
      else p.resolve(raw as OperatorResult);
    });
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

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

export function operatorEndpoint(url: string): string {
  return endpointUrl(url, '/v1/operator');
}

export type UrlSource = '--url' | 'SPENDGUARD_URL' | 'daemon.json' | 'default';
export type TokenSource = 'SPENDGUARD_TOKEN' | 'operator.token' | 'none';

export interface Connection {
  url: string;
  urlSource: UrlSource;
  token: string | undefined;
  tokenSource: TokenSource;
  stateDir: string;
}

export interface ResolveOptions {
  url?: string | undefined;
  stateDir?: string | undefined;
  env: NodeJS.ProcessEnv;
}

const Endpoint = z.object({ url: z.string().min(1) });

/**
 * Where the daemon is and how to authenticate: URL from `--url`, `SPENDGUARD_URL`, the state
 * dir's `daemon.json`, then the default listen address; token from `SPENDGUARD_TOKEN`, then the
 * state dir's `operator.token`. The state dir is `--state-dir`, `SPENDGUARD_STATE_DIR`, or the default.
 */
export function resolveConnection(options: ResolveOptions): Connection {
  const { env } = options;
  const stateDir = resolveStateDir(options.stateDir, undefined, env);

  let url: string;
  let urlSource: UrlSource;
  const fromFile = readEndpointFile(join(stateDir, STATE_FILES.endpoint));
  if (options.url) [url, urlSource] = [options.url, '--url'];
  else if (env.SPENDGUARD_URL) [url, urlSource] = [env.SPENDGUARD_URL, 'SPENDGUARD_URL'];
  else if (fromFile) [url, urlSource] = [fromFile, 'daemon.json'];
  else [url, urlSource] = [listenToUrl(DEFAULT_LISTEN), 'default'];

  let token: string | undefined;
  let tokenSource: TokenSource = 'none';
  const envToken = env.SPENDGUARD_TOKEN?.trim();
  if (envToken) [token, tokenSource] = [envToken, 'SPENDGUARD_TOKEN'];
  else {
    const fileToken = readOptional(join(stateDir, STATE_FILES.operatorToken))?.trim();
    if (fileToken) [token, tokenSource] = [fileToken, 'operator.token'];
  }
  return { url, urlSource, token, tokenSource, stateDir };
}

/** True for `ws://`, `wss://` (or `http://`, `https://`) URLs with a host. */
export function isDaemonUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return ['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol) && parsed.host.length > 0;
  } catch {
    return false;
  }
}

function readEndpointFile(file: string): string | undefined {
  const text = readOptional(file);
  if (text === undefined) return undefined;
  try {
    const parsed = Endpoint.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.url : undefined;
  } catch {
    return undefined; // half-written or foreign file: fall through to the default address
  }
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
