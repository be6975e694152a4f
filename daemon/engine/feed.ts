import { nanoToUsd } from '../../shared/money/money.js';
import type { AlertJson, FeedFrame, FeedScope } from '../../shared/protocol/operator.js';
import { changedSince, limitsOf } from './context.js';
import type { EngineView } from './engine-state.js';
import { delayFor, ratioOf } from './pressure.js';
import { GLOBAL, scopeKind } from './scope.js';
import type { ScopeState } from './state.js';
import { evictedSince } from './memory.js';
import { MAX_SCOPES_SHOWN, promptsJson, scopeStatus, topScopes } from './status.js';

const SPARK_BUCKETS = 30;

/** Where one subscriber's feed stands: the engine version and alert it has seen up to. */
export interface FeedCursor {
  readonly version: number;
  readonly alert_seq: number;
}

function killedAbove(s: ScopeState): ScopeState | null {
  for (let x: ScopeState | null = s; x; x = x.parent) if (x.killed) return x;
  return null;
}

export function feedScope(engine: EngineView, s: ScopeState, waiting: ReadonlySet<ScopeState>): FeedScope {
  const limits = limitsOf(engine, s);
  const killer = killedAbove(s);
  const kind = scopeKind(s.id);
  // Running means an agent is connected at or under it now; a scope that only spent in the past is idle.
  const state: FeedScope['state'] = killer ? 'killed' : waiting.has(s) ? 'waiting' : kind === 'agent' ? (s.connections > 0 ? 'running' : 'idle') : s.conn_refs > 0 ? 'running' : 'idle';
  const source = limits.checks.length === 0 ? 'none' : (limits.checks.find((c) => c.source !== 'config')?.source ?? 'config');
  return {
    ...scopeStatus(engine, s),
    kind,
    delay_ms: delayFor(ratioOf(engine, s), engine.config.backpressure),
    state,
    limit_source: source,
    kill_reason: killer?.killed?.reason ?? null,
    agents_under: s.conn_refs,
  };
}

/**
 * One frame of the operator feed for a subscriber at `cursor`: the whole (bounded) tree when it
 * has none or has fallen too far behind, otherwise the scopes that changed since. Reads the
 * state, changes nothing: each subscriber keeps its own cursor, so none takes another's deltas.
 */
export function feedFrame(engine: EngineView, cursor: FeedCursor | null): { frame: FeedFrame; cursor: FeedCursor } {
  const behind = cursor === null || cursor.version < engine.evicted_floor;
  const changed = behind ? null : changedSince(engine, cursor.version);
  const full = changed === null || changed.length > MAX_SCOPES_SHOWN;
  const list = full ? topScopes(engine, MAX_SCOPES_SHOWN) : changed;
  const global = engine.scopes.get(GLOBAL);
  // global carries the header's figures (burn rate, time to exhaustion): always current.
  if (!full && global && !list.includes(global)) list.push(global);
  const waiting = new Set<ScopeState>();
  for (const p of engine.prompts.values()) waiting.add(p.agent);
  let agents = 0;
  for (const c of engine.conns.values()) if (c.state === 'live') agents += 1;
  const scopes: Record<string, FeedScope> = {};
  for (const s of list) scopes[s.id] = feedScope(engine, s, waiting);
  const since = cursor?.alert_seq ?? 0;
  const alerts: AlertJson[] = engine.alerts.filter((a) => a.seq > since).map((a) => ({ ...a }));
  const frame: FeedFrame = {
    type: 'feed',
    full,
    at_ms: engine.now,
    agents,
    scopes,
    removed: full || cursor === null ? [] : evictedSince(engine, cursor.version).filter((id) => !(id in scopes)),
    prompts: promptsJson(engine),
    alerts,
    burn_series_usd: global ? global.burn.series(engine.now, SPARK_BUCKETS).map((n) => nanoToUsd(Math.round(n))) : [],
    config: { path: engine.config_path, loaded_at: engine.config_loaded_ms, error: engine.config_error },
    approvals: { timeout_ms: engine.config.approvals.timeout, increment_usd: engine.config.approvals.increment_usd },
    ledger: engine.ledger,
  };
  return { frame, cursor: { version: engine.version, alert_seq: engine.alert_seq } };
}
