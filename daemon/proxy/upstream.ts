import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Upstream } from '../config/proxy-schema.js';
import { SPENDGUARD_HEADER } from './identity.js';

/** Talking to the provider: the forwarded request's headers, the call, and its body decoded. */

/** Hop-by-hop headers (RFC 9110 §7.6.1) and ones the proxy sets itself. */
const NOT_FORWARDED = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length', 'accept-encoding']);
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding']);

/**
 * The caller's headers minus spendguard's own and the hop-by-hop ones; with a spendguard key,
 * the caller's credentials are replaced by the upstream's key (never forwarded).
 */
export function forwardedHeaders(incoming: IncomingHttpHeaders, upstream: Upstream, upstreamKey: string | undefined, bodyBytes: number | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || NOT_FORWARDED.has(name) || SPENDGUARD_HEADER.test(name)) continue;
    if (upstreamKey !== undefined && (name === 'authorization' || name === 'x-api-key')) continue;
    out[name] = value;
  }
  if (upstreamKey !== undefined) {
    if (upstream.format === 'anthropic') out['x-api-key'] = upstreamKey;
    else out.authorization = `Bearer ${upstreamKey}`;
  }
  // Identity first: usage is read from the body; a compressed answer anyway is decoded below.
  out['accept-encoding'] = 'identity';
  if (bodyBytes !== undefined) out['content-length'] = bodyBytes;
  return out;
}

export function returnedHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !NOT_RETURNED.has(name)) out[name] = value;
  return out;
}

/** `/proxy/<name>` replaced by the upstream's URL; the rest of the path and the query kept. */
export function upstreamUrl(upstream: Upstream, rest: string): URL {
  const base = upstream.url.replace(/\/+$/, '');
  return new URL(`${base}${rest.startsWith('/') ? rest : `/${rest}`}`);
}

/** Sends the request; resolves with the response once its head arrives. */
export function call(url: URL, method: string, headers: OutgoingHttpHeaders, body: Buffer | undefined, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, headers, signal }, resolve);
    req.on('error', reject);
    req.end(body);
  });
}

/** The response body as sent, decoded when the upstream compressed it regardless. */
export function decoded(res: IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') return res.pipe(createGunzip());
  if (encoding === 'br') return res.pipe(createBrotliDecompress());
  if (encoding === 'deflate') return res.pipe(createInflate());
  return res;
}

export async function readAll(stream: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * Server-sent events split as they arrive: each complete event's raw text (to pass on as is)
 * and its `data` (to meter). A partial event waits for the rest; the buffer is bounded by what
 * one event may hold.
 */
export class SseSplitter {
  private buffer = '';

  constructor(private readonly maxEventChars: number = 16 * 1024 * 1024) {}

  push(text: string): Array<{ raw: string; data: string | undefined }> {
    this.buffer += text;
    const out: Array<{ raw: string; data: string | undefined }> = [];
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.buffer);
      if (!m) break;
      const raw = this.buffer.slice(0, m.index + m[0].length);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const data = raw
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      out.push({ raw, data: data.length > 0 ? data : undefined });
    }
    if (this.buffer.length > this.maxEventChars) {
      // Not SSE as we know it: pass it on unmetered rather than hold it.
      out.push({ raw: this.buffer, data: undefined });
      this.buffer = '';
    }
    return out;
  }

  /** Whatever is left when the stream ends. */
  rest(): string {
    const r = this.buffer;
    this.buffer = '';
    return r;
  }
}
