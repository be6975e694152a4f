import { expireKeys } from './keys.js';
import { expirePrompts } from './approvals.js';
import { markAllChanged, markChanged, periods } from './context.js';
import { canEnd, endDelegation } from './delegation.js';
import type { EngineState } from './engine-state.js';
import { evictIdle } from './memory.js';
import { assertReservedMatches } from './invariants.js';
import { checkThresholds } from './pressure.js';
import { releaseReservation } from './settlement.js';

/** What time alone changes (the `tick` event): leases, prompt timeouts, breakers, memory. */

/** How often the whole state is checked and swept (reserved == placements; idle scopes out). */
const SWEEP_EVERY_MS = 10_000;

export function tick(st: EngineState): void {
  const p = periods(st);
  const key = `${p.hour}|${p.day}|${p.week}|${p.month}`;
  if (key !== st.periods_seen) {
    // A calendar window rolled over: every per_hour/per_day figure starts again.
    if (st.periods_seen !== '') markAllChanged(st);
    st.periods_seen = key;
  }
  expireLeases(st);
  expirePrompts(st);
  expireKeys(st);
  for (const s of st.runaway.tick(st.now)) markChanged(st, s);
  compactChangeLog(st);
  if (st.now >= st.next_sweep_ms) {
    st.next_sweep_ms = st.now + SWEEP_EVERY_MS;
    assertReservedMatches(st);
    evictIdle(st);
  }
}

function expireLeases(st: EngineState): void {
  for (const r of [...st.reservations.values()]) {
    if (r.expires_ms > st.now) continue;
    if (r.kind === 'hold') {
      // A delegation lives as long as its child is connected or its sub-agents have money in flight.
      if (r.child.live_conn !== null || !canEnd(st, r.child)) {
        r.expires_ms = st.now + st.config.reservations.lease;
        continue;
      }
      endDelegation(st, r.child, 'expired');
    } else {
      releaseReservation(st, r);
      checkThresholds(st, r.chain);
    }
  }
}

/**
 * The change log holds a scope once per version it changed in; only its latest entry matters to
 * any reader, so older ones (and scopes that left memory) are dropped once the log outgrows
 * the scopes by a margin. Bounded by the number of scopes, however long the daemon runs.
 */
function compactChangeLog(st: EngineState): void {
  const log = st.change_log;
  const versions = st.change_versions;
  if (log.length <= 2 * st.scopes.size + 1_024) return;
  let kept = 0;
  for (let i = 0; i < log.length; i++) {
    const s = log[i];
    const v = versions[i];
    if (!s || v !== s.version || st.scopes.get(s.id) !== s) continue;
    log[kept] = s;
    versions[kept] = v;
    kept += 1;
  }
  log.length = kept;
  versions.length = kept;
}
