import { nanoToUsd } from '../../shared/money/money.js';
import type { AlertJson, FeedFrame, FeedScope } from '../../shared/protocol/operator.js';
import type { Engine } from './engine.js';
import { delayFor, ratioOf } from './pressure.js';
import { GLOBAL, scopeKind } from './scope.js';
import type { ScopeState } from './state.js';
import { promptsJson, scopeStatus } from './status.js';

const SPARK_BUCKETS = 30;

function killedAbove(s: ScopeState): ScopeState | null {
  for (let x: ScopeState | null = s; x; x = x.parent) if (x.killed) return x;
  return null;
}

export function feedScope(engine: Engine, s: ScopeState, waiting: ReadonlySet<ScopeState>, under: ReadonlyMap<ScopeState, number>): FeedScope {
  const limits = engine.limitsOf(s);
  const killer = killedAbove(s);
  const kind = scopeKind(s.id);
  const state: FeedScope['state'] = killer ? 'killed' : waiting.has(s) ? 'waiting' : kind === 'agent' ? (s.connections > 0 ? 'running' : 'idle') : s.connections > 0 || s.counters.first_event_ms !== null ? 'running' : 'idle';
  const source = limits.checks.length === 0 ? 'none' : (limits.checks.find((c) => c.source !== 'config')?.source ?? 'config');
  return {
    ...scopeStatus(engine, s),
    parent: s.parent?.id ?? null,
    kind,
    delay_ms: delayFor(ratioOf(engine, s), engine.config.backpressure),
    state,
    limit_source: source,
    kill_reason: killer?.killed?.reason ?? null,
    agents_under: under.get(s) ?? 0,
  };
}

/**
 * One frame of the operator feed. `full` sends every scope; otherwise only the scopes that
 * changed since the last call (the caller coalesces: at most one frame per feed tick).
 */
export function feedFrame(engine: Engine, full: boolean, sinceAlertSeq: number): FeedFrame {
  const waiting = new Set<ScopeState>();
  for (const p of engine.prompts.values()) waiting.add(p.agent);
  const list = new Set<ScopeState>(full ? engine.scopes.values() : engine.changed);
  engine.changed.clear();
  // An agent's state depends on prompts, and a breaker's on time alone: neither touches counters.
  for (const a of waiting) list.add(a);
  for (const s of engine.runaway.tripped) {
    list.add(s);
    // Only open → half-open happens by time alone; what follows is decided by a request, which
    // marks its scopes changed anyway (a new trip adds the scope back).
    if (engine.runaway.breakerState(s, engine.now) !== 'open') engine.runaway.tripped.delete(s);
  }
  const under = new Map<ScopeState, number>();
  let agents = 0;
  for (const c of engine.conns.values()) {
    if (!c.agent) continue;
    agents += 1;
    for (const s of c.chain) under.set(s, (under.get(s) ?? 0) + 1);
  }
  const scopes: Record<string, FeedScope> = {};
  for (const s of list) scopes[s.id] = feedScope(engine, s, waiting, under);
  const alerts: AlertJson[] = engine.alerts.filter((a) => a.seq > sinceAlertSeq).map((a) => ({ ...a }));
  const global = engine.scopes.get(GLOBAL);
  return {
    type: 'feed',
    full,
    at_ms: engine.now,
    agents,
    scopes,
    prompts: promptsJson(engine),
    alerts,
    burn_series_usd: global ? global.burn.series(engine.now, SPARK_BUCKETS).map((n) => nanoToUsd(Math.round(n))) : [],
    config: { path: engine.config_path, loaded_at: engine.config_loaded_ms, error: engine.config_error },
    approvals: { timeout_ms: engine.config.approvals.timeout, increment_usd: engine.config.approvals.increment_usd },
    ledger: engine.ledger,
  };
}
