import type { LedgerHealth } from '../../shared/protocol/operator.js';
import { PriceBook, priceFromUsd, type ModelPrice } from '../../shared/money/pricing.js';
import type { Config } from '../config/schema.js';
import type { AdaptiveSizer } from './adaptive.js';
import type { Alert, Effect } from './events.js';
import type { KeyRecord } from './keys.js';
import type { PeriodClock } from './periods.js';
import type { Runaway } from './runaway.js';
import type { ScopeId } from './scope.js';
import type { ConnId, Connection, Prompt, PromptId, Reservation, ReservationId, ScopeState } from './state.js';

/**
 * Everything the engine knows, as one plain record. Only `handle()` (engine.ts) and the rule
 * steps it calls change it; views (status, feed, metrics) get it as an `EngineView`.
 */
export interface EngineState {
  config: Config;
  config_path: string | null;
  config_loaded_ms: number;
  config_error: string | null;
  ledger: LedgerHealth;
  prices: PriceBook;
  clock: PeriodClock;
  /** Whether any limit block sets min_share: without one, reserves skip the siblings' scan. */
  min_share_in_use: boolean;
  /** Boot number: reservation and prompt ids carry it, so ids of earlier boots are recognised. */
  readonly epoch: number;
  seq: number;
  readonly scopes: Map<ScopeId, ScopeState>;
  readonly reservations: Map<ReservationId, Reservation>;
  readonly conns: Map<ConnId, Connection>;
  readonly prompts: Map<PromptId, Prompt>;
  /** Keys bound to a scope, by label and by the hash of the secret (bounded by MAX_KEYS). */
  readonly keys: Map<string, KeyRecord>;
  readonly keys_by_hash: Map<string, KeyRecord>;
  readonly alerts: Alert[];
  alert_seq: number;
  readonly adaptive: AdaptiveSizer;
  readonly runaway: Runaway;
  overshoot_total: number;
  /** Models already alerted as priced at the default (bounded by MAX_ALERTS). */
  readonly priced_by_default: Set<string>;
  /** Bumped whenever limits may change (config, grants, delegation caps, re-parenting). */
  limits_gen: number;
  now: number;
  /** Bumped once per handled event: a scope's `version` says when its view last changed. */
  version: number;
  /** Scopes in the order they changed (a scope at most once per version): the feed's deltas. */
  readonly change_log: ScopeState[];
  /** The version of each change_log entry (ascending). */
  readonly change_versions: number[];
  /** Scopes that left memory, with the version they left at (ascending): the feed's removals. */
  readonly evicted_ids: ScopeId[];
  readonly evicted_versions: number[];
  /** Evictions at or before this version were dropped from the log: a cursor older than it gets a full frame. */
  evicted_floor: number;
  /** Scopes that left memory since start (the shell returns freed memory after many). */
  evicted_total: number;
  /** The calendar periods last seen by the tick: when one rolls over, every window figure changes. */
  periods_seen: string;
  /** Next time idle scopes are swept out of memory. */
  next_sweep_ms: number;
  /** The effects of the event being handled. */
  out: Effect[];
}

/** A read-only look at the state, for views: maps and sets cannot be changed through it. */
export type EngineView = {
  readonly [K in keyof EngineState]: EngineState[K] extends Map<infer A, infer B>
    ? ReadonlyMap<A, B>
    : EngineState[K] extends Set<infer C>
      ? ReadonlySet<C>
      : EngineState[K] extends Array<infer D>
        ? readonly D[]
        : EngineState[K];
};

export const MAX_PROMPTS = 1_000;
/** Prompts one agent, and one session, may have waiting: one flood cannot crowd out the others' requests. */
export const MAX_PROMPTS_PER_AGENT = 16;
export const MAX_PROMPTS_PER_SESSION = 100;
/** Per user (and, at the session's figure, per key): no one principal fills the global bound. */
export const MAX_PROMPTS_PER_USER = 250;
export const MAX_ALERTS = 200;
export const MAX_CHAIN = 32;

export function priceBookOf(config: Config): PriceBook {
  const overrides = new Map<string, ModelPrice>();
  for (const [model, p] of Object.entries(config.pricing.models)) overrides.set(model, priceFromUsd(p));
  return new PriceBook(priceFromUsd(config.pricing.default), overrides);
}

export function usesMinShare(config: Config): boolean {
  return [...Object.values(config.limits), ...Object.values(config.scopes)].some((b) => (b?.min_share ?? 0) > 0);
}
