import { describeIssue } from '../protocol/parse.js';
import { OperatorFrame, OperatorResult } from '../protocol/operator.js';
import { OperatorError } from './operator-connection.js';
import { type ConnectOptions, OperatorSocket } from './operator-socket.js';

// Re-exported so callers that hold a client can name its errors and its address from one place.
export {
  type Connection,
  DaemonUnreachableError,
  isDaemonUrl,
  OperatorError,
  operatorEndpoint,
  resolveConnection,
  type ResolveOptions,
  type TokenSource,
  type UrlSource,
} from './operator-connection.js';
export type { ConnectOptions } from './operator-socket.js';

/** An operator frame as the caller writes it; the client picks the id. */
export type OperatorRequest = OperatorFrame extends infer F ? (F extends OperatorFrame ? Omit<F, 'id'> : never) : never;

/**
 * One authenticated connection to `/v1/operator` speaking the protocol's schemas: each request
 * is checked before it is sent, each reply before it is handed on.
 */
export class OperatorClient {
  readonly #socket: OperatorSocket;
  #nextId = 1;

  private constructor(socket: OperatorSocket) {
    this.#socket = socket;
  }

  static async connect(options: ConnectOptions): Promise<OperatorClient> {
    return new OperatorClient(await OperatorSocket.connect(options));
  }

  get url(): string {
    return this.#socket.url;
  }

  /** Sends one operator frame and resolves with its `result`; an `error` reply rejects with `OperatorError`. */
  async request(frame: OperatorRequest): Promise<OperatorResult> {
    const id = `op-${this.#nextId++}`;
    const checked = OperatorFrame.safeParse({ ...frame, id });
    if (!checked.success) throw new OperatorError('INVALID', describeIssue(checked.error));
    const raw = await this.#socket.send(checked.data);
    const result = OperatorResult.safeParse(raw);
    if (!result.success) throw new OperatorError('BAD_REPLY', `unreadable reply from the daemon: ${describeIssue(result.error)}`);
    // Validated, then handed on as received so fields newer than this client survive into `--json`.
    return raw as OperatorResult;
  }

  /** Closes the connection; pending requests reject. Resolves once the socket is closed. */
  close(): Promise<void> {
    return this.#socket.close();
  }
}
