import WebSocket, { type RawData } from 'ws';
import { operatorEndpoint } from '../shared/client/operator.js';

/** The little the feed client needs from a socket, so tests can hand it a fake one. */
export interface Socket {
  send(text: string): void;
  /** Drops the connection at once; `onClose` follows. */
  close(): void;
}

export interface SocketEvents {
  onOpen(): void;
  onMessage(text: string): void;
  onClose(reason: string): void;
}

export type Connect = (events: SocketEvents) => Socket;

/** A full frame with 10,000 agents is ~10 MB; far beyond that is not a frame we want. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 5_000;

export interface Endpoint {
  readonly url: string;
  readonly token: string | undefined;
}

/** A real `/v1/operator` WebSocket with the bearer token in the upgrade request; `endpoint` is asked per connection. */
export function wsConnect(endpoint: () => Endpoint): Connect {
  return (events) => {
    const { url, token } = endpoint();
    const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
    const socket = new WebSocket(operatorEndpoint(url), { headers, maxPayload: MAX_FRAME_BYTES, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    let reason = '';
    socket.on('open', () => events.onOpen());
    socket.on('message', (data: RawData) => events.onMessage(rawText(data)));
    // Kept for the socket's whole life: an `error` event without a listener would crash the process.
    socket.on('error', (error: Error) => {
      reason ||= error.message;
    });
    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      reason = status === 401 || status === 403 ? `HTTP ${status}: the daemon refused the operator token` : `HTTP ${status} from ${operatorEndpoint(url)}`;
      response.resume();
      socket.terminate();
    });
    socket.on('close', (code: number, why: Buffer) => events.onClose(reason || (why.length > 0 ? why.toString() : `connection closed (code ${code})`)));
    return {
      send: (text) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(text);
      },
      close: () => socket.terminate(),
    };
  };
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
