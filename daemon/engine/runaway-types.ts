import type { DenyCode } from '../../shared/protocol/agent.js';
import type { Config } from '../config/schema.js';
import type { ScopeState } from './state.js';

/** Types shared by the runaway rule families (breakers.ts, detectors.ts, runaway-limits.ts). */

export interface Refusal {
  readonly code: DenyCode;
  readonly scope: ScopeState;
  readonly message: string;
  readonly retry_after_ms?: number;
  /** A `confirm` tool: ask the operator instead of refusing. */
  readonly confirm?: boolean;
}

// 'overshoot': settlement uses the same once-per-crossing notify/rearm for spend over a limit.
export type AlertKind = 'breaker' | 'loop' | 'amplification' | 'fanout' | 'rate' | 'tool' | 'wall_time' | 'overshoot';
export type AlertLevel = 'warning' | 'critical';
export type AlertSink = (level: AlertLevel, kind: AlertKind, scope: string, message: string) => void;

/** Alerts once per crossing of a rule (see `Runaway.notify`), and re-arms a rule. */
export interface Notifier {
  notify(scope: ScopeState, rule: string, level: AlertLevel, kind: AlertKind, message: string): void;
  rearm(scope: ScopeState, rule: string): void;
}

/** The live config: a reload replaces it, every rule reads it at the time it decides. */
export type ConfigOf = () => Config;

/** Every structure of a rule family that is keyed by scope, so the engine can evict idle scopes. */
export interface PerScope {
  /** Nothing about `scope` needs remembering at `now`: forgetting it changes no decision. */
  isQuiet(scope: ScopeState, now: number): boolean;
  forget(scope: ScopeState): void;
}
