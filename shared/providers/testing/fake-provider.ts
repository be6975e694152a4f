import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { anthropicFormat, openaiFormat, type FakeReply, type SseScript } from './formats.js';

export type { FakeReply, FakeUsage } from './formats.js';

export type FakeApi = 'openai' | 'anthropic';

export interface LoggedRequest {
  api: FakeApi;
  path: string;
  body: Record<string, unknown>;
  /** The request's headers as received (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  /** The connection closed before the response was complete: a cut, or the client aborted. */
  closedEarly: boolean;
}

/** Requests above this are refused: the fake is for tests and examples, not a sink. */
const MAX_BODY_BYTES = 1 << 20;
/** Time for written frames to leave the socket before a cut, so the client sees them first. */
const FLUSH_BEFORE_CUT_MS = 20;

/**
 * A local HTTP server speaking OpenAI Chat Completions (`POST /v1/chat/completions`) and
 * Anthropic Messages (`POST /v1/messages`), JSON and SSE, so the real SDKs run against it via
 * `baseURL`. Every request body is logged; `reply` scripts the answer, including errors, held
 * responses and streams cut mid-way.
 */
export class FakeProvider {
  readonly requests: LoggedRequest[] = [];
  reply: (req: LoggedRequest) => FakeReply = () => ({ id: 'fake-1', text: 'Hello from the fake provider.', usage: { input: 10, output: 7 } });
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeProvider> {
    const server = createServer();
    const provider = new FakeProvider(server);
    server.on('request', (req, res) => {
      provider.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return provider;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** For `new OpenAI({ baseURL })` and `createOpenAI({ baseURL })`. */
  get openaiBaseURL(): string {
    return `${this.url}/v1`;
  }

  /** For `new Anthropic({ baseURL })` (the SDK adds `/v1/messages`). */
  get anthropicBaseURL(): string {
    return this.url;
  }

  /** Resolves once `n` requests have arrived. */
  waitForRequests(n: number, timeoutMs = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.requests.length < n) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`fake provider: ${this.requests.length} of ${n} requests within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const api: FakeApi | undefined = path.endsWith('/chat/completions') ? 'openai' : path.endsWith('/v1/messages') ? 'anthropic' : undefined;
    if (req.method !== 'POST' || api === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const body = await readJson(req);
    const logged: LoggedRequest = { api, path, body, headers: { ...req.headers }, closedEarly: false };
    // Like the real API: Anthropic names each request (Claude Code's transcripts record it).
    if (api === 'anthropic') res.setHeader('request-id', `req_fake_${this.requests.length + 1}`);
    res.on('close', () => {
      if (!res.writableFinished) logged.closedEarly = true;
    });
    this.requests.push(logged);
    for (const w of [...this.waiters]) w();

    const reply = this.reply(logged);
    const format = api === 'openai' ? openaiFormat : anthropicFormat;
    const model = typeof body.model === 'string' ? body.model : 'unknown';
    if (reply.status !== undefined) {
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(format.error(reply.status)));
      return;
    }
    if (body.stream !== true) {
      if (reply.hold) await reply.hold;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(format.json(reply, model)));
      return;
    }
    const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
    const script = api === 'openai' ? openaiFormat.stream(reply, model, includeUsage) : anthropicFormat.stream(reply, model);
    await this.stream(res, script, reply);
  }

  private async stream(res: ServerResponse, script: SseScript, reply: FakeReply): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const frame of script.head) await write(res, frame);
    for (const [i, frame] of script.deltas.entries()) {
      if (reply.cutAfterDeltas !== undefined && i >= reply.cutAfterDeltas) {
        await sleep(FLUSH_BEFORE_CUT_MS);
        res.socket?.destroy();
        return;
      }
      await write(res, frame);
      if (i === 0 && reply.hold) await reply.hold;
    }
    for (const frame of script.tail) await write(res, frame);
    res.end();
  }
}

function write(res: ServerResponse, frame: string): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => res.write(frame, () => resolve()));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body above ${MAX_BODY_BYTES} bytes`);
    chunks.push(buf);
  }
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (!isRecord(parsed)) throw new Error('request body is not a JSON object');
  return parsed;
}
