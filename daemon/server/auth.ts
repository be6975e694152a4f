import type { EngineView } from '../engine/engine-state.js';
import { looksLikeKey, usableKey, type KeyRecord } from '../engine/keys.js';
import { tokenMatches, type Tokens } from './tokens.js';

/**
 * Who an agent request is: a key bound to a scope (`sgk_…`), or the shared agent token, which
 * trusts every local agent alike (refused with `--require-keys`). The operator token is the
 * operator's: it may act as any agent. One decision for WebSockets, the HTTP API and the proxy.
 */
export type AgentAuth =
  | { readonly ok: true; readonly key: string | undefined; readonly record?: KeyRecord; readonly credential: string }
  | { readonly ok: false; readonly message: string; readonly why: string };

export function bearerOf(header: string | undefined): string {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
}

export function authenticateAgent(token: string, tokens: Tokens, view: EngineView, requireKeys: boolean): AgentAuth {
  if (token.length === 0) return { ok: false, message: 'UNAUTHORIZED: missing bearer token', why: 'no token' };
  if (looksLikeKey(token)) {
    const key = usableKey(view, token);
    // Unknown, revoked and expired keys get one answer: a guess learns nothing.
    if (typeof key === 'string') return { ok: false, message: 'UNAUTHORIZED: unknown, revoked or expired key', why: key };
    return { ok: true, key: key.label, record: key, credential: `key:${key.label}` };
  }
  if (tokenMatches(token, tokens.operator)) return { ok: true, key: undefined, credential: 'operator-token' };
  if (tokenMatches(token, tokens.agent)) {
    if (requireKeys) return { ok: false, message: 'UNAUTHORIZED: this daemon requires a key (spendguard keys create <scope>); the shared agent token is off', why: 'shared token with --require-keys' };
    return { ok: true, key: undefined, credential: 'agent-token' };
  }
  return { ok: false, message: 'UNAUTHORIZED: wrong token', why: 'wrong token' };
}

/** A client's lane in the fair queue: its key's (shared with the key's sockets and sessions), else its own. */
export function laneOf(credential: string, ownId: string): `key:${string}` | `http:${string}` {
  return credential.startsWith('key:') ? (credential as `key:${string}`) : `http:${ownId}`;
}
