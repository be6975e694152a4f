import WebSocket, { type RawData } from 'ws';
import { DaemonFrame, type Hello, type Welcome } from '../protocol/agent.js';
import { describeIssue } from '../protocol/parse.js';
import { endpointUrl } from '../paths.js';
import { SpendguardProtocolError, SpendguardTimeoutError, SpendguardUnavailableError } from './errors.js';

/** Daemon frames are small; anything this large is a broken or hostile peer. */
export const MAX_INCOMING_FRAME_BYTES = 1 << 20;

export type Decoded = { ok: true; frame: DaemonFrame } | { ok: false; message: string };

export function decodeFrame(data: RawData, isBinary: boolean): Decoded {
  if (isBinary) return { ok: false, message: 'binary frame (protocol frames are text)' };
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  const text = buf.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame is not JSON' };
  }
  const parsed = DaemonFrame.safeParse(json);
  return parsed.success ? { ok: true, frame: parsed.data } : { ok: false, message: describeIssue(parsed.error) };
}

export function agentEndpoint(url: string): string {
  return endpointUrl(url, '/v1/agent');
}

export interface DialHandlers {
  /** Called synchronously on `welcome`, before any later frame of the same socket is handled. */
  onWelcome(socket: WebSocket, welcome: Welcome): void;
  onFrame(socket: WebSocket, frame: DaemonFrame): void;
  onInvalid(message: string): void;
  /** Only for a socket that was welcomed; a failed dial rejects `ready` instead. */
  onClose(socket: WebSocket, code: number, reason: string): void;
}

export interface Dial {
  readonly socket: WebSocket;
  readonly ready: Promise<Welcome>;
}

/** Opens one socket, authenticates with the bearer header, sends `hello`, waits for `welcome`. */
export function dial(
  opts: { endpoint: string; token: string; hello: Hello; timeoutMs: number },
  handlers: DialHandlers,
): Dial {
  const socket = new WebSocket(opts.endpoint, {
    headers: { Authorization: `Bearer ${opts.token}` },
    handshakeTimeout: opts.timeoutMs,
    maxPayload: MAX_INCOMING_FRAME_BYTES,
  });
  let welcomed = false;
  let settle: { resolve(w: Welcome): void; reject(e: Error): void } | undefined;
  const ready = new Promise<Welcome>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const fail = (err: Error): void => {
    if (welcomed || !settle) return;
    const s = settle;
    settle = undefined;
    clearTimeout(timer);
    socket.terminate();
    s.reject(err);
  };
  const timer = setTimeout(
    () => fail(new SpendguardTimeoutError(`no welcome from ${opts.endpoint} in ${opts.timeoutMs} ms`, false)),
    opts.timeoutMs,
  );

  socket.on('open', () => socket.send(JSON.stringify(opts.hello)));
  socket.on('unexpected-response', (req, res) => {
    req.destroy();
    fail(
      new SpendguardUnavailableError(`daemon at ${opts.endpoint} refused the connection: HTTP ${res.statusCode ?? '?'}`, {
        ...(res.statusCode === undefined ? {} : { status: res.statusCode }),
      }),
    );
  });
  socket.on('error', (err) => fail(new SpendguardUnavailableError(`cannot reach ${opts.endpoint}: ${err.message}`, { cause: err })));
  socket.on('message', (data, isBinary) => {
    const decoded = decodeFrame(data, isBinary);
    if (!decoded.ok) {
      handlers.onInvalid(decoded.message);
      return;
    }
    const frame = decoded.frame;
    if (!welcomed && frame.type === 'welcome' && settle) {
      welcomed = true;
      clearTimeout(timer);
      handlers.onWelcome(socket, frame);
      settle.resolve(frame);
      settle = undefined;
      return;
    }
    if (!welcomed && frame.type === 'error' && frame.id === undefined) {
      fail(new SpendguardProtocolError(frame.code, frame.message));
      return;
    }
    handlers.onFrame(socket, frame);
  });
  socket.on('close', (code, reason) => {
    if (welcomed) handlers.onClose(socket, code, reason.toString('utf8'));
    else fail(new SpendguardUnavailableError(`daemon at ${opts.endpoint} closed the connection before welcome (${code})`));
  });
  return { socket, ready };
}
