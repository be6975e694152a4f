import { createHash } from 'node:crypto';
import type { Hello } from '../../shared/protocol/agent.js';
import type { KeyCreateRequest, KeyJson } from '../../shared/protocol/operator.js';
import { alert, ancestry, emit } from './context.js';
import type { EngineState, EngineView } from './engine-state.js';
import { GLOBAL, scopeKind, type ScopeId } from './scope.js';
import type { ConnId, ScopeState } from './state.js';

/**
 * Keys bound to a scope: an `sgk_…` secret whose holder may act only inside that scope's
 * subtree (and only as one agent when the key names it). The ledger keeps the SHA-256 of the
 * secret, never the secret; the operator sees it once, when it is created.
 */

export const KEY_PREFIX = 'sgk_';
/** Keys remembered at once, revoked ones included (each is a few hundred bytes). */
export const MAX_KEYS = 10_000;

export interface KeyRecord {
  readonly label: string;
  readonly hash: string;
  readonly scope: ScopeId;
  readonly agent: string | null;
  readonly created_ms: number;
  readonly expires_ms: number | null;
  revoked: boolean;
  /** Since this daemon started. */
  last_used_ms: number | null;
  /** Its connections were closed when it expired (once). */
  expiry_handled: boolean;
  /** The scopes above `scope`, global first, fixed when the key was made: it never acts under others. */
  readonly pinned: readonly ScopeId[];
}

export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function keyUsable(key: KeyRecord, now: number): boolean {
  return !key.revoked && (key.expires_ms === null || key.expires_ms > now);
}

export function looksLikeKey(token: string): boolean {
  return token.startsWith(KEY_PREFIX);
}

/** The key a presented secret is, if it may be used now; otherwise why not (for the log, never the client). */
export function usableKey(st: EngineView, secret: string): KeyRecord | string {
  const key = st.keys_by_hash.get(hashKey(secret));
  if (!key) return 'unknown key';
  if (!keyUsable(key, st.now)) return `key ${key.label} was revoked or expired`;
  return key;
}

function connectionsWith(st: EngineView, key: KeyRecord): ConnId[] {
  const out: ConnId[] = [];
  for (const c of st.conns.values()) if (c.key === key) out.push(c.id);
  return out;
}

export function keyJson(st: EngineView, key: KeyRecord): KeyJson {
  return {
    label: key.label,
    scope: key.scope,
    agent: key.agent,
    created_ms: key.created_ms,
    expires_ms: key.expires_ms,
    last_used_ms: key.last_used_ms,
    revoked: key.revoked,
    connections: connectionsWith(st, key).length,
    under: [...key.pinned],
  };
}

/** Adds a key read back from the ledger, or just created. */
export function remember(st: EngineState, key: KeyRecord): void {
  st.keys.set(key.label, key);
  st.keys_by_hash.set(key.hash, key);
}

export type Created = { ok: true; key: KeyRecord } | { ok: false; message: string };

/** `secret` comes from the shell (randomness is not the engine's to make). */
export function createKey(st: EngineState, frame: KeyCreateRequest, secret: string, actor: string): Created {
  if (st.keys.size >= MAX_KEYS) return { ok: false, message: `keys: ${MAX_KEYS} keys exist, the most this daemon keeps; revoke unused ones first` };
  if (frame.scope === 'global') return { ok: false, message: 'scope: a key for global would act anywhere; use the shared agent token, or bind the key to a user, session, task or agent' };
  const label = frame.name ?? `key-${st.keys.size + 1}`;
  if (st.keys.has(label)) return { ok: false, message: `name: a key named ${label} exists already` };
  if (frame.agent !== undefined && scopeKind(frame.scope as ScopeId) === 'agent' && frame.scope !== `agent:${frame.agent}`) {
    return { ok: false, message: `agent: a key bound to ${frame.scope} cannot act as agent ${frame.agent}` };
  }
  const pinned = pinnedFor(st, frame.scope as ScopeId, frame.in as ScopeId | undefined);
  if (typeof pinned === 'string') return { ok: false, message: pinned };
  const key: KeyRecord = {
    label,
    hash: hashKey(secret),
    scope: frame.scope as ScopeId,
    agent: frame.agent ?? null,
    created_ms: st.now,
    expires_ms: frame.expires_ms === undefined ? null : st.now + frame.expires_ms,
    revoked: false,
    last_used_ms: null,
    expiry_handled: false,
    pinned,
  };
  remember(st, key);
  emit(st, { type: 'action', row: { ts: st.now, kind: 'key_create', scope: key.scope, actor, data: { label, hash: key.hash, agent: key.agent, expires_ms: key.expires_ms, pinned: [...pinned] } } });
  alert(st, 'info', 'key', key.scope, `${actor} created key ${label} for ${key.scope}${key.agent ? ` as agent ${key.agent}` : ''}`);
  return { ok: true, key };
}

/** Revokes by label or by the secret itself; open connections using it are closed at once. */
export function revokeKey(st: EngineState, target: string, actor: string): { ok: boolean; message: string } {
  const key = looksLikeKey(target) ? st.keys_by_hash.get(hashKey(target)) : st.keys.get(target);
  if (!key) return { ok: false, message: `target: no key ${looksLikeKey(target) ? 'matches that secret' : `named ${target}`}` };
  if (key.revoked) return { ok: true, message: `key ${key.label} was already revoked` };
  key.revoked = true;
  emit(st, { type: 'action', row: { ts: st.now, kind: 'key_revoke', scope: key.scope, actor, data: { label: key.label } } });
  const closed = closeConnections(st, key);
  alert(st, 'warning', 'key', key.scope, `${actor} revoked key ${key.label}; ${closed} connection(s) closed`);
  return { ok: true, message: `revoked key ${key.label} (${key.scope}); closed ${closed} connection(s) using it` };
}

function closeConnections(st: EngineState, key: KeyRecord): number {
  const conns = connectionsWith(st, key);
  for (const conn of conns) emit(st, { type: 'close', conn });
  return conns.length;
}

/** On the tick: connections of keys that expired since are closed (new ones are refused at the door). */
export function expireKeys(st: EngineState): void {
  for (const key of st.keys.values()) {
    if (key.expiry_handled || key.expires_ms === null || key.expires_ms > st.now) continue;
    key.expiry_handled = true;
    const closed = closeConnections(st, key);
    if (closed > 0) alert(st, 'info', 'key', key.scope, `key ${key.label} expired; ${closed} connection(s) closed`);
  }
}

const NAMED_BY: Record<string, keyof Hello> = { user: 'user', session: 'session', task: 'task' };
/** What each kind of scope may sit in. */
const PARENT_KINDS: Record<string, readonly string[]> = { user: ['global'], session: ['user'], task: ['session'], agent: ['task', 'agent'] };

const ids = (chain: readonly ScopeState[]): ScopeId[] => chain.map((s) => s.id);

/**
 * Where a new key's scope sits: where it lives now, or in `within` (its parent) when it is not
 * in use yet. Fixed for the key's life, so its holder can never put its scope under another's.
 */
function pinnedFor(st: EngineView, scope: ScopeId, within: ScopeId | undefined): readonly ScopeId[] | string {
  const kind = scopeKind(scope);
  const placed = st.scopes.get(scope);
  if (placed) {
    const above = ids(ancestry(placed)).slice(0, -1);
    if (within !== undefined && above.at(-1) !== within) return `in: ${scope} already lives in ${String(above.at(-1))}`;
    return above;
  }
  if (kind === 'user') return [GLOBAL];
  const allowed = PARENT_KINDS[kind] ?? [];
  if (within === undefined) return `in: ${scope} is not in use yet; say where it belongs, e.g. --in ${allowed[0] ?? 'user'}:NAME`;
  if (!allowed.includes(scopeKind(within))) return `in: a ${kind} sits in a ${allowed.join(' or ')}, not in ${within}`;
  const parent = st.scopes.get(within);
  if (parent) return ids(ancestry(parent));
  if (scopeKind(within) === 'user') return [GLOBAL, within];
  return `in: ${within} is not in use yet either; name the user for a session, or create the key once ${within} is in use`;
}

/** The usable key, other than `except`, that holds an agent name (as its agent, or its agent scope). */
function nameHolder(st: EngineView, agent: string, except: KeyRecord): KeyRecord | undefined {
  if (st.keys.size === 0) return undefined;
  for (const k of st.keys.values()) {
    if (k !== except && keyUsable(k, st.now) && (k.agent === agent || k.scope === `agent:${agent}`)) return k;
  }
  return undefined;
}

/**
 * Before a key-bound hello places anything. It names the key's scope at its own level (and the
 * key's agent, when it has one), under exactly the ancestors pinned when the key was made; the
 * scope has not been moved since; every existing scope it names below is already inside the
 * key's scope (a key holder adopts nothing, moves nothing); and no other key holds its agent name.
 */
export function helloRefusal(st: EngineView, key: KeyRecord, frame: Hello): string | null {
  if (key.agent !== null && frame.agent !== key.agent) return `agent: key ${key.label} acts only as agent ${key.agent}`;
  const kind = scopeKind(key.scope);
  const name = key.scope.slice(kind.length + 1);
  const field = NAMED_BY[kind];
  if (field !== undefined && frame[field] !== name) return `${field}: key ${key.label} is bound to ${key.scope}; say hello inside it`;
  if (kind === 'agent' && frame.agent !== name && frame.parent !== name) return `agent: key ${key.label} is bound to ${key.scope}: act as it, or as its sub-agent (parent ${name})`;
  for (const id of key.pinned) {
    const k = scopeKind(id);
    const n = id.slice(k.length + 1);
    const f = NAMED_BY[k];
    if (f !== undefined && frame[f] !== n) return `${f}: ${key.scope} belongs to ${id}; a key cannot move it`;
  }
  const lastAgent = [...key.pinned].reverse().find((id) => scopeKind(id) === 'agent');
  if (kind === 'agent' && frame.agent === name && (frame.parent === undefined ? lastAgent !== undefined : `agent:${frame.parent}` !== lastAgent)) {
    return `parent: ${key.scope} sits ${lastAgent ? `under ${lastAgent}` : 'directly in its task'}; a key cannot move it`;
  }
  const placed = st.scopes.get(key.scope);
  if (placed && key.pinned.length > 0 && ids(ancestry(placed)).slice(0, -1).join('>') !== key.pinned.join('>')) {
    return `scope: ${key.scope} was moved since key ${key.label} was made; revoke it and make a new one`;
  }
  const below: string[] = [];
  if (kind === 'user') below.push(`session:${frame.session}`);
  if (kind === 'user' || kind === 'session') below.push(`task:${frame.task}`);
  if (kind !== 'agent' || frame.agent !== name) below.push(`agent:${frame.agent}`);
  // An agent key's own parent sits above it (pinned, checked above); anyone else's parent must be inside.
  if (frame.parent !== undefined && kind !== 'agent') below.push(`agent:${frame.parent}`);
  for (const id of below) {
    const s = st.scopes.get(id as ScopeId);
    if (s && !ancestry(s).some((a) => a.id === key.scope)) return `${scopeKind(id as ScopeId)}: ${id} lives outside ${key.scope}; a key cannot take it`;
  }
  const holder = nameHolder(st, frame.agent, key);
  if (holder) return `agent: the name ${frame.agent} belongs to key ${holder.label}`;
  return null;
}

/** A key-bound delegation may not take a child that lives outside the key's scope, or a name another key holds. */
export function delegationRefusal(st: EngineView, key: KeyRecord, child: string): string | null {
  const s = st.scopes.get(`agent:${child}` as ScopeId);
  if (s && !ancestry(s).some((a) => a.id === key.scope)) return `agent:${child} lives outside ${key.scope}; a key cannot take it`;
  const holder = nameHolder(st, child, key);
  return holder ? `the name ${child} belongs to key ${holder.label}` : null;
}

/** After the chain is known: the key's scope must be on it (a named parent outside it is refused). */
export function chainRefusal(key: KeyRecord, chain: readonly ScopeState[]): string | null {
  if (chain.some((s) => s.id === key.scope)) return null;
  return `parent: this hello lands under ${chain.map((s) => s.id).join(' > ')}, outside ${key.scope}, the scope of key ${key.label}`;
}
