/**
 * The agent protocol over plain HTTP, for clients without WebSockets (SPEC §4 frames, same
 * schema, validation, messages and tokens). Documented for users in clients/python/README.md.
 *
 * HTTP has no connection, so `POST /v1/agent/hello` opens a *session* — a virtual connection
 * of the engine — and answers `{welcome, session}`; later requests name it in the
 * `X-Spendguard-Session` header. `POST /v1/agent/<type>` takes the frame as its body (`type`
 * may be left out; if present it must match the path) and answers with the reply frame:
 * 200 grant/deny/ack/delegated/pong, 202 `pending`, 204 after `bye`, 4xx an `error` frame
 * (400 INVALID/UNKNOWN_RESERVATION/UNSUPPORTED_VERSION, 401 UNAUTHORIZED, 404 unknown
 * session or endpoint, 409 id already in flight, 413 TOO_LARGE, 429 too many requests in
 * flight), 503 `UNAVAILABLE` (starting, session limit, daemon slow to answer, a commit or spend
 * refused while the ledger's backlog is full — resend it with its key).
 * `GET /v1/agent/wait?id=<request id>&timeout_ms=N` long-polls (≤ 30 s) for the final reply
 * of a pending request: 200 the frame, 204 still pending. A `kill` pushed by the daemon is
 * kept (latest only) and attached as a `kill` field to the next response with a body.
 * Sessions idle for 10 min are closed like a dropped socket: reservations keep their lease.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentFrame } from '../../shared/protocol/agent.js';
import type { Integration, IntegrationContext } from '../integrations.js';
import { FRAME_LIMIT_BYTES } from './frames.js';
import { decodeForPath, errorFrame, statusOf } from './http-frames.js';
import { readBody, respond } from './http-io.js';
import { HttpSession, MAX_PENDING_PER_SESSION, type Outcome } from './http-session.js';
import { guarded, type Logger } from './log.js';
import type { SpendguardServer } from './server.js';
import type { Supervisor } from './supervisor.js';
import { authenticateAgent, bearerOf, laneOf } from './auth.js';
import type { Tokens } from './tokens.js';

const PREFIX = '/v1/agent/';
const SESSION_HEADER = 'x-spendguard-session';
const REQUEST_TYPES = ['reserve', 'commit', 'release', 'spend', 'delegate', 'ping', 'bye'] as const;
const WAIT_MAX_MS = 30_000;
/** The engine answers on the next durable batch; this only bounds a stuck ledger. */
const REPLY_TIMEOUT_MS = 30_000;
const MAX_IN_FLIGHT_PER_SESSION = 64;
const SWEEP_MS = 5_000;
/** A session with a reply awaiting collection (an approval) is kept this long without a request. */
const PENDING_IDLE_MS = 10 * 60_000;

export interface HttpApiOptions {
  /** A session without a request for this long closes; clients open a new one (the Python client does so itself). */
  readonly idle_ms: number;
  readonly max_sessions: number;
  /** Sessions one key may hold; the shared tokens share `max_sessions`. */
  readonly max_sessions_per_key: number;
  readonly now: () => number;
}

const DEFAULTS: HttpApiOptions = { idle_ms: 30_000, max_sessions: 10_000, max_sessions_per_key: 256, now: Date.now };


type ServerPart = Pick<SpendguardServer, 'ready' | 'openVirtual' | 'closeVirtual' | 'requireKeys' | 'enqueue'>;

type SupervisorPart = Pick<Supervisor, 'dispatch' | 'agentFrame' | 'settleRefusal' | 'engine'>;

export class HttpAgentApi {
  private readonly sessions = new Map<string, HttpSession>();
  /** Open sessions per credential (bounded by the sessions themselves). */
  private readonly perCredential = new Map<string, number>();
  private readonly opts: HttpApiOptions;

  constructor(
    private readonly server: ServerPart,
    private readonly supervisor: SupervisorPart,
    private readonly tokens: Tokens,
    private readonly log: Logger,
    opts: Partial<HttpApiOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** A server route: true when the request was under /v1/agent/ (answered asynchronously). */
  route(req: IncomingMessage, res: ServerResponse): boolean {
    const raw = req.url ?? '/';
    if (!raw.startsWith(PREFIX)) return false;
    // A path (it starts with one slash) always parses against a base.
    const url = new URL(raw, 'http://localhost');
    this.handle(req, res, url).catch((e: unknown) => {
      this.log('error', 'HTTP agent API request failed', { error: (e as Error).message, path: url.pathname });
      respond(res, 500, errorFrame('UNAVAILABLE', 'internal error; see the daemon log'), true);
    });
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.pathname.slice(PREFIX.length);
    const known = name === 'hello' || name === 'wait' || (REQUEST_TYPES as readonly string[]).includes(name);
    // Answers before authentication close the connection rather than drain an unread body.
    if (!known) return respond(res, 404, errorFrame('INVALID', `unknown endpoint ${url.pathname}: use ${PREFIX}hello, ${PREFIX}wait or ${PREFIX}<${REQUEST_TYPES.join('|')}>`), true);
    const method = name === 'wait' ? 'GET' : 'POST';
    if (req.method !== method) {
      res.setHeader('allow', method);
      return respond(res, 405, errorFrame('INVALID', `${url.pathname} takes ${method}`), true);
    }
    if (!this.server.ready) return respond(res, 503, errorFrame('UNAVAILABLE', 'daemon is starting'), true);
    const auth = authenticateAgent(bearerOf(req.headers.authorization), this.tokens, this.supervisor.engine.view, this.server.requireKeys);
    if (!auth.ok) {
      this.log('warn', 'refused HTTP agent request', { path: url.pathname, why: auth.why, remote: req.socket.remoteAddress });
      return respond(res, 401, errorFrame('UNAUTHORIZED', auth.message), true);
    }
    if (name === 'hello') return this.hello(req, res, auth.credential, auth.key);
    const session = this.sessionOf(req, res);
    if (!session) return;
    // A session belongs to the credential that opened it: another key cannot act through it.
    if (session.credential !== auth.credential) return respond(res, 404, errorFrame('INVALID', `X-Spendguard-Session: unknown or expired session; POST ${PREFIX}hello again`));
    session.active += 1;
    session.lastActiveMs = this.opts.now();
    try {
      if (name === 'wait') await this.wait(session, url, res);
      else await this.request(session, name, req, res);
    } finally {
      session.active -= 1;
      session.lastActiveMs = this.opts.now();
    }
  }

  private sessionOf(req: IncomingMessage, res: ServerResponse): HttpSession | undefined {
    const id = req.headers[SESSION_HEADER];
    if (typeof id !== 'string' || id.length === 0) {
      respond(res, 400, errorFrame('INVALID', `X-Spendguard-Session: required; POST ${PREFIX}hello opens a session`));
      return undefined;
    }
    const session = this.sessions.get(id);
    if (!session) respond(res, 404, errorFrame('INVALID', `X-Spendguard-Session: unknown or expired session; POST ${PREFIX}hello again`));
    return session;
  }

  /** Reads and decodes the body; answers the error itself and returns undefined on failure. */
  private async frameOf(req: IncomingMessage, res: ServerResponse, type: string): Promise<AgentFrame | undefined> {
    const body = await readBody(req, FRAME_LIMIT_BYTES);
    if (!body.ok) {
      respond(res, 413, errorFrame('TOO_LARGE', `body of ${body.bytes} bytes or more exceeds the ${FRAME_LIMIT_BYTES}-byte limit`), true);
      return undefined;
    }
    const d = decodeForPath(body.data, type);
    if (d.ok) return d.frame;
    respond(res, statusOf(d.error), d.error);
    return undefined;
  }

  private async hello(req: IncomingMessage, res: ServerResponse, credential: string, key: string | undefined): Promise<void> {
    const frame = await this.frameOf(req, res, 'hello');
    if (!frame || frame.type !== 'hello') return;
    const full = this.makeRoom(credential);
    if (full !== null) {
      this.log('warn', 'refused HTTP session: limit reached', { credential, why: full });
      return respond(res, 503, errorFrame('UNAVAILABLE', `${full}; send bye on unused sessions or retry later`));
    }
    const session = this.open(credential, key);
    const reply = session.expectHello(REPLY_TIMEOUT_MS);
    this.supervisor.dispatch({ type: 'hello', conn: session.conn, frame });
    const outcome = await reply;
    if (typeof outcome === 'object' && outcome.frame.type === 'welcome') {
      const kill = session.takeKill();
      return respond(res, 200, { welcome: outcome.frame, session: session.id, ...(kill ? { kill } : {}) });
    }
    this.drop(session);
    if (typeof outcome === 'object') return respond(res, statusOf(outcome.frame), outcome.frame);
    respond(res, 503, errorFrame('UNAVAILABLE', 'the daemon did not answer the hello in time; retry'));
  }

  private async request(session: HttpSession, type: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const frame = await this.frameOf(req, res, type);
    if (!frame || frame.type === 'hello') return;
    if (session.closed) return respond(res, 404, errorFrame('INVALID', 'X-Spendguard-Session: the session closed'));
    if (frame.type === 'bye') {
      const closed = session.expectClose(REPLY_TIMEOUT_MS);
      this.server.enqueue(laneOf(session.credential, session.id), () => this.supervisor.dispatch({ type: 'agent', conn: session.conn, frame, key_known: false }));
      if ((await closed) === 'timeout') return respond(res, 503, errorFrame('UNAVAILABLE', 'the daemon did not close the session in time; retry bye'));
      return respond(res, 204);
    }
    const id = frame.id;
    if (session.busy(id)) return respond(res, 409, errorFrame('INVALID', `id: ${id} is already in flight or awaiting approval on this session; use a new id`, id));
    if (session.pendingCount >= MAX_PENDING_PER_SESSION && frame.type === 'reserve') {
      return respond(res, 429, errorFrame('INVALID', `${MAX_PENDING_PER_SESSION} requests on this session await approval or collection; GET ${PREFIX}wait for them first`, id));
    }
    if (session.active > MAX_IN_FLIGHT_PER_SESSION) {
      return respond(res, 429, errorFrame('INVALID', `more than ${MAX_IN_FLIGHT_PER_SESSION} requests in flight on this session`, id));
    }
    if (!session.bucket.take(this.opts.now()) && (frame.type === 'reserve' || frame.type === 'delegate' || frame.type === 'ping')) {
      // As on WebSockets: settling frames (commit, release, spend) carry spent money and are never dropped.
      const message = 'too many requests per second on this session';
      const out = frame.type === 'ping' ? errorFrame('INVALID', message, id) : { type: 'deny', id, code: 'RATE_LIMITED', scope: 'connection', message, retry_after_ms: session.bucket.retryAfterMs() };
      return respond(res, statusOf(out), out);
    }
    if (frame.type === 'commit' || frame.type === 'spend') {
      // Past the held-batch bound (a failing disk): not taken, so the client resends it under its key.
      const refusal = this.supervisor.settleRefusal();
      if (refusal !== null) {
        res.setHeader('retry-after', '1');
        return respond(res, 503, errorFrame('UNAVAILABLE', refusal, id));
      }
    }
    const reply = session.expectReply(id, REPLY_TIMEOUT_MS);
    this.server.enqueue(laneOf(session.credential, session.id), () => this.supervisor.agentFrame(session.conn, frame));
    this.answer(session, res, await reply, id, false);
  }

  private async wait(session: HttpSession, url: URL, res: ServerResponse): Promise<void> {
    const id = url.searchParams.get('id') ?? '';
    const rawTimeout = url.searchParams.get('timeout_ms');
    const timeoutMs = rawTimeout === null ? WAIT_MAX_MS : Number(rawTimeout);
    if (id.length === 0 || id.length > 128) return respond(res, 400, errorFrame('INVALID', 'id: required, the id of the pending request (1–128 characters)'));
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > WAIT_MAX_MS) {
      return respond(res, 400, errorFrame('INVALID', `timeout_ms: must be an integer from 0 to ${WAIT_MAX_MS}`, id));
    }
    const poll = session.poll(id, timeoutMs);
    if (!poll) return respond(res, 404, errorFrame('INVALID', `id: no request ${id} awaits a final reply on this session (each final is delivered once)`, id));
    // A client that gives up must not swallow the final: cancelling leaves it for the next wait.
    res.once('close', poll.cancel);
    this.answer(session, res, await poll.promise, id, true);
  }

  private answer(session: HttpSession, res: ServerResponse, outcome: Outcome, id: string, polling: boolean): void {
    if (outcome === 'closed') return respond(res, 404, errorFrame('INVALID', 'X-Spendguard-Session: the session closed', id));
    if (outcome === 'timeout') {
      if (polling) return respond(res, 204);
      return respond(res, 503, errorFrame('UNAVAILABLE', `the daemon did not answer in time; GET ${PREFIX}wait?id=${encodeURIComponent(id)} collects the reply`, id));
    }
    const kill = session.takeKill();
    respond(res, statusOf(outcome.frame), kill ? { ...outcome.frame, kill } : outcome.frame);
  }

  /**
   * Room for one more session of `credential`, or why not. At a bound (per credential, or in all)
   * the session idle longest — no request in progress, nothing awaiting approval — is closed for
   * it: a flood of hellos evicts itself, never a client at work.
   */
  private makeRoom(credential: string): string | null {
    const perCredential = credential.startsWith('key:') ? this.opts.max_sessions_per_key : this.opts.max_sessions;
    const mineFull = (this.perCredential.get(credential) ?? 0) >= perCredential;
    if (!mineFull && this.sessions.size < this.opts.max_sessions) return null;
    let oldest: HttpSession | undefined;
    for (const s of this.sessions.values()) {
      if (mineFull && s.credential !== credential) continue;
      if (s.active === 0 && s.pendingCount === 0 && (!oldest || s.lastActiveMs < oldest.lastActiveMs)) oldest = s;
    }
    if (oldest) {
      this.log('info', 'closing the longest-idle HTTP session to make room', { idle_ms: this.opts.now() - oldest.lastActiveMs });
      this.drop(oldest);
      return null;
    }
    return mineFull ? `${perCredential} HTTP sessions of this key are busy, the most one key keeps` : `${this.opts.max_sessions} HTTP sessions are busy, the most this daemon keeps`;
  }

  private open(credential: string, key: string | undefined): HttpSession {
    const id = randomBytes(18).toString('base64url');
    const session = new HttpSession(id, credential, this.opts.now(), (dropped) => this.log('warn', 'HTTP session dropped an uncollected reply', { request: dropped }));
    session.conn = this.server.openVirtual({
      deliver: (data) => session.deliver(data),
      close: () => {
        // The engine closed it (bye). The server forgets a virtual conn here without telling
        // the engine, so the disconnect is dispatched from this side.
        this.forget(session);
        this.supervisor.dispatch({ type: 'disconnect', conn: session.conn });
      },
    }, key);
    this.sessions.set(id, session);
    this.perCredential.set(credential, (this.perCredential.get(credential) ?? 0) + 1);
    return session;
  }

  private forget(session: HttpSession): void {
    if (this.sessions.delete(session.id)) {
      const left = (this.perCredential.get(session.credential) ?? 1) - 1;
      if (left > 0) this.perCredential.set(session.credential, left);
      else this.perCredential.delete(session.credential);
    }
    session.close();
  }

  /** Closes a session like a dropped socket: the engine disconnects it, reservations keep their lease. */
  private drop(session: HttpSession): void {
    this.forget(session);
    this.server.closeVirtual(session.conn);
  }

  /** Closes sessions without a request for longer than `idle_ms` (longer while a reply awaits collection). */
  sweep(): void {
    const now = this.opts.now();
    for (const s of [...this.sessions.values()]) {
      const idleLimit = s.pendingCount > 0 ? PENDING_IDLE_MS : this.opts.idle_ms;
      if (s.active === 0 && now - s.lastActiveMs > idleLimit) {
        this.log('info', 'closing idle HTTP session', { idle_ms: now - s.lastActiveMs });
        this.drop(s);
      }
    }
  }

  stop(): void {
    for (const s of [...this.sessions.values()]) this.drop(s);
  }
}

/** Adds the HTTP agent API to the daemon's port and sweeps idle sessions. */
export function installHttpApi(ctx: IntegrationContext, opts: Partial<HttpApiOptions> = {}): Integration {
  const api = new HttpAgentApi(ctx.server, ctx.supervisor, ctx.tokens, ctx.log, opts);
  ctx.server.routes.push((req, res) => api.route(req, res));
  const sweeper = setInterval(guarded(ctx.log, 'HTTP session sweep', () => api.sweep()), SWEEP_MS);
  sweeper.unref();
  return {
    stop() {
      clearInterval(sweeper);
      api.stop();
    },
  };
}
