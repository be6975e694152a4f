import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GuardUsage } from '../../shared/client/guard.js';
import { o200kTokenizer } from '../../shared/providers/tokens.js';
import { upstreamNamed, type Upstream } from '../config/proxy-schema.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../server/log.js';
import type { OutFrame } from '../server/http-session.js';
import type { SpendguardServer } from '../server/server.js';
import type { Supervisor } from '../server/supervisor.js';
import type { Tokens } from '../server/tokens.js';
import { ProxyAgents, type ProxyAgent } from './agents.js';
import { clampedBody, endpointOf, errorBody, isUsageOnlyChunk, outputTextOf, shapeOf, statusOfDeny, streamMeterOf, usageOfJson, type CallShape, type Endpoint, type Format } from './formats.js';
import { identify } from './identity.js';
import { call, decoded, forwardedHeaders, readAll, returnedHeaders, SseSplitter, upstreamUrl } from './upstream.js';

/**
 * The provider proxy (`/proxy/<name>/…`): an unmodified agent points its base URL here. Each
 * metered call is reserved before it leaves (tokenizer-counted input, the request's output bound
 * or the default), clamped to the grant, held while an approval waits, cut by a kill, and
 * committed from the provider's own usage — or, for a stream cut short, from a tokenizer count
 * of what was delivered, never $0 — under a key from the provider's response id.
 */

const PREFIX = '/proxy/';
/** A JSON response above this is not read for usage: it is passed on and charged its reservation. */
const MAX_JSON_RESPONSE_BYTES = 64 * 1024 * 1024;

type ServerPart = Pick<SpendguardServer, 'openVirtual' | 'closeVirtual' | 'requireKeys' | 'ready' | 'enqueue'>;
type SupervisorPart = Pick<Supervisor, 'dispatch' | 'agentFrame' | 'engine'>;
type Json = Record<string, unknown>;

export interface ProxyOptions {
  /** Seconds the proxy itself added before the call left (identity, reserve, clamp). */
  readonly observeOverhead?: (seconds: number) => void;
  readonly env?: NodeJS.ProcessEnv;
}

/** The upstream's answer passed on as it came (decoded, its hop-by-hop headers dropped). */
async function relayAsIs(res: ServerResponse, up: IncomingMessage): Promise<void> {
  res.writeHead(up.statusCode ?? 502, returnedHeaders(up.headers));
  for await (const chunk of decoded(up)) res.write(chunk);
  res.end();
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export class ProviderProxy {
  readonly agents: ProxyAgents;

  constructor(
    private readonly server: ServerPart,
    private readonly supervisor: SupervisorPart,
    private readonly tokens: Tokens,
    private readonly log: Logger,
    private readonly opts: ProxyOptions = {},
  ) {
    this.agents = new ProxyAgents(server, supervisor);
  }

  private get config(): Config {
    return this.supervisor.engine.config;
  }

  route(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    if (!url.startsWith(PREFIX)) return false;
    const slash = url.indexOf('/', PREFIX.length);
    const name = url.slice(PREFIX.length, slash < 0 ? url.length : slash).split('?')[0] ?? '';
    const rest = slash < 0 ? '/' : url.slice(slash);
    const upstream = upstreamNamed(this.config.proxy, name);
    const format: Format = upstream?.format ?? (name === 'anthropic' ? 'anthropic' : 'openai');
    this.handle(req, res, upstream, format, rest).catch((e: unknown) => {
      const r = e instanceof Refusal ? e : undefined;
      if (!r) this.log('error', 'proxy request failed', { error: e instanceof Error ? e.message : String(e), upstream: name });
      if (res.headersSent) return void res.destroy();
      const status = r?.status ?? 502;
      res.writeHead(status, { 'content-type': 'application/json', ...(r?.retryAfterS !== undefined ? { 'retry-after': String(r.retryAfterS) } : {}) });
      res.end(JSON.stringify(errorBody(format, status, r?.code ?? 'UPSTREAM', r?.message ?? `spendguard proxy: ${e instanceof Error ? e.message : String(e)}`)));
    });
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, upstream: Upstream | undefined, format: Format, rest: string): Promise<void> {
    if (!upstream) throw new Refusal(404, 'NOT_FOUND', `spendguard proxy: no upstream named in ${req.url ?? ''}; configure proxy.upstreams`);
    if (!this.server.ready) throw new Refusal(503, 'UNAVAILABLE', 'spendguard proxy: the daemon is starting');
    const raw = await readAll(req, this.config.proxy.max_body_bytes);
    if (raw === undefined) throw new Refusal(413, 'TOO_LARGE', `spendguard proxy: request body above proxy.max_body_bytes (${this.config.proxy.max_body_bytes} bytes)`);
    const endpoint = req.method === 'POST' ? endpointOf(format, rest) : null;
    let body: Json | undefined;
    if (endpoint !== null) {
      try {
        const parsed = JSON.parse(raw.toString('utf8')) as unknown;
        body = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : undefined;
      } catch {
        body = undefined;
      }
      if (!body) throw new Refusal(400, 'INVALID', 'spendguard proxy: the request body is not a JSON object');
    }
    const who = identify(req.headers, body, this.tokens, this.supervisor.engine.view, this.server.requireKeys);
    if (!who.ok) {
      this.log('warn', 'refused proxy request', { why: who.why, remote: req.socket.remoteAddress });
      throw new Refusal(401, 'UNAUTHORIZED', `spendguard proxy: ${who.message}`);
    }
    const upstreamKey = who.swapKey ? this.upstreamKey(upstream) : undefined;
    const opened = await this.agents.open(who.credential, who.key, who.hello);
    if (!opened.ok) throw new Refusal(403, 'INVALID', `spendguard proxy: ${String(opened.frame?.message ?? 'the daemon refused this caller')}`);
    const agent = opened.agent;
    // In flight from the start (a metered call from its reservation on): a kill aborts it, and an
    // agent waiting for approval is never swept as idle.
    const abort = new AbortController();
    agent.inflight.add(abort);
    try {
      if (endpoint === null || body === undefined) await this.passThrough(req, res, upstream, rest, raw, upstreamKey, abort);
      else await this.metered(req, res, upstream, rest, endpoint, body, upstreamKey, agent, abort);
    } finally {
      agent.inflight.delete(abort);
    }
  }

  private upstreamKey(upstream: Upstream): string {
    const value = upstream.api_key_env === undefined ? undefined : (this.opts.env ?? process.env)[upstream.api_key_env];
    if (!value) throw new Refusal(502, 'UPSTREAM_KEY', `spendguard proxy: a spendguard key was used but the upstream's key is not set (environment variable ${upstream.api_key_env ?? '(none: set proxy.upstreams.<name>.api_key_env)'})`);
    return value;
  }

  private async passThrough(req: IncomingMessage, res: ServerResponse, upstream: Upstream, rest: string, raw: Buffer, upstreamKey: string | undefined, abort: AbortController): Promise<void> {
    const up = await call(upstreamUrl(upstream, rest), req.method ?? 'GET', forwardedHeaders(req.headers, upstream, upstreamKey, raw.length), raw.length > 0 ? raw : undefined, abort.signal);
    await relayAsIs(res, up);
  }

  private async metered(req: IncomingMessage, res: ServerResponse, upstream: Upstream, rest: string, endpoint: Endpoint, body: Json, upstreamKey: string | undefined, agent: ProxyAgent, abort: AbortController): Promise<void> {
    const started = performance.now();
    const shape = shapeOf(endpoint, body);
    const reserveId = this.agents.nextId(agent);
    const grant = await this.agents.request(
      agent,
      { type: 'reserve', id: reserveId, ...(shape.model ? { model: shape.model } : {}), input_tokens: shape.inputTokens, max_output_tokens: shape.maxOutput ?? this.config.reservations.default_max_output_tokens },
      this.config.approvals.timeout,
    );
    if (typeof grant !== 'object') throw new Refusal(503, 'UNAVAILABLE', 'spendguard proxy: the daemon did not answer the reservation in time; retry');
    if (grant.type !== 'grant') throw this.refusalOf(grant);
    const reservation = String(grant.reservation);
    const delay = Number(grant.delay_ms ?? 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const forwarded = Buffer.from(JSON.stringify(clampedBody(endpoint, body, Number(grant.max_output_tokens))));
    const url = upstreamUrl(upstream, rest);
    this.opts.observeOverhead?.((performance.now() - started - delay) / 1000);
    let up;
    try {
      up = await call(url, 'POST', forwardedHeaders(req.headers, upstream, upstreamKey, forwarded.length), forwarded, abort.signal);
    } catch (e) {
      if (!abort.signal.aborted) {
        await this.release(agent, reservation);
        throw e;
      }
      // Killed after the request left: the provider may bill its input, so that is committed.
      await this.commitInput(agent, reservation, shape);
      throw new Refusal(403, 'KILLED', 'spendguard: KILLED: the operator killed this call');
    }
    const status = up.statusCode ?? 502;
    if (status < 200 || status >= 300) {
      // Upstream errors reach the client unchanged; nothing was generated, so nothing is charged.
      await this.release(agent, reservation);
      await relayAsIs(res, up);
      return;
    }
    const isSse = String(up.headers['content-type'] ?? '').includes('text/event-stream');
    let settled: { usage: GuardUsage; id: string | undefined };
    try {
      settled = isSse ? await this.relayStream(res, up, endpoint, shape, abort) : await this.relayJson(res, up, endpoint, shape);
    } catch (e) {
      // Cut before the answer was read (a kill, the client leaving): the input was sent and is
      // billed; what was generated is unknown, so the input is what is committed, never $0.
      await this.commitInput(agent, reservation, shape);
      throw abort.signal.aborted ? new Refusal(403, 'KILLED', 'spendguard: KILLED: the call was cut while its answer was read') : e;
    }
    const requestId = typeof up.headers['request-id'] === 'string' ? up.headers['request-id'] : undefined;
    const key = settled.id === undefined ? reservation : endpoint === 'messages' && requestId ? `cc:${settled.id}:${requestId}` : `resp-${settled.id}`;
    await this.commit(agent, reservation, key, shape.model, settled.usage);
  }

  private refusalOf(deny: OutFrame): Refusal {
    const code = String(deny.code ?? 'INVALID');
    const status = statusOfDeny(code);
    const retry = typeof deny.retry_after_ms === 'number' ? Math.max(1, Math.ceil(deny.retry_after_ms / 1000)) : status === 429 ? 1 : undefined;
    const what = code === 'BUDGET_EXCEEDED' ? 'raise the limit (spendguard grant) or wait for the window' : code === 'KILLED' ? 'the operator must resume it (spendguard resume)' : 'see spendguard status';
    return new Refusal(status, code, `spendguard: ${code} on ${String(deny.scope ?? '')}: ${String(deny.message ?? '')} — ${what}`, retry);
  }

  private async relayJson(res: ServerResponse, up: IncomingMessage, endpoint: Endpoint, shape: CallShape): Promise<{ usage: GuardUsage; id: string | undefined }> {
    const text = await readAll(decoded(up), MAX_JSON_RESPONSE_BYTES);
    res.writeHead(up.statusCode ?? 200, returnedHeaders(up.headers));
    res.end(text);
    let parsed: Json | undefined;
    try {
      parsed = text ? (JSON.parse(text.toString('utf8')) as Json) : undefined;
    } catch {
      parsed = undefined;
    }
    const reported = parsed ? usageOfJson(endpoint, parsed) : undefined;
    if (reported) return reported;
    return { usage: { input_tokens: shape.inputTokens, output_tokens: o200kTokenizer.count(parsed ? outputTextOf(parsed) : (text?.toString('utf8') ?? '')) }, id: typeof parsed?.id === 'string' ? parsed.id : undefined };
  }

  /** Passes the stream on event by event; meters each; a cut (either side, or a kill) ends it with what was delivered. */
  private async relayStream(res: ServerResponse, up: IncomingMessage, endpoint: Endpoint, shape: CallShape, abort: AbortController): Promise<{ usage: GuardUsage; id: string | undefined }> {
    const meter = streamMeterOf(endpoint, shape.inputTokens);
    const sse = new SseSplitter();
    const hideUsage = endpoint === 'chat' && !shape.clientWantsUsage;
    res.writeHead(up.statusCode ?? 200, returnedHeaders(up.headers));
    const clientGone = (): void => abort.abort(new Error('client closed'));
    res.once('close', clientGone);
    try {
      for await (const chunk of decoded(up)) {
        for (const ev of sse.push((chunk as Buffer).toString('utf8'))) {
          let data: Json | undefined;
          if (ev.data !== undefined && ev.data !== '[DONE]') {
            try {
              data = JSON.parse(ev.data) as Json;
            } catch {
              data = undefined;
            }
          }
          if (data) meter.observe(data);
          if (!(hideUsage && data && isUsageOnlyChunk(data))) res.write(ev.raw);
        }
      }
      res.end(sse.rest());
    } catch {
      if (!res.writableEnded && !res.destroyed) {
        const killed = abort.signal.reason instanceof Error && abort.signal.reason.message === 'killed';
        const message = killed ? 'spendguard: KILLED: the operator killed this call' : 'spendguard proxy: the upstream stream was cut';
        res.end(endpoint === 'messages' ? `event: error\ndata: ${JSON.stringify(errorBody('anthropic', 403, 'KILLED', message))}\n\n` : `data: ${JSON.stringify(errorBody('openai', 403, 'KILLED', message))}\n\n`);
      }
    } finally {
      res.off('close', clientGone);
    }
    const s = meter.settle();
    return { usage: s.usage, id: s.responseId };
  }

  private async commit(agent: ProxyAgent, reservation: string, key: string, model: string | undefined, usage: GuardUsage): Promise<void> {
    const id = this.agents.nextId(agent);
    const ack = await this.agents.request(agent, { type: 'commit', id, reservation, key: key.slice(0, 128), ...(model ? { model } : {}), ...usage }, 0);
    if (typeof ack !== 'object' || ack.type !== 'ack') this.log('warn', 'proxy commit not acknowledged', { reservation, key, reply: typeof ack === 'object' ? ack.type : ack });
  }

  /** A call cut after its request left: the input it sent is committed (billed by the provider), never $0. */
  private async commitInput(agent: ProxyAgent, reservation: string, shape: CallShape): Promise<void> {
    await this.commit(agent, reservation, reservation, shape.model, { input_tokens: shape.inputTokens, output_tokens: 0 });
  }

  private async release(agent: ProxyAgent, reservation: string): Promise<void> {
    await this.agents.request(agent, { type: 'release', id: this.agents.nextId(agent), reservation }, 0);
  }
}
