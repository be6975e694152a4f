import type { IncomingMessage, ServerResponse } from 'node:http';

export type Body = { readonly ok: true; readonly data: Buffer } | { readonly ok: false; readonly bytes: number };

/**
 * Reads a request body, keeping at most `limitBytes`: past it the rest is never buffered and
 * the caller answers 413 (the connection is closed after that answer).
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Body> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.resolve({ ok: false, bytes: declared });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > limitBytes) {
        req.off('data', onData);
        req.off('end', onEnd);
        chunks.length = 0;
        // Keep reading (and dropping) so the client can finish sending and read the 413.
        req.resume();
        resolve({ ok: false, bytes });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve({ ok: true, data: Buffer.concat(chunks, bytes) });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/** Writes a JSON body (or none, for 204) unless the client has gone. */
export function respond(res: ServerResponse, status: number, body?: object, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { 'cache-control': 'no-store' };
  if (close) headers.connection = 'close';
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
