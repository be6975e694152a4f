import type { Hello, Reserve } from '../../shared/protocol/agent.js';
import { BurnMeter } from './burn.js';
import { addInto, type Deltas } from './deltas.js';
import type { ScopeLimits, Window } from './limits.js';
import type { CalendarWindow, PeriodKeys } from './periods.js';
import type { ScopeId } from './scope.js';

export type ConnId = number;

/** Counters that survive a restart (snapshotted into `scope_totals` with every batch). */
export interface ScopeCounters {
  life: Deltas;
  windows: Partial<Record<CalendarWindow, { period: string; spent: Deltas }>>;
  first_event_ms: number | null;
  grace_used: boolean;
}

export interface ScopeState {
  readonly id: ScopeId;
  parent: ScopeState | null;
  /** Connected child agents (for the siblings' min_share); a child leaves it with its last connection. */
  readonly live_children: Set<ScopeState>;
  /** The chain of the agent's latest connection (agent scopes only): a child's chain extends it. */
  chain: ScopeState[] | null;
  counters: ScopeCounters;
  /** Sum of placements of live reservations and delegation holds. Voided by a restart. */
  reserved: Deltas;
  /** Operator grants: amounts added to every limit of that dimension. */
  grants: Deltas;
  killed: { reason: string; at_ms: number } | null;
  /** Highest pressure level already alerted (0 ok … 3 exceeded); re-armed when pressure falls. */
  alerted_level: number;
  burn: BurnMeter;
  /** Tokens (input + output) per bucket, for tokens/min and token-limit exhaustion. */
  burn_tokens: BurnMeter;
  /** Delegated cap (cost/tokens) of a child agent, and the hold on its parent that funds it. */
  cap: Deltas | null;
  hold: Reservation | null;
  /** Connection currently using this agent scope, for aliasing of delegated budgets. */
  live_conn: ConnId | null;
  connections: number;
  limits: ScopeLimits | null;
}

export interface Placement {
  readonly scope: ScopeState;
  readonly deltas: Deltas;
}

export interface Reservation {
  readonly id: string;
  readonly kind: 'call' | 'hold';
  readonly owner: ScopeState;
  readonly chain: readonly ScopeState[];
  readonly placements: Placement[];
  readonly cost_nano: number;
  readonly model: string | undefined;
  readonly op: string | undefined;
  readonly max_output_tokens: number;
  conn: ConnId | null;
  expires_ms: number;
  /** hold only: the child it funds, and what of the hold is not yet drawn. */
  readonly child?: ScopeState;
  readonly remaining?: Deltas;
}

export interface Connection {
  readonly id: ConnId;
  hello: Hello | null;
  agent: ScopeState | null;
  chain: readonly ScopeState[];
  /** A sub-agent that joined with `hello {parent}` past the fan-out limits: every request is refused. */
  fanout?: { readonly scope: ScopeState; readonly message: string };
}

export interface Prompt {
  readonly id: string;
  /** budget: an approval-mode limit; tool: a `confirm` tool waiting for the operator. */
  readonly kind: 'budget' | 'tool';
  readonly scope: ScopeState;
  readonly conn: ConnId;
  readonly agent: ScopeState;
  readonly request: Reserve;
  readonly created_ms: number;
  readonly expires_ms: number;
  readonly reason: string;
  readonly cost_nano: number;
  readonly tokens: number;
}

export function newScope(id: ScopeId, parent: ScopeState | null): ScopeState {
  return {
    id,
    parent,
    live_children: new Set(),
    chain: null,
    counters: { life: {}, windows: {}, first_event_ms: null, grace_used: false },
    reserved: {},
    grants: {},
    killed: null,
    alerted_level: 0,
    burn: new BurnMeter(),
    burn_tokens: new BurnMeter(),
    cap: null,
    hold: null,
    live_conn: null,
    connections: 0,
    limits: null,
  };
}

/** Spent in `window` as of `periods` (a past period counts as zero). */
export function spentIn(scope: ScopeState, window: Window, periods: PeriodKeys): Deltas {
  if (window === 'life') return scope.counters.life;
  const w = scope.counters.windows[window];
  return w && w.period === periods[window] ? w.spent : EMPTY;
}

const EMPTY: Deltas = Object.freeze({}) as Deltas;

export function recordSpent(scope: ScopeState, deltas: Deltas, periods: PeriodKeys, nowMs: number): void {
  const c = scope.counters;
  addInto(c.life, deltas);
  if (c.first_event_ms === null) c.first_event_ms = nowMs;
  for (const window of ['hour', 'day', 'week', 'month'] as const) {
    let w = c.windows[window];
    if (!w || w.period !== periods[window]) {
      w = { period: periods[window], spent: {} };
      c.windows[window] = w;
    }
    addInto(w.spent, deltas);
  }
}
