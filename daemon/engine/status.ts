import { nanoToUsd } from '../../shared/money/money.js';
import type { PromptJson, ScopeStatus, StatusJson } from '../../shared/protocol/operator.js';
import { CALLS, COST, INPUT_TOKENS, OUTPUT_TOKENS, TOKENS, isEmpty, type Deltas } from './deltas.js';
import { limitsOf, periods } from './context.js';
import type { EngineView } from './engine-state.js';
import { usedFor } from './fits.js';
import { pressureOf, ratioOf } from './pressure.js';
import { killedBy } from './kills.js';
import { GLOBAL } from './scope.js';
import { spentIn, type ScopeState } from './state.js';

/** Scopes in one status reply or full feed frame: the operator sees what matters, never megabytes. */
export const MAX_SCOPES_SHOWN = 2_000;

type Amounts = Record<string, number | Record<string, number>>;

function dimName(dim: string): string {
  return dim === COST ? 'cost_usd' : dim;
}

function figure(dim: string, v: number): number {
  return dim === COST || dim.endsWith(':cost') ? nanoToUsd(v) : v;
}

function put(target: Amounts, window: string, dim: string, v: number): void {
  if (window === 'life') {
    target[dimName(dim)] = figure(dim, v);
    return;
  }
  const key = `per_${window}`;
  const inner = (target[key] as Record<string, number> | undefined) ?? {};
  inner[dimName(dim)] = figure(dim, v);
  target[key] = inner;
}

function amountsOf(d: Deltas): Amounts {
  const out: Amounts = { cost_usd: 0, tokens: 0 };
  for (const dim in d) out[dimName(dim)] = figure(dim, d[dim] ?? 0);
  return out;
}

const BASIC = [COST, TOKENS, INPUT_TOKENS, OUTPUT_TOKENS, CALLS];

export function scopeStatus(engine: EngineView, s: ScopeState): ScopeStatus {
  const p = periods(engine);
  const limits = limitsOf(engine, s);
  const limit: Amounts = {};
  const spent: Amounts = {};
  for (const dim of BASIC) put(spent, 'life', dim, s.counters.life[dim] ?? 0);
  for (const dim in s.counters.life) put(spent, 'life', dim, s.counters.life[dim] ?? 0);
  for (const c of limits.checks) {
    put(limit, c.window, c.dim, c.limit);
    if (c.window !== 'life') put(spent, c.window, c.dim, spentIn(s, c.window, p)[c.dim] ?? 0);
  }
  const ratio = ratioOf(engine, s);
  const rate1 = s.burn.ratePerMin(engine.now, 60_000);
  const rate10 = s.burn.ratePerMin(engine.now, 600_000);
  const tokens1 = s.burn_tokens.ratePerMin(engine.now, 60_000);
  const tokens10 = s.burn_tokens.ratePerMin(engine.now, 600_000);
  let exhaustion: number | null = null;
  for (const c of limits.checks) {
    const rate = c.dim === COST ? rate1 : c.dim === TOKENS ? tokens1 : null;
    if (rate === null || rate <= 0) continue;
    const left = Math.max(0, c.limit - usedFor(s, c, p));
    const ms = (left / rate) * 60_000;
    if (exhaustion === null || ms < exhaustion) exhaustion = Math.round(ms);
  }
  return {
    limit,
    spent,
    reserved: amountsOf(s.reserved),
    pressure: pressureOf(ratio, engine.config.thresholds),
    ratio: ratio === null || !Number.isFinite(ratio) ? (ratio === null ? null : 1e9) : Math.round(ratio * 10_000) / 10_000,
    killed: s.killed !== null,
    killed_by: killedBy(s)?.id ?? null,
    parent: s.parent?.id ?? null,
    breaker: engine.runaway.breakerState(s, engine.now),
    mode: limits.mode,
    agents: s.connections,
    burn_usd_per_min_1m: rate1 === null ? null : nanoToUsd(Math.round(rate1)),
    burn_usd_per_min_10m: rate10 === null ? null : nanoToUsd(Math.round(rate10)),
    burn_tokens_per_min_1m: tokens1 === null ? null : Math.round(tokens1),
    burn_tokens_per_min_10m: tokens10 === null ? null : Math.round(tokens10),
    exhaustion_ms: exhaustion,
  };
}

/**
 * Which scopes a bounded view shows: global, then everything that needs the operator (prompts,
 * kills, open breakers, live agents, money in flight), then the most recently active.
 */
export function topScopes(engine: EngineView, limit: number): ScopeState[] {
  const prompted = new Set<ScopeState>();
  for (const p of engine.prompts.values()) {
    prompted.add(p.scope);
    prompted.add(p.agent);
  }
  const urgent: ScopeState[] = [];
  const rest: ScopeState[] = [];
  for (const s of engine.scopes.values()) {
    if (s.id === GLOBAL) continue;
    const needs = prompted.has(s) || s.killed !== null || s.conn_refs > 0 || !isEmpty(s.reserved) || engine.runaway.breakerState(s, engine.now) !== 'closed';
    (needs ? urgent : rest).push(s);
  }
  const byActivity = (a: ScopeState, b: ScopeState): number => b.active_ms - a.active_ms;
  const out: ScopeState[] = [];
  const global = engine.scopes.get(GLOBAL);
  if (global) out.push(global);
  for (const list of [urgent, rest]) {
    if (out.length >= limit) break;
    const room = limit - out.length;
    out.push(...(list.length > room ? list.sort(byActivity).slice(0, room) : list));
  }
  return out;
}


export function statusJson(engine: EngineView, limit = MAX_SCOPES_SHOWN): StatusJson {
  const scopes: Record<string, ScopeStatus> = {};
  let agents = 0;
  for (const c of engine.conns.values()) if (c.state === 'live') agents += 1;
  for (const s of topScopes(engine, limit)) scopes[s.id] = scopeStatus(engine, s);
  return {
    agents,
    scopes,
    scopes_total: engine.scopes.size,
    prompts: engine.prompts.size,
    config: { path: engine.config_path, loaded_at: engine.config_loaded_ms, error: engine.config_error },
    ledger: engine.ledger,
  };
}

export function promptsJson(engine: EngineView): PromptJson[] {
  const out: PromptJson[] = [];
  const at = periods(engine);
  for (const p of engine.prompts.values()) {
    // The cost limit this request presses hardest on (a per_day window may bind before the lifetime one).
    let projected: number | null = null;
    let limit: number | null = null;
    for (const c of limitsOf(engine, p.scope).checks) {
      if (c.dim !== COST) continue;
      const after = usedFor(p.scope, c, at) + p.cost_nano;
      if (limit === null || projected === null || after / Math.max(1, c.limit) > projected / Math.max(1, limit)) {
        projected = after;
        limit = c.limit;
      }
    }
    out.push({
      id: p.id,
      scope: p.scope.id,
      agent: p.agent.id,
      reason: p.reason,
      cost_usd: nanoToUsd(p.cost_nano),
      tokens: p.tokens,
      age_ms: engine.now - p.created_ms,
      expires_in_ms: Math.max(0, p.expires_ms - engine.now),
      projected_usd: nanoToUsd(projected ?? (p.scope.counters.life[COST] ?? 0) + (p.scope.reserved[COST] ?? 0) + p.cost_nano),
      limit_usd: limit === null ? null : nanoToUsd(limit),
    });
  }
  return out;
}
