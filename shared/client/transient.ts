/** How `guard()` reads a provider failure: retry it or not, and how long the provider asked to wait. */
export interface FailureClass {
  readonly transient: boolean;
  readonly retryAfterMs: number | undefined;
  readonly reason: string;
}

// Connection resets and timeouts, as Node's net stack and undici (fetch-based SDKs) name them.
const TRANSIENT_CODES = new Set([
  'ETIMEDOUT',
  'ECONNRESET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
]);

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

function statusOf(err: unknown): number | undefined {
  for (const candidate of [field(err, 'status'), field(err, 'statusCode'), field(field(err, 'response'), 'status')]) {
    if (typeof candidate === 'number' && Number.isInteger(candidate)) return candidate;
  }
  return undefined;
}

function codeOf(err: unknown): string | undefined {
  // Depth-bounded walk down `cause`: fetch wraps the socket error one or two levels deep.
  let current = err;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    const code = field(current, 'code');
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return code;
    current = field(current, 'cause');
  }
  return undefined;
}

function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const get = field(headers, 'get');
  if (typeof get === 'function') {
    const v: unknown = get.call(headers, name);
    return typeof v === 'string' ? v : undefined;
  }
  const v = field(headers, name);
  return typeof v === 'string' ? v : undefined;
}

/** `retryAfterMs` on the error, else the `retry-after-ms` / `Retry-After` (seconds or HTTP date) header. */
export function retryAfterMsOf(err: unknown, nowMs: number = Date.now()): number | undefined {
  const explicit = field(err, 'retryAfterMs');
  if (typeof explicit === 'number' && Number.isFinite(explicit) && explicit >= 0) return explicit;
  const headers = field(err, 'headers');
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const after = header(headers, 'retry-after');
  if (after === undefined) return undefined;
  const seconds = Number(after);
  if (after.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(after);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** 429 and 5xx are transient; any other status (4xx) never is; without a status, resets and timeouts are. */
export function classifyFailure(err: unknown): FailureClass {
  const retryAfterMs = retryAfterMsOf(err);
  const status = statusOf(err);
  if (status !== undefined) {
    const transient = status === 429 || (status >= 500 && status <= 599);
    return { transient, retryAfterMs, reason: `status ${status}` };
  }
  const code = codeOf(err);
  if (code !== undefined) return { transient: true, retryAfterMs, reason: code };
  return { transient: false, retryAfterMs, reason: err instanceof Error ? err.name : 'non-error thrown' };
}
