import type { IncomingHttpHeaders } from 'node:http';
import { claudeCodeHello } from '../../shared/claude-code/hook.js';
import type { EngineView } from '../engine/engine-state.js';
import { looksLikeKey, type KeyRecord } from '../engine/keys.js';
import { ancestry } from '../engine/context.js';
import { scopeKind, type ScopeId } from '../engine/scope.js';
import { authenticateAgent, bearerOf } from '../server/auth.js';
import type { Tokens } from '../server/tokens.js';

/**
 * Who a proxied call is and where it lands. Either a spendguard key sent as the provider API
 * key (the daemon then sends the upstream's own key), or `x-spendguard-token` with the caller's
 * place in `x-spendguard-{user,session,task,agent,parent}` and its own provider credentials.
 * Claude Code's session id names the session when no header does, as `watch claude-code` does.
 */

export interface ProxyHello {
  readonly user: string;
  readonly session: string;
  readonly task: string;
  readonly agent: string;
  readonly parent?: string;
}

export type ProxyIdentity =
  | { readonly ok: true; readonly hello: ProxyHello; readonly key: string | undefined; readonly credential: string; readonly swapKey: boolean }
  | { readonly ok: false; readonly message: string; readonly why: string };

export const SPENDGUARD_HEADER = /^x-spendguard-/i;
const NAME_RE = /^[A-Za-z0-9._@/+=-]{1,128}$/;
const DEFAULT_NAME = 'proxy';

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && NAME_RE.test(s) ? s : undefined;
}

/** Claude Code's session id: its header, else the one inside `metadata.user_id` (older versions). */
export function claudeSessionOf(headers: IncomingHttpHeaders, body: Record<string, unknown> | undefined): string | undefined {
  const fromHeader = header(headers, 'x-claude-code-session-id');
  if (fromHeader) return fromHeader;
  const meta = body?.metadata;
  const userId = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>).user_id : undefined;
  if (typeof userId !== 'string') return undefined;
  const legacy = /_session_([0-9a-fA-F-]{8,64})$/.exec(userId);
  if (legacy?.[1]) return legacy[1];
  try {
    const parsed = JSON.parse(userId) as unknown;
    const id = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).session_id : undefined;
    return typeof id === 'string' && NAME_RE.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** What the headers (or Claude Code) name; what they leave out is filled in by `settle`. */
type Asked = { -readonly [K in keyof ProxyHello]?: ProxyHello[K] };

function askedOf(headers: IncomingHttpHeaders, body: Record<string, unknown> | undefined): Asked {
  const named: Asked = {};
  const put = (field: keyof ProxyHello, value: string | undefined): void => {
    if (value !== undefined) named[field] = value;
  };
  put('user', header(headers, 'x-spendguard-user'));
  put('session', header(headers, 'x-spendguard-session'));
  put('task', header(headers, 'x-spendguard-task'));
  put('agent', header(headers, 'x-spendguard-agent'));
  put('parent', header(headers, 'x-spendguard-parent'));
  const claude = named.session === undefined ? claudeSessionOf(headers, body) : undefined;
  if (claude === undefined) return named;
  // The hello `watch claude-code` and the hook send, so all three land on one chain.
  const cc = claudeCodeHello(claude, named.user ?? 'default');
  const sub = header(headers, 'x-claude-code-agent-id');
  return { ...named, session: cc.session, task: named.task ?? cc.task, agent: named.agent ?? sub ?? cc.agent, ...(sub && !named.agent && !named.parent ? { parent: cc.agent } : {}) };
}

/**
 * Defaults for what nobody named. Scope names are global, so a default is derived from the
 * session: a shared `agent:proxy` would pull every session's calls into the first one's place.
 */
function settle(asked: Asked): ProxyHello {
  const session = asked.session ?? DEFAULT_NAME;
  return {
    user: asked.user ?? 'default',
    session,
    task: asked.task ?? session,
    agent: asked.agent ?? `${DEFAULT_NAME}.${session}`,
    ...(asked.parent !== undefined ? { parent: asked.parent } : {}),
  };
}

/**
 * A key's place: the key's scope at its own level and the ancestors pinned when the key was
 * made (a key never moves its scope); the rest from the headers. The engine checks it again.
 */
function keyPlace(view: EngineView, scope: ScopeId, pinned: readonly ScopeId[], agent: string | null, asked: Asked): ProxyHello {
  const kind = scopeKind(scope);
  const name = scope.slice(kind.length + 1);
  const out: Asked = { ...asked };
  const placed = view.scopes.get(scope);
  const above = pinned.length > 0 ? pinned : placed ? ancestry(placed).map((s) => s.id) : [];
  let parentAgent: string | undefined;
  for (const id of above) {
    const k = scopeKind(id);
    const n = id.slice(k.length + 1);
    if (k === 'user') out.user = n;
    else if (k === 'session') out.session = n;
    else if (k === 'task') out.task = n;
    else if (k === 'agent') parentAgent = n;
  }
  if (kind === 'user') out.user = name;
  else if (kind === 'session') out.session = name;
  else if (kind === 'task') out.task = name;
  else if (asked.agent === undefined || asked.agent === name) {
    out.agent = name;
    if (parentAgent === undefined) delete out.parent;
    else out.parent = parentAgent;
  } else out.parent = name;
  if (agent !== null) out.agent = agent;
  return settle(out);
}

export function identify(headers: IncomingHttpHeaders, body: Record<string, unknown> | undefined, tokens: Tokens, view: EngineView, requireKeys: boolean): ProxyIdentity {
  const apiKey = bearerOf(headers.authorization) || (typeof headers['x-api-key'] === 'string' ? headers['x-api-key'] : '');
  const asked = askedOf(headers, body);
  if (looksLikeKey(apiKey)) {
    const auth = authenticateAgent(apiKey, tokens, view, requireKeys);
    if (!auth.ok) return { ok: false, message: auth.message, why: auth.why };
    // A token that looks like a key authenticates only as that key, so the record is there.
    const key = auth.record as KeyRecord;
    return { ok: true, hello: keyPlace(view, key.scope, key.pinned, key.agent, asked), key: key.label, credential: auth.credential, swapKey: true };
  }
  const token = typeof headers['x-spendguard-token'] === 'string' ? headers['x-spendguard-token'] : '';
  if (token.length === 0) {
    return { ok: false, message: 'UNAUTHORIZED: spendguard proxy: send a spendguard key (sgk_…) as the API key, or x-spendguard-token with your own provider key', why: 'no identity' };
  }
  const auth = authenticateAgent(token, tokens, view, requireKeys);
  if (!auth.ok) return { ok: false, message: auth.message, why: auth.why };
  // The caller's own provider credentials go upstream untouched.
  return { ok: true, hello: settle(asked), key: auth.key, credential: auth.credential, swapKey: false };
}
