import type { KillRequest, ResumeRequest } from '../../shared/protocol/operator.js';
import { alert, deny, emit, globalScope, markAllChanged, scope, send } from './context.js';
import type { EngineState, EngineView } from './engine-state.js';
import { dropPrompt } from './approvals.js';
import { nearMatches } from './near.js';
import { GLOBAL, type ScopeId } from './scope.js';
import type { ScopeState } from './state.js';

/** The kill switch (SPEC §3): every agent under the scope gets a `kill` frame, every pending request under it is denied. */

export type KillResult = { ok: true; message: string } | { ok: false; code: 'NOT_FOUND' | 'INVALID'; message: string };

/**
 * Whether the daemon knows `id`: in memory, named in the config, or bound to a key. The shell
 * loads a scope that left memory back from the ledger before the event that names it, so a
 * scope absent here was never seen (or left no counters worth keeping).
 */
export function knownScope(st: EngineView, id: ScopeId): boolean {
  if (st.scopes.has(id) || st.config.scopes[id] !== undefined) return true;
  for (const k of st.keys.values()) if (k.scope === id) return true;
  return false;
}

/** The refusal of an operator action on a scope never seen: near matches named, and what to do instead. */
export function noSuchScope(st: EngineView, id: ScopeId, hint: string): { ok: false; code: 'NOT_FOUND'; message: string } {
  const near = nearMatches(id, st.scopes.keys());
  const did = near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : '';
  return { ok: false, code: 'NOT_FOUND', message: `no such scope ${id}${did}; ${hint}` };
}

/** The nearest killed scope on `s`'s path to global, itself first: what blocks it; null when nothing does. */
export function killedBy(s: ScopeState): ScopeState | null {
  for (let x: ScopeState | null = s; x; x = x.parent) if (x.killed !== null) return x;
  return null;
}

export function kill(st: EngineState, frame: Pick<KillRequest, 'scope' | 'all' | 'reason' | 'create'>, actor: string): KillResult {
  const id = (frame.all ? GLOBAL : frame.scope) as ScopeId;
  // A typo must not create a phantom scope and report success: only --create kills ahead of time.
  if (id !== GLOBAL && !frame.create && !knownScope(st, id)) return noSuchScope(st, id, 'nothing was killed; to kill it before it exists, add --create');
  const target = st.scopes.get(id) ?? scope(st, id, id === GLOBAL ? null : globalScope(st));
  const reason = frame.reason ?? 'killed by the operator';
  target.killed = { reason, at_ms: st.now };
  markAllChanged(st);
  emit(st, { type: 'action', row: { ts: st.now, kind: 'kill', scope: id, actor, data: { reason } } });
  let agents = 0;
  // One frame object for every agent: the shell serialises it once for all of them.
  const stop = { type: 'kill', scope: id, reason } as const;
  for (const c of st.conns.values()) {
    if (c.state === 'live' && c.chain.includes(target)) {
      agents += 1;
      send(st, c.id, stop);
    }
  }
  for (const p of [...st.prompts.values()]) {
    const c = st.conns.get(p.conn);
    if (c?.state === 'live' && c.chain.includes(target)) {
      dropPrompt(st, p);
      deny(st, p.conn, p.request.id, 'KILLED', id, `${id} was killed: ${reason}`);
    }
  }
  alert(st, 'critical', 'kill', id, `${id} killed by ${actor} (${reason}): ${agents} connected agent${agents === 1 ? '' : 's'} stopped`);
  return { ok: true, message: `killed ${id}: reached ${agents} agent${agents === 1 ? '' : 's'}` };
}

export function resume(st: EngineState, frame: Pick<ResumeRequest, 'scope' | 'all'>, actor: string): KillResult {
  if (frame.all) {
    const targets = [...st.scopes.values()].filter((s) => s.killed);
    lift(st, targets, actor);
    return { ok: true, message: targets.length === 0 ? 'nothing was killed' : `resumed ${targets.map((s) => s.id).join(', ')}` };
  }
  const id = frame.scope as ScopeId;
  const s = st.scopes.get(id);
  if (!s) return noSuchScope(st, id, 'nothing was resumed');
  const own = s.killed !== null;
  if (own) lift(st, [s], actor);
  // A kill above it still holds: say which one, rather than "resumed" while everything stays stopped.
  const above = killedBy(s);
  if (above !== null) {
    const blocked = `${id} is blocked by the kill of ${above.id}; resume ${above.id}`;
    return own ? { ok: true, message: `resumed ${id}, but ${blocked}` } : { ok: false, code: 'INVALID', message: blocked };
  }
  return own ? { ok: true, message: `resumed ${id}` } : { ok: true, message: `${id} was not killed` };
}

function lift(st: EngineState, targets: readonly ScopeState[], actor: string): void {
  // Every scope below a resumed one changes state (killed → running): the feed re-sends them all, as on a kill.
  if (targets.length > 0) markAllChanged(st);
  for (const s of targets) {
    s.killed = null;
    emit(st, { type: 'action', row: { ts: st.now, kind: 'resume', scope: s.id, actor, data: {} } });
    alert(st, 'info', 'resume', s.id, `${s.id} resumed by ${actor}`);
  }
}
