import type { KillRequest, ResumeRequest } from '../../shared/protocol/operator.js';
import { alert, deny, emit, globalScope, markAllChanged, scope, send } from './context.js';
import type { EngineState } from './engine-state.js';
import { dropPrompt } from './approvals.js';
import { GLOBAL, type ScopeId } from './scope.js';
import type { ScopeState } from './state.js';

/** The kill switch (SPEC §3): every agent under the scope gets a `kill` frame, every pending request under it is denied. */

export function kill(st: EngineState, frame: Pick<KillRequest, 'scope' | 'all' | 'reason'>, actor: string): string {
  const id = (frame.all ? GLOBAL : frame.scope) as ScopeId;
  const target = st.scopes.get(id) ?? scope(st, id, id === GLOBAL ? null : globalScope(st));
  const reason = frame.reason ?? 'killed by the operator';
  target.killed = { reason, at_ms: st.now };
  markAllChanged(st);
  emit(st, { type: 'action', row: { ts: st.now, kind: 'kill', scope: id, actor, data: { reason } } });
  let agents = 0;
  for (const c of st.conns.values()) {
    if (c.state === 'live' && c.chain.includes(target)) {
      agents += 1;
      send(st, c.id, { type: 'kill', scope: id, reason });
    }
  }
  for (const p of [...st.prompts.values()]) {
    const c = st.conns.get(p.conn);
    if (c?.state === 'live' && c.chain.includes(target)) {
      dropPrompt(st, p);
      deny(st, p.conn, p.request.id, 'KILLED', id, `${id} was killed: ${reason}`);
    }
  }
  alert(st, 'critical', 'kill', id, `${id} killed (${reason}): ${agents} connected agent${agents === 1 ? '' : 's'} stopped`);
  return `killed ${id}: reached ${agents} agent${agents === 1 ? '' : 's'}`;
}

export function resume(st: EngineState, frame: Pick<ResumeRequest, 'scope' | 'all'>, actor: string): string {
  const targets = frame.all ? [...st.scopes.values()].filter((s) => s.killed) : [st.scopes.get(frame.scope as ScopeId)].filter((s): s is ScopeState => s !== undefined && s.killed !== null);
  // Every scope below a resumed one changes state (killed → running): the feed re-sends them all, as on a kill.
  if (targets.length > 0) markAllChanged(st);
  for (const s of targets) {
    s.killed = null;
    emit(st, { type: 'action', row: { ts: st.now, kind: 'resume', scope: s.id, actor, data: {} } });
    alert(st, 'info', 'resume', s.id, `${s.id} resumed`);
  }
  if (targets.length === 0) return frame.all ? 'nothing was killed' : `${frame.scope} was not killed`;
  return `resumed ${targets.map((s) => s.id).join(', ')}`;
}
