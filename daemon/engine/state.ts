import type { KeyRecord } from './keys.js';
import type { Hello, Reserve } from '../../shared/protocol/agent.js';
import { BurnMeter } from './burn.js';
import type { Deltas } from './deltas.js';
import type { ScopeLimits, Window } from './limits.js';
import type { CalendarWindow, PeriodKeys } from './periods.js';
import type { ScopeId } from './scope.js';

export type ConnId = number;
/** Ids the engine issues: reservations and holds (`r…`/`h…`) and prompts (`p…`), each carrying the boot epoch. */
export type ReservationId = string & { readonly __brand: 'ReservationId' };
export type PromptId = string & { readonly __brand: 'PromptId' };

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
  /** Scopes in memory whose parent this is: a scope leaves memory only after all of them. */
  kids: number;
  /** Connected child agents (for the siblings' min_share); a child leaves it with its last connection. */
  readonly live_children: Set<ScopeState>;
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
  hold: HoldReservation | null;
  /** Connection currently using this agent scope, for aliasing of delegated budgets. */
  live_conn: ConnId | null;
  /** Live connections whose agent this is. */
  connections: number;
  /** Live connections whose chain holds this scope (agents below it included). */
  conn_refs: number;
  /** Memo of the compiled limits, valid while `gen` is the engine's limits generation. */
  limits: { gen: number; limits: ScopeLimits } | null;
  /** The engine version of the last change of its view (the live feed's deltas). */
  version: number;
  /** Engine version of the last change of its counters, and of the last snapshot the ledger confirmed: unsaved while the first is greater. */
  counters_version: number;
  saved_version: number;
  /** Last request, usage or connection under it: idle scopes leave memory, busy ones rank first. */
  active_ms: number;
}

export interface Placement {
  readonly scope: ScopeState;
  readonly deltas: Deltas;
}

interface ReservationBase {
  readonly id: ReservationId;
  readonly owner: ScopeState;
  readonly chain: readonly ScopeState[];
  readonly placements: Placement[];
  conn: ConnId | null;
  expires_ms: number;
}

/** One call's reservation: settled by commit or release, voided when its lease ends. */
export interface CallReservation extends ReservationBase {
  readonly kind: 'call';
  readonly cost_nano: number;
  readonly model: string | undefined;
  readonly op: string | undefined;
  readonly max_output_tokens: number;
}

/** A delegation's budget, held on the parent's chain while the child spends it down. */
export interface HoldReservation extends ReservationBase {
  readonly kind: 'hold';
  readonly child: ScopeState;
  /** What of the hold is not yet drawn by the child's spend. */
  readonly remaining: Deltas;
}

export type Reservation = CallReservation | HoldReservation;

/** A socket before its hello, one whose hello was refused, or an agent that joined. */
export type Connection =
  | { readonly state: 'pending'; readonly id: ConnId; readonly key: KeyRecord | null }
  /** `final`: refused at the door (a key revoked meanwhile): no hello may follow, it is being closed. */
  | { readonly state: 'rejected'; readonly id: ConnId; readonly key: KeyRecord | null; readonly final?: true }
  | LiveConnection;

export interface LiveConnection {
  readonly state: 'live';
  readonly id: ConnId;
  /** The key it authenticated with; null: the shared agent token (trusted for any chain). */
  readonly key: KeyRecord | null;
  readonly hello: Hello;
  readonly agent: ScopeState;
  readonly chain: readonly ScopeState[];
  /** A sub-agent that joined with `hello {parent}` past the fan-out limits: every request is refused. */
  readonly fanout?: { readonly scope: ScopeState; readonly message: string };
}

export interface Prompt {
  readonly id: PromptId;
  /** budget: an approval-mode limit; tool: a `confirm` tool waiting for the operator. */
  readonly kind: 'budget' | 'tool';
  readonly scope: ScopeState;
  readonly conn: ConnId;
  readonly agent: ScopeState;
  /** The session and user it waits in, and the key it came with (prompts are bounded per each). */
  readonly session: ScopeState | null;
  readonly user: ScopeState | null;
  readonly key: KeyRecord | null;
  readonly request: Reserve;
  readonly created_ms: number;
  readonly expires_ms: number;
  readonly reason: string;
  readonly cost_nano: number;
  readonly tokens: number;
}

export function newScope(id: ScopeId, parent: ScopeState | null): ScopeState {
  if (parent) parent.kids += 1;
  return {
    id,
    parent,
    kids: 0,
    live_children: new Set(),
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
    conn_refs: 0,
    limits: null,
    version: 0,
    counters_version: 0,
    saved_version: 0,
    active_ms: 0,
  };
}

/** Spent in `window` as of `periods` (a past period counts as zero). */
export function spentIn(scope: ScopeState, window: Window, periods: PeriodKeys): Deltas {
  if (window === 'life') return scope.counters.life;
  const w = scope.counters.windows[window];
  return w && w.period === periods[window] ? w.spent : EMPTY;
}

const EMPTY: Deltas = Object.freeze({}) as Deltas;

export function unsaved(scope: ScopeState): boolean {
  return scope.counters_version > scope.saved_version;
}

export function recordSpent(scope: ScopeState, deltas: Deltas, periods: PeriodKeys, nowMs: number, version: number): void {
  const c = scope.counters;
  if (c.first_event_ms === null) c.first_event_ms = nowMs;
  scope.counters_version = version;
  const hour = windowSpent(c, 'hour', periods);
  const day = windowSpent(c, 'day', periods);
  const week = windowSpent(c, 'week', periods);
  const month = windowSpent(c, 'month', periods);
  // One pass over the usage for the lifetime and all four windows: this runs for every scope of
  // the chain on every commit. Usage is never negative, so nothing ever needs deleting.
  for (const k in deltas) {
    const v = deltas[k] ?? 0;
    if (v === 0) continue;
    c.life[k] = (c.life[k] ?? 0) + v;
    hour[k] = (hour[k] ?? 0) + v;
    day[k] = (day[k] ?? 0) + v;
    week[k] = (week[k] ?? 0) + v;
    month[k] = (month[k] ?? 0) + v;
  }
}

/** The window's spent amounts for the current period; a new period starts from nothing. */
function windowSpent(c: ScopeCounters, window: 'hour' | 'day' | 'week' | 'month', periods: PeriodKeys): Deltas {
  let w = c.windows[window];
  if (!w || w.period !== periods[window]) {
    w = { period: periods[window], spent: {} };
    c.windows[window] = w;
  }
  return w.spent;
}

/**
 * Whose denial breaker counts this agent with its siblings: its user, unless it acts with a key
 * bound below the user — then that key's scope, so a key holder's denials never open a breaker
 * outside what the key may touch.
 */
export function fleetOf(conn: LiveConnection): ScopeState | undefined {
  const key = conn.key;
  if (key === null || key.scope.startsWith('user:')) return undefined;
  return conn.chain.find((s) => s.id === key.scope);
}
