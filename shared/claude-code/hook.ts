/**
 * The Claude Code `PreToolUse` hook (SPEC §5 `hook claude-code`): asks the daemon whether the
 * session may run this tool, exits 0 to allow, 2 with a one-line reason on stderr to block.
 *
 * Standalone on purpose: this file imports only `ws` (through ../client/ws.ts) and node
 * built-ins, types aside, and `bin/spendguard-hook.js` loads its compiled form and nothing else —
 * not the CLI, not the protocol's schemas. A hook runs before every tool call; hook-bin.test.ts
 * keeps it that way.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { type RawData, WebSocket } from '../client/ws.js';

export const CLIENT = 'claude-code';
export type FailMode = 'open' | 'closed';

export const DEFAULT_WAIT_MS = 120_000;
export const DEFAULT_TIMEOUT_MS = 1_000;
const MAX_WAIT_MS = 3_600_000;
const MAX_TIMEOUT_MS = 60_000;
/** Claude Code's payload carries the tool input, which for Write is a whole file. */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
const STDIN_TIMEOUT_MS = 5_000;
/** Daemon frames are small; a bigger one is not an answer. */
const MAX_FRAME_BYTES = 1024 * 1024;
/** A granted call waits this long for its release to be acknowledged, then goes anyway. */
const RELEASE_WAIT_MS = 500;
const MAX_TOOL_CHARS = 256;
/** Session ids are UUIDs; the bound leaves room for the agent name's prefix within 128 chars. */
const MAX_SESSION_CHARS = 100;
const NAME_RE = /^[A-Za-z0-9._@/+=-]{1,128}$/;

// ---------------------------------------------------------------- identity

export type ClaudeCodeHello = {
  agent: string;
  session: string;
  task: string;
  user: string;
  labels: Record<string, string>;
};

export function isSessionId(id: string): boolean {
  return id.length <= MAX_SESSION_CHARS && NAME_RE.test(id);
}

/**
 * The hello both the watcher and the hook send, so both land on the same chain. The agent name
 * carries the session id: agent scopes are global by name, and one shared `agent:claude-code`
 * would let one session's denials open the breaker for every other session.
 */
export function claudeCodeHello(sessionId: string, user: string = osUser()): ClaudeCodeHello {
  return { agent: `${CLIENT}.${sessionId}`, session: sessionId, task: sessionId, user, labels: { client: CLIENT } };
}

/** The OS user as a scope name (`user:<name>`); `default` when there is none to be had. */
export function osUser(env: NodeJS.ProcessEnv = process.env): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = env.USER ?? env.USERNAME; // no passwd entry (containers)
  }
  const clean = (name ?? '').replace(/[^A-Za-z0-9._@/+=-]/g, '-').slice(0, 128);
  return clean.length > 0 ? clean : 'default';
}

// ---------------------------------------------------------------- where the daemon is

export interface AgentConnection {
  url: string;
  token: string | undefined;
  /** Where the token was looked for, for error messages. */
  tokenFrom: string;
  stateDir: string;
}

/**
 * Same order as `resolveConnection` in shared/client/operator.ts (kept in step by a test), with
 * the agent token: `SPENDGUARD_AGENT_TOKEN`, then `<state dir>/agent.token`.
 */
export function resolveAgentConnection(opts: { url?: string | undefined; stateDir?: string | undefined; env: NodeJS.ProcessEnv }): AgentConnection {
  const { env } = opts;
  const stateDir = expandHome(opts.stateDir ?? env.SPENDGUARD_STATE_DIR ?? defaultStateDir(env));
  const url = opts.url ?? (env.SPENDGUARD_URL || undefined) ?? endpointFromFile(join(stateDir, 'daemon.json')) ?? 'ws://127.0.0.1:7878';
  const envToken = env.SPENDGUARD_AGENT_TOKEN?.trim();
  if (envToken) return { url, token: envToken, tokenFrom: 'SPENDGUARD_AGENT_TOKEN', stateDir };
  const tokenFile = join(stateDir, 'agent.token');
  const fileToken = readOptional(tokenFile)?.trim();
  return { url, token: fileToken || undefined, tokenFrom: tokenFile, stateDir };
}

function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_STATE_HOME && env.XDG_STATE_HOME.length > 0 ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(xdg, 'spendguard');
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

function endpointFromFile(file: string): string | undefined {
  const text = readOptional(file);
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    const url = isRecord(parsed) ? parsed.url : undefined;
    return typeof url === 'string' && url.length > 0 ? url : undefined;
  } catch {
    return undefined; // half-written: fall through to the default address
  }
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export function agentEndpoint(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith('/v1/agent')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/agent`;
  return u.toString();
}

// ---------------------------------------------------------------- the hook's input

export interface HookPayload {
  session_id: string;
  /** Absent for events other than PreToolUse: the check then covers the session only. */
  tool_name: string | undefined;
  tool_input: unknown;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export function parseHookPayload(text: string): Parsed<HookPayload> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the hook input on stdin is not JSON' };
  }
  if (!isRecord(raw)) return { ok: false, reason: 'the hook input on stdin is not a JSON object' };
  const session = raw.session_id;
  if (typeof session !== 'string' || !isSessionId(session)) {
    return { ok: false, reason: `the hook input has no usable session_id (got ${JSON.stringify(session)?.slice(0, 80)})` };
  }
  const tool = raw.tool_name;
  if (tool !== undefined && typeof tool !== 'string') return { ok: false, reason: 'the hook input has a tool_name that is not a string' };
  return { ok: true, value: { session_id: session, tool_name: tool?.slice(0, MAX_TOOL_CHARS), tool_input: raw.tool_input } };
}

/** Lets the daemon's loop detector see the same tool called with the same input again and again. */
export function argsHash(toolInput: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(toolInput ?? null))
    .digest('hex')
    .slice(0, 16);
}

/** `500ms`, `30s`, `2m`; a bare number is seconds, as in Claude Code's hook `timeout`. */
export function parseDurationMs(text: string, max_ms: number): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1_000;
  const value = Math.round(Number(m[1]) * unit);
  return Number.isFinite(value) && value <= max_ms ? value : undefined;
}

export function parseFailMode(text: string): FailMode | undefined {
  return text === 'open' || text === 'closed' ? text : undefined;
}

// ---------------------------------------------------------------- asking the daemon

export interface Ask {
  url: string;
  token: string;
  hello: ClaudeCodeHello;
  tool: string | undefined;
  args_hash: string | undefined;
  /** Bound on connect + hello + the first reply. */
  timeout_ms: number;
  /** Bound on the operator's answer once the daemon says `pending`. */
  wait_ms: number;
  /** Told the prompt id when the request is parked for the operator. */
  onPending?: (prompt: string) => void;
}

export type Answer =
  | { kind: 'grant' }
  | { kind: 'deny'; code: string; scope: string; message: string; retry_after_ms: number | undefined }
  /** No decision from the daemon; `pending` says it had parked the request for the operator. */
  | { kind: 'unanswered'; reason: string; pending: boolean };

type Phase = 'connect' | 'welcome' | 'reply' | 'pending' | 'release' | 'done';

const RESERVE_ID = 'hook-reserve';
/**
 * What the hook reserves: one nano-dollar, the smallest amount there is. A free request would
 * still fit a session spent to exactly its cost limit; this one does not, so at 100 % of a cost
 * limit tools stop. (It asks for no tokens: token limits block once they are over.)
 */
const ASK_USD = 1e-9;
const RELEASE_ID = 'hook-release';

/**
 * One connection, one one-nano-dollar `reserve` (the daemon answers KILLED, BUDGET_EXCEEDED,
 * TOOL_DENIED … or `pending` for an approval-mode limit), and a `release` of any grant so that
 * it holds nothing for its lease.
 */
export function askDaemon(ask: Ask): Promise<Answer> {
  return new Promise((resolve) => {
    let endpoint: string;
    try {
      endpoint = agentEndpoint(ask.url);
    } catch {
      resolve({ kind: 'unanswered', reason: `not a daemon URL: ${ask.url}`, pending: false });
      return;
    }
    let phase: Phase = 'connect';
    let timer: NodeJS.Timeout | undefined;
    const socket = new WebSocket(endpoint, {
      headers: { Authorization: `Bearer ${ask.token}` },
      handshakeTimeout: ask.timeout_ms,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
    });
    const finish = (answer: Answer): void => {
      if (phase === 'done') return;
      phase = 'done';
      clearTimeout(timer);
      socket.terminate();
      resolve(answer);
    };
    const arm = (ms: number, onTimeout: () => void): void => {
      clearTimeout(timer);
      timer = setTimeout(onTimeout, ms);
    };
    // Once granted, losing the daemon no longer matters: the answer is in.
    const unanswered = (reason: string): void =>
      finish(phase === 'release' ? { kind: 'grant' } : { kind: 'unanswered', reason, pending: phase === 'pending' });

    arm(ask.timeout_ms, () => unanswered(`no answer from ${ask.url} within ${ask.timeout_ms} ms`));
    socket.on('error', (err: Error) => unanswered(`cannot reach ${ask.url}: ${err.message}`));
    socket.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      const status = res.statusCode ?? 0;
      unanswered(status === 401 || status === 403 ? `the daemon at ${ask.url} refused the agent token (HTTP ${status})` : `HTTP ${status} from ${endpoint}`);
    });
    socket.on('close', () => unanswered(`the daemon at ${ask.url} closed the connection`));
    socket.on('open', () => {
      phase = 'welcome';
      socket.send(JSON.stringify({ type: 'hello', v: 1, ...ask.hello }));
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const frame = isBinary ? undefined : readFrame(data);
      if (!frame) return;
      const { type } = frame;
      if (type === 'shutdown') return unanswered('the daemon is shutting down');
      if (type === 'error' && (frame.id === undefined || frame.id === RESERVE_ID)) {
        return unanswered(`the daemon refused the request: ${str(frame.code)}: ${str(frame.message)}`);
      }
      if (phase === 'welcome' && type === 'welcome') {
        phase = 'reply';
        const reserve = { type: 'reserve', id: RESERVE_ID, cost_usd: ASK_USD, ...(ask.tool === undefined ? {} : { tool: ask.tool, args_hash: ask.args_hash }) };
        socket.send(JSON.stringify(reserve));
        return;
      }
      if (frame.id === RESERVE_ID && (phase === 'reply' || phase === 'pending')) {
        if (type === 'pending') {
          phase = 'pending';
          ask.onPending?.(str(frame.prompt));
          arm(ask.wait_ms, () => unanswered(`no answer to approval prompt ${str(frame.prompt)} within ${Math.round(ask.wait_ms / 1000)} s`));
        } else if (type === 'deny') {
          const retry = typeof frame.retry_after_ms === 'number' ? frame.retry_after_ms : undefined;
          finish({ kind: 'deny', code: str(frame.code), scope: str(frame.scope), message: str(frame.message), retry_after_ms: retry });
        } else if (type === 'grant' && typeof frame.reservation === 'string') {
          phase = 'release';
          socket.send(JSON.stringify({ type: 'release', id: RELEASE_ID, reservation: frame.reservation }));
          arm(RELEASE_WAIT_MS, () => finish({ kind: 'grant' }));
        }
        return;
      }
      if (phase === 'release' && frame.id === RELEASE_ID) finish({ kind: 'grant' });
      // `kill` pushes need no handling: the reserve's deny carries the kill and its reason.
    });
  });
}

type Frame = Record<string, unknown> & { type: string; id?: unknown };

function readFrame(data: RawData): Frame | undefined {
  const buf = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
  const text = buf.toString('utf8');
  try {
    const raw: unknown = JSON.parse(text);
    return isRecord(raw) && typeof raw.type === 'string' ? (raw as Frame) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- the decision

export interface Verdict {
  exitCode: 0 | 2;
  /** One line for stderr: Claude reads it when blocked, the user sees it in verbose mode otherwise. */
  message: string | undefined;
}

const NEXT_STEP: Record<string, (scope: string) => string> = {
  KILLED: (scope) => `An operator stopped this session: do not retry, tell the user (resume: spendguard resume ${scope}).`,
  BUDGET_EXCEEDED: (scope) => `The budget is spent: do not retry, tell the user (raise it: spendguard grant ${scope} --add-usd N).`,
  APPROVAL_DENIED: () => 'The operator refused more budget: do not retry, tell the user.',
  APPROVAL_TIMEOUT: () => 'Nobody answered the approval prompt in time: tell the user.',
  TOOL_DENIED: () => 'This tool is not allowed by the spendguard policy: do not retry it.',
  LOOP_DETECTED: () => 'The same call was repeated too many times in a row: change approach.',
};

export function decide(answer: Answer, fail: FailMode, tool: string | undefined): Verdict {
  const what = tool ?? 'this step';
  switch (answer.kind) {
    case 'grant':
      return { exitCode: 0, message: undefined };
    case 'deny': {
      const retry = answer.retry_after_ms === undefined ? '' : ` Retry in ${Math.ceil(answer.retry_after_ms / 1000)} s.`;
      const next = NEXT_STEP[answer.code]?.(answer.scope) ?? '';
      return { exitCode: 2, message: oneLine(`spendguard blocked ${what}: ${answer.message} [${answer.code} on ${answer.scope}].${retry} ${next}`) };
    }
    case 'unanswered':
      // Parked for approval means over an approval limit: letting it through would bypass the operator.
      if (answer.pending) return { exitCode: 2, message: oneLine(`spendguard blocked ${what}: waiting for the operator's approval failed (${answer.reason}).`) };
      if (fail === 'open') return { exitCode: 0, message: oneLine(`spendguard: ${answer.reason}; allowing ${what} (--fail open).`) };
      return { exitCode: 2, message: oneLine(`spendguard blocked ${what}: ${answer.reason} (--fail closed). Start the daemon with \`spendguard daemon\`.`) };
    default:
      return answer satisfies never;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

// ---------------------------------------------------------------- one hook run

export interface HookOptions {
  url: string | undefined;
  stateDir: string | undefined;
  fail: FailMode;
  wait_ms: number;
  timeout_ms: number;
  env: NodeJS.ProcessEnv;
}

export async function runHook(payloadText: string, opts: HookOptions): Promise<Verdict> {
  const payload = parseHookPayload(payloadText);
  if (!payload.ok) return decide({ kind: 'unanswered', reason: payload.reason, pending: false }, opts.fail, undefined);
  const { session_id, tool_name, tool_input } = payload.value;
  const conn = resolveAgentConnection({ url: opts.url, stateDir: opts.stateDir, env: opts.env });
  if (conn.token === undefined) {
    const reason = `no agent token (looked in ${conn.tokenFrom}; set SPENDGUARD_AGENT_TOKEN or --state-dir)`;
    return decide({ kind: 'unanswered', reason, pending: false }, opts.fail, tool_name);
  }
  const answer = await askDaemon({
    url: conn.url,
    token: conn.token,
    hello: claudeCodeHello(session_id, osUser(opts.env)),
    tool: tool_name,
    args_hash: tool_name === undefined ? undefined : argsHash(tool_input),
    timeout_ms: opts.timeout_ms,
    wait_ms: opts.wait_ms,
  });
  return decide(answer, opts.fail, tool_name);
}

/** Reads stdin and decides: what both `spendguard hook claude-code` and `spendguard-hook` run. */
export async function hookFromStdin(stdin: Readable & { isTTY?: boolean }, opts: HookOptions): Promise<Verdict> {
  const input = await readPayload(stdin);
  return input.ok ? runHook(input.value, opts) : decide({ kind: 'unanswered', reason: input.reason, pending: false }, opts.fail, undefined);
}

/** Reads the whole payload, bounded in size and time (a hook run by hand from a terminal would hang). */
export function readPayload(stream: Readable & { isTTY?: boolean }): Promise<Parsed<string>> {
  if (stream.isTTY) return Promise.resolve({ ok: false, reason: 'expects the PreToolUse hook JSON on stdin (run it from Claude Code)' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (result: Parsed<string>): void => {
      clearTimeout(timer);
      // Destroyed, not paused: an open stdin would keep the process alive after the answer.
      stream.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle({ ok: false, reason: `no hook input on stdin within ${STDIN_TIMEOUT_MS} ms` }), STDIN_TIMEOUT_MS);
    stream.on('data', (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > MAX_PAYLOAD_BYTES) settle({ ok: false, reason: `hook input larger than ${MAX_PAYLOAD_BYTES} bytes` });
      else chunks.push(buf);
    });
    stream.once('end', () => settle({ ok: true, value: Buffer.concat(chunks).toString('utf8') }));
    stream.once('error', (err: Error) => settle({ ok: false, reason: `cannot read stdin: ${err.message}` }));
  });
}

const USAGE = 'usage: spendguard-hook claude-code [--fail open|closed] [--wait 120s] [--timeout 1s] [--url URL] [--state-dir DIR] [--timing]';

type HookArgs = { ok: true; opts: Omit<HookOptions, 'env'>; timing: boolean } | { ok: false; reason: string };

function parseHookArgs(argv: readonly string[]): HookArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        fail: { type: 'string', default: 'open' },
        wait: { type: 'string', default: `${DEFAULT_WAIT_MS / 1000}s` },
        timeout: { type: 'string', default: `${DEFAULT_TIMEOUT_MS}ms` },
        url: { type: 'string' },
        'state-dir': { type: 'string' },
        timing: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
  const { values, positionals } = parsed;
  const fail = parseFailMode(values.fail);
  const wait_ms = parseDurationMs(values.wait, MAX_WAIT_MS);
  const timeout_ms = parseDurationMs(values.timeout, MAX_TIMEOUT_MS);
  if (positionals.length !== 1 || positionals[0] !== CLIENT) return { ok: false, reason: `expected one argument, ${CLIENT}` };
  if (!fail) return { ok: false, reason: `--fail must be open or closed, not ${values.fail}` };
  if (wait_ms === undefined) return { ok: false, reason: `--wait must be a duration up to 1 h like 120s, not ${values.wait}` };
  if (timeout_ms === undefined) return { ok: false, reason: `--timeout must be a duration up to 60 s like 1s, not ${values.timeout}` };
  return { ok: true, opts: { url: values.url, stateDir: values['state-dir'], fail, wait_ms, timeout_ms }, timing: values.timing };
}

/** `bin/spendguard-hook.js`: argv without node and script; returns the exit code. */
export async function hookMain(argv: readonly string[], io: { stdin: Readable; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const started = performance.now();
  const args = parseHookArgs(argv);
  if (!args.ok) {
    // Exit 2 blocks the tool call: a broken hook command shows at the first tool call, not never.
    io.stderr.write(`spendguard-hook: ${args.reason}; ${USAGE}\n`);
    return 2;
  }
  const verdict = await hookFromStdin(io.stdin, { ...args.opts, env: io.env });
  if (verdict.message !== undefined) io.stderr.write(`${verdict.message}\n`);
  if (args.timing) io.stderr.write(`${timingLine(started)}\n`);
  return verdict.exitCode;
}

/** `--timing`: the decision time inside the process, and how long the process had been up by then. */
export function timingLine(started_ms: number): string {
  const now = performance.now();
  return `spendguard-hook timing: decided in ${(now - started_ms).toFixed(1)} ms; process up ${now.toFixed(0)} ms`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}
