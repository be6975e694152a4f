import WebSocket from 'ws';

/** A minimal protocol-v1 client for the bench: one outstanding request at a time per socket. */

export interface Frame {
  readonly type?: string;
  readonly id?: string;
  readonly code?: string;
  readonly reservation?: string;
  readonly cost_usd?: number;
  readonly [k: string]: unknown;
}

export class BenchConn {
  private waiting: { id: string; resolve: (f: Frame) => void; reject: (e: Error) => void } | undefined;
  /** Called for every frame that is not the reply awaited (pushed `kill`, …), with its raw text. */
  onPush: ((text: string) => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      const w = this.waiting;
      if (w !== undefined) {
        const f = JSON.parse(text) as Frame;
        if (f.id === w.id && f.type !== 'pending') {
          this.waiting = undefined;
          w.resolve(f);
          return;
        }
      }
      this.onPush?.(text);
    });
    ws.on('close', () => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new Error('connection closed while waiting for a reply'));
    });
  }

  static open(url: string, token: string, path = '/v1/agent'): Promise<BenchConn> {
    const ws = new WebSocket(`${url}${path}`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new BenchConn(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  /** Opens an agent connection and says hello; resolves once welcomed. */
  static async agent(url: string, token: string, hello: { agent: string; session: string; task: string; user?: string }): Promise<BenchConn> {
    const c = await BenchConn.open(url, token);
    const welcome = new Promise<Frame>((resolve, reject) => {
      c.ws.once('message', (data) => resolve(JSON.parse(data.toString()) as Frame));
      c.ws.once('close', () => reject(new Error('closed before welcome')));
    });
    c.ws.send(JSON.stringify({ type: 'hello', v: 1, ...hello }));
    const w = await welcome;
    if (w.type !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(w)}`);
    return c;
  }

  /** Sends `frame` (which must carry `id`) and resolves with the final reply to that id. */
  request(frame: { readonly id: string; readonly type: string; readonly [k: string]: unknown }, timeoutMs = 15_000): Promise<Frame> {
    if (this.waiting !== undefined) return Promise.reject(new Error('bench client: one request at a time'));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no reply to ${frame.type} ${frame.id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        id: frame.id,
        resolve: (f) => (clearTimeout(t), resolve(f)),
        reject: (e) => (clearTimeout(t), reject(e)),
      };
      this.ws.send(JSON.stringify(frame));
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. With `shouldStop`, no new item starts
 * once it returns true; the results of the items that ran are returned, in order.
 */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>, shouldStop?: () => boolean): Promise<R[]> {
  const out: Array<R | undefined> = new Array<R | undefined>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      if (shouldStop?.()) return;
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
  return out.filter((r): r is R => r !== undefined);
}
