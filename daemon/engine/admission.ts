import { deny, limitsOf, unavailable } from './context.js';
import type { EngineState } from './engine-state.js';
import type { LiveConnection, ScopeState } from './state.js';

/** The common gate of every request that would use budget: ledger, kills, fan-out, aliasing, wall time. */

export function killedIn(chain: readonly ScopeState[]): ScopeState | undefined {
  for (const s of chain) if (s.killed) return s;
  return undefined;
}

/** A delegated budget is used from one live connection at a time. */
function aliased(conn: LiveConnection): boolean {
  const agent = conn.agent;
  return agent.cap !== null && agent.live_conn !== null && agent.live_conn !== conn.id;
}

/** Returns false when it answered with a deny. */
export function admit(st: EngineState, conn: LiveConnection, id: string): boolean {
  if (unavailable(st, conn.id, id)) return false;
  const killed = killedIn(conn.chain);
  if (killed) {
    deny(st, conn.id, id, 'KILLED', killed.id, `${killed.id} was killed: ${killed.killed?.reason ?? ''}`.trim());
    return false;
  }
  if (conn.fanout) {
    deny(st, conn.id, id, 'FANOUT_LIMIT', conn.fanout.scope.id, `${conn.fanout.message}; this sub-agent joined past the limit and may not spend`);
    return false;
  }
  if (aliased(conn)) {
    deny(st, conn.id, id, 'ALIASED', conn.agent.id, `${conn.agent.id} holds a delegated budget that another live connection is using`);
    return false;
  }
  for (const s of conn.chain) {
    const wall = limitsOf(st, s).wallTimeMs;
    const first = s.counters.first_event_ms;
    if (wall !== undefined && first !== null && st.now - first > wall) {
      const message = `${s.id} ran past its wall_time of ${Math.round(wall / 1000)}s`;
      st.runaway.notify(s, 'wall_time', 'warning', 'wall_time', `wall time: ${message} (since its first event); refusing BUDGET_EXCEEDED. Start a new task, or raise wall_time if the work is legitimate.`);
      deny(st, conn.id, id, 'BUDGET_EXCEEDED', s.id, message);
      return false;
    }
  }
  return true;
}
