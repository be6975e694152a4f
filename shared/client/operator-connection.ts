import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LISTEN, endpointUrl, listenToUrl, resolveStateDir, STATE_FILES } from '../paths.js';

/**
 * Where the daemon is, how to authenticate, and the two ways talking to it fails. Apart from
 * `OperatorClient` (operator.ts) on purpose: the CLI needs these before it knows which command
 * runs, and this file loads no WebSocket library and no schemas (node built-ins only).
 */

/** The daemon could not be reached, dropped the connection, or did not answer in time. */
export class DaemonUnreachableError extends Error {
  override readonly name = 'DaemonUnreachableError';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the daemon at ${url}: ${reason}`);
  }
}

/**
 * The daemon answered, but with an error: an `error` frame (`code` from the protocol, e.g.
 * `INVALID`, `UNAUTHORIZED`), a refused handshake, or a reply this client cannot read
 * (`BAD_REPLY`). Requests refused before sending use `INVALID` / `BUSY`.
 */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function operatorEndpoint(url: string): string {
  return endpointUrl(url, '/v1/operator');
}

export type UrlSource = '--url' | 'SPENDGUARD_URL' | 'daemon.json' | 'default';
export type TokenSource = 'SPENDGUARD_TOKEN' | 'operator.token' | 'none';

export interface Connection {
  url: string;
  urlSource: UrlSource;
  token: string | undefined;
  tokenSource: TokenSource;
  stateDir: string;
}

export interface ResolveOptions {
  url?: string | undefined;
  stateDir?: string | undefined;
  env: NodeJS.ProcessEnv;
}

/**
 * Where the daemon is and how to authenticate: URL from `--url`, `SPENDGUARD_URL`, the state
 * dir's `daemon.json`, then the default listen address; token from `SPENDGUARD_TOKEN`, then the
 * state dir's `operator.token`. The state dir is `--state-dir`, `SPENDGUARD_STATE_DIR`, or the default.
 */
export function resolveConnection(options: ResolveOptions): Connection {
  const { env } = options;
  const stateDir = resolveStateDir(options.stateDir, undefined, env);

  let url: string;
  let urlSource: UrlSource;
  const fromFile = readEndpointFile(join(stateDir, STATE_FILES.endpoint));
  if (options.url) [url, urlSource] = [options.url, '--url'];
  else if (env.SPENDGUARD_URL) [url, urlSource] = [env.SPENDGUARD_URL, 'SPENDGUARD_URL'];
  else if (fromFile) [url, urlSource] = [fromFile, 'daemon.json'];
  else [url, urlSource] = [listenToUrl(DEFAULT_LISTEN), 'default'];

  let token: string | undefined;
  let tokenSource: TokenSource = 'none';
  const envToken = env.SPENDGUARD_TOKEN?.trim();
  if (envToken) [token, tokenSource] = [envToken, 'SPENDGUARD_TOKEN'];
  else {
    const fileToken = readOptional(join(stateDir, STATE_FILES.operatorToken))?.trim();
    if (fileToken) [token, tokenSource] = [fileToken, 'operator.token'];
  }
  return { url, urlSource, token, tokenSource, stateDir };
}

/** True for `ws://`, `wss://` (or `http://`, `https://`) URLs with a host. */
export function isDaemonUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return ['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol) && parsed.host.length > 0;
  } catch {
    return false;
  }
}

/** `daemon.json`'s `url`: the one field read, so checked by hand rather than with a schema. */
function readEndpointFile(file: string): string | undefined {
  const text = readOptional(file);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // half-written or foreign file: fall through to the default address
  }
  const url = typeof parsed === 'object' && parsed !== null && 'url' in parsed ? parsed.url : undefined;
  return typeof url === 'string' && url.length > 0 ? url : undefined;
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
