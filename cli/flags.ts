import { InvalidArgumentError } from 'commander';
import ms from 'ms';
import { isDaemonUrl } from '../shared/client/operator-connection.js';
import { MAX_USD } from '../shared/money/money.js';

/**
 * Flag and argument parsers for commander: each turns the text into a typed value or throws
 * `InvalidArgumentError`, which commander reports naming the flag, and which exits 2.
 *
 * Every command line loads this file (the program's `--url`), so it checks with plain regular
 * expressions, not the protocol's zod schemas: loading zod alone takes longer than node's own
 * start-up. The two patterns copied from the protocol are held to `ScopeIdSchema` and
 * `KeyLabel` by flags.test.ts.
 */

const MAX_TOKENS = 1_000_000_000;
const SCOPE_HINT = 'must be global or kind:id with kind user, session, task or agent (e.g. session:s-42)';
/** Prompt ids are the daemon's (`p…`); a colon would make them a scope. */
const PROMPT_ID_RE = /^[A-Za-z0-9._@/+=-]{1,128}$/;
/** `ScopeIdSchema` in shared/protocol/fields.ts. */
const SCOPE_RE = /^(global|(user|session|task|agent):[A-Za-z0-9._@/+=-]{1,128})$/;
/** `KeyLabel` in shared/protocol/operator.ts. */
const KEY_LABEL_RE = /^[A-Za-z0-9._@+=-]{1,64}$/;
const MAX_REASON_CHARS = 256;

/** A grant's amount: zero or a negative amount is a typo, never an intent. */
export function parseUsd(text: string): number {
  const value = strictNumber(text);
  if (value === undefined || value <= 0 || value > MAX_USD) {
    throw new InvalidArgumentError(`must be a number of dollars above 0 and at most ${MAX_USD.toLocaleString('en-US')}`);
  }
  return value;
}

export function parseTokens(text: string): number {
  const value = strictNumber(text);
  if (value === undefined || !Number.isInteger(value) || value <= 0 || value > MAX_TOKENS) {
    throw new InvalidArgumentError(`must be a whole number of tokens above 0 and at most ${MAX_TOKENS.toLocaleString('en-US')}`);
  }
  return value;
}

export function parseScope(text: string): string {
  if (!SCOPE_RE.test(text)) throw new InvalidArgumentError(SCOPE_HINT);
  return text;
}

export type GrantTarget = { kind: 'scope'; scope: string } | { kind: 'prompt'; prompt: string };

/** `global` or `kind:id` is a scope; anything else must look like a prompt id. */
export function parseGrantTarget(text: string): GrantTarget {
  if (text === 'global' || text.includes(':')) return { kind: 'scope', scope: parseScope(text) };
  return { kind: 'prompt', prompt: parsePromptId(text) };
}

export function parsePromptId(text: string): string {
  if (text.includes(':') || text === 'global') {
    throw new InvalidArgumentError('must be a prompt id (see `spendguard prompts`), not a scope');
  }
  if (!PROMPT_ID_RE.test(text)) throw new InvalidArgumentError('must be a prompt id of 1-128 letters, digits or . _ @ / + = -');
  return text;
}

export function parseReason(text: string): string {
  if (text.length > MAX_REASON_CHARS) throw new InvalidArgumentError(`must be at most ${MAX_REASON_CHARS} characters`);
  return text;
}

/** `host:port` as in the config's `listen`. */
export function parseListen(text: string): string {
  const match = /^([^\s:]+):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 0 || port > 65_535) throw new InvalidArgumentError('must be host:port, e.g. 127.0.0.1:7878 (port 0 picks a free port)');
  return text;
}

export function parseUrl(text: string): string {
  if (!isDaemonUrl(text)) throw new InvalidArgumentError('must be a ws:// or wss:// URL, e.g. ws://127.0.0.1:7878');
  return text;
}

const DURATION_RE = /^\d+(\.\d+)?(s|m|h|d|w)$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/**
 * `--since`: a duration back from `now` (`90m`, `24h`, `7d`, `2w`), an ISO date (local
 * midnight), or an ISO date-time (local unless it carries `Z` or an offset). → ms since epoch.
 */
export function parseSince(text: string, now: number = Date.now()): number {
  if (DURATION_RE.test(text)) return now - ms(text as ms.StringValue);
  const date = DATE_RE.exec(text);
  if (date) {
    const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
    const local = new Date(y, m - 1, d);
    if (local.getFullYear() === y && local.getMonth() === m - 1 && local.getDate() === d) return local.getTime();
  } else if (DATE_TIME_RE.test(text)) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  }
  throw new InvalidArgumentError('must be a duration like 24h or 7d, or an ISO date like 2025-01-31');
}

/** Plain decimal numbers only: `Number('')`, `Number('0x10')` and `Number('1e3')` are not amounts an operator types. */
function strictNumber(text: string): number | undefined {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text.trim())) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** `--expires`: a lifetime from now (`90m`, `24h`, `30d`) → milliseconds. */
export function parseLifetime(text: string): number {
  if (!DURATION_RE.test(text)) throw new InvalidArgumentError('must be a duration like 24h, 30d or 2w');
  const value = ms(text as ms.StringValue);
  if (!(value > 0)) throw new InvalidArgumentError('must be above 0');
  return value;
}

/** `--name` of a key: what `keys list` and `keys revoke` call it. */
export function parseKeyLabel(text: string): string {
  if (!KEY_LABEL_RE.test(text)) throw new InvalidArgumentError('must be 1-64 letters, digits or . _ @ + = -');
  return text;
}
