import type { Hello } from '../../shared/protocol/agent.js';
import { ancestry, join, markChanged, scope, send, sendError } from './context.js';
import { canEnd, endDelegation } from './delegation.js';
import { MAX_CHAIN, type EngineState } from './engine-state.js';
import { chainRefusal, helloRefusal, keyUsable } from './keys.js';
import { budgetView } from './messages.js';
import { dropPrompt } from './approvals.js';
import { releaseReservation } from './settlement.js';
import { GLOBAL, scopeId } from './scope.js';
import type { ConnId, LiveConnection, ScopeState } from './state.js';

/** Connections: a socket opens, says hello (joins its chain), says bye or drops. */

/** `keyLabel`: the key the shell authenticated the socket with; none: the shared agent token. */
export function open(st: EngineState, conn: ConnId, keyLabel?: string): void {
  if (st.conns.has(conn)) return;
  const key = keyLabel === undefined ? null : (st.keys.get(keyLabel) ?? null);
  if (keyLabel !== undefined && (key === null || key.revoked)) {
    // Revoked between the door and here: the socket is refused, not let in as the shared token.
    st.conns.set(conn, { state: 'rejected', id: conn, key: key ?? null, final: true });
    st.out.push({ type: 'close', conn });
    return;
  }
  if (key) key.last_used_ms = st.now;
  st.conns.set(conn, { state: 'pending', id: conn, key });
}

function reject(st: EngineState, conn: ConnId, message: string): void {
  st.conns.set(conn, { state: 'rejected', id: conn, key: st.conns.get(conn)?.key ?? null });
  sendError(st, conn, undefined, 'INVALID', message);
}

/**
 * The chain an agent's parent gives it: global → user → session → task (→ parent agents), as the
 * scope tree has it. Ids are global and a scope in use is never moved: a hello that names one
 * elsewhere joins it where it lives (the welcome lists the real chain). A delegated child is the
 * child of its delegator wherever it says it is: its budget is held on the delegator's chain,
 * and only that chain may spend it — under another task it is refused.
 */
function parentChain(st: EngineState, frame: Hello): ScopeState[] | string {
  const hold = st.scopes.get(scopeId('agent', frame.agent))?.hold;
  if (hold) {
    const owner = hold.owner;
    const task = hold.chain.find((s) => s.id === scopeId('task', frame.task));
    if (task && (frame.parent === undefined || scopeId('agent', frame.parent) === owner.id)) return [...hold.chain];
    return `agent:${frame.agent} holds a budget delegated by ${owner.id} under ${hold.chain.map((s) => s.id).join(' > ')}: say hello there (parent ${owner.id.slice('agent:'.length)}), or after its delegation ends`;
  }
  const global = scope(st, GLOBAL, null);
  const user = join(st, scopeId('user', frame.user), global);
  const session = join(st, scopeId('session', frame.session), user);
  const task = join(st, scopeId('task', frame.task), session);
  if (frame.parent === undefined) return ancestry(task);
  const parent = st.scopes.get(scopeId('agent', frame.parent));
  // A sub-agent joins where its parent agent is now.
  if (parent) return ancestry(parent);
  return [...ancestry(task), scope(st, scopeId('agent', frame.parent), task)];
}

export function hello(st: EngineState, connId: ConnId, frame: Hello): void {
  const before = st.conns.get(connId);
  if (before?.state === 'live') {
    sendError(st, connId, undefined, 'INVALID', 'hello: already sent on this connection');
    return;
  }
  if (before?.state === 'rejected' && before.final) return;
  const key = before?.key ?? null;
  if (key && !keyUsable(key, st.now)) return reject(st, connId, `key: ${key.label} was revoked or expired`);
  const misplaced = key ? helloRefusal(st, key, frame) : null;
  if (misplaced !== null) return reject(st, connId, misplaced);
  const above = parentChain(st, frame);
  if (typeof above === 'string') return reject(st, connId, above);
  if (above.length >= MAX_CHAIN) return reject(st, connId, `parent: delegation deeper than ${MAX_CHAIN} levels`);
  const known = st.scopes.get(scopeId('agent', frame.agent));
  if (known && above.includes(known)) return reject(st, connId, 'parent: an agent cannot be its own ancestor');
  const named = above[above.length - 1] as ScopeState;
  const agent = join(st, scopeId('agent', frame.agent), named);
  // An agent already running elsewhere is joined there, under its own parent.
  const chain = agent.parent === named ? [...above, agent] : ancestry(agent);
  if (chain.length > MAX_CHAIN) return reject(st, connId, `parent: delegation deeper than ${MAX_CHAIN} levels`);
  const outside = key ? chainRefusal(key, chain) : null;
  if (outside !== null) return reject(st, connId, outside);
  // A sub-agent that says who its parent is counts toward the parent's fan-out whether or
  // not budget was delegated to it; past the limits it may connect, but never spend.
  const parentAgent = frame.parent !== undefined && agent.parent === named ? named : undefined;
  const fanout = parentAgent ? st.runaway.fanout(above, parentAgent, agent) : undefined;
  agent.connections += 1;
  chain[chain.length - 2]?.live_children.add(agent);
  for (const s of chain) {
    s.conn_refs += 1;
    s.active_ms = st.now;
    markChanged(st, s);
  }
  if (agent.live_conn === null) agent.live_conn = connId;
  const live: LiveConnection = { state: 'live', id: connId, key, hello: frame, agent, chain, ...(fanout ? { fanout: { scope: fanout.scope, message: fanout.message } } : {}) };
  st.conns.set(connId, live);
  if (parentAgent && !fanout) st.runaway.adopt(parentAgent, agent);
  const budgets: Record<string, ReturnType<typeof budgetView>> = {};
  for (const s of chain) budgets[s.id] = budgetView(st, s);
  send(st, connId, { type: 'welcome', v: 1, scopes: chain.map((s) => s.id), budgets });
  const killed = chain.find((s) => s.killed);
  if (killed?.killed) send(st, connId, { type: 'kill', scope: killed.id, reason: killed.killed.reason });
}

export function disconnect(st: EngineState, connId: ConnId): void {
  const conn = st.conns.get(connId);
  if (!conn) return;
  st.conns.delete(connId);
  if (conn.state === 'live') {
    const agent = conn.agent;
    for (const s of conn.chain) {
      s.conn_refs -= 1;
      s.active_ms = st.now;
      markChanged(st, s);
    }
    agent.connections -= 1;
    if (agent.live_conn === connId) agent.live_conn = null;
    if (agent.connections === 0) {
      conn.chain[conn.chain.length - 2]?.live_children.delete(agent);
      // A sub-agent without a delegation stops counting toward its parent's fan-out when it leaves.
      if (!agent.hold) st.runaway.release(agent);
    }
  }
  // Reservations outlive a dropped connection until their lease ends, so a reconnecting
  // agent can still commit them.
  for (const r of st.reservations.values()) if (r.conn === connId) r.conn = null;
  for (const p of st.prompts.values()) if (p.conn === connId) dropPrompt(st, p);
}

export function bye(st: EngineState, conn: LiveConnection): void {
  for (const r of [...st.reservations.values()]) {
    if (r.kind === 'call' && r.conn === conn.id) releaseReservation(st, r);
  }
  const agent = conn.agent;
  // The remainder returns on bye — once its sub-agents' reservations settle (else at the lease's end).
  if (agent.hold && agent.live_conn === conn.id && canEnd(st, agent)) endDelegation(st, agent, 'bye');
  st.out.push({ type: 'close', conn: conn.id });
}
