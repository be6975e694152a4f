import { keyUsable } from './keys.js';
import type { AgentRequest } from '../../shared/protocol/agent.js';
import type { Config } from '../config/schema.js';
import { bye, disconnect, hello, open } from './connections.js';
import { createState, limitsOf, periods, sendError, send } from './context.js';
import { delegate } from './delegation.js';
import type { EngineState, EngineView } from './engine-state.js';
import type { Effect, EngineEvent } from './events.js';
import type { ScopeLimits } from './limits.js';
import { load, persisted } from './memory.js';
import { handleOperator } from './operator.js';
import type { PeriodKeys } from './periods.js';
import { applyConfig, ledgerHealth, rejectConfig } from './reconfigure.js';
import { reserve } from './reservations.js';
import { restore, type RestoredState } from './restore.js';
import { commit, release, spend } from './settlement.js';
import type { ConnId, ScopeState } from './state.js';
import { tick } from './time.js';

export type { RestoredKey, RestoredScope, RestoredState, ReplayRow } from './restore.js';
export { budgetView, checkFigure, checkName, exceededMessage, formatNano } from './messages.js';

export interface EngineOptions {
  readonly config: Config;
  readonly config_path?: string | null;
  /** Boot number: reservation and prompt ids carry it, so ids of earlier boots are recognised. */
  readonly epoch: number;
  readonly restored?: RestoredState;
  /** Start time: restored delegation leases run from it. */
  readonly now?: number;
}

/**
 * The one door: `handle(state, event, now)` is the only writer of the engine's state. It does no
 * I/O and reads no clock, so a seed and an event list replay a whole fleet exactly; it returns
 * the effects (frames to send, ledger rows, alerts) for the shell to carry out.
 */
export function handle(st: EngineState, event: EngineEvent, now: number): Effect[] {
  st.now = now;
  st.version += 1;
  st.out = [];
  switch (event.type) {
    case 'open':
      open(st, event.conn, event.key);
      break;
    case 'hello':
      hello(st, event.conn, event.frame);
      break;
    case 'agent':
      agentRequest(st, event.conn, event.frame, event.key_known);
      break;
    case 'disconnect':
      disconnect(st, event.conn);
      break;
    case 'operator':
      handleOperator(st, event.conn, event.frame, event.actor, event.secret);
      break;
    case 'tick':
      tick(st);
      break;
    case 'config':
      applyConfig(st, event.config, event.path);
      break;
    case 'config_error':
      rejectConfig(st, event.error);
      break;
    case 'ledger':
      ledgerHealth(st, event.writable, event.error);
      break;
    case 'load':
      load(st, event.scopes);
      break;
    case 'persisted':
      persisted(st, event.scopes, event.version);
      break;
    default:
      event satisfies never;
  }
  return st.out;
}

function agentRequest(st: EngineState, connId: ConnId, frame: AgentRequest, keyKnown: boolean): void {
  const conn = st.conns.get(connId);
  if (conn?.state !== 'live') {
    sendError(st, connId, 'id' in frame ? frame.id : undefined, 'INVALID', 'send hello first: no request is accepted before hello');
    return;
  }
  if (conn.key && !keyUsable(conn.key, st.now)) {
    // Its socket is being closed; until it is, nothing it sends counts.
    sendError(st, connId, 'id' in frame ? frame.id : undefined, 'UNAUTHORIZED', `key ${conn.key.label} was revoked or expired`);
    return;
  }
  conn.agent.active_ms = st.now;
  switch (frame.type) {
    case 'reserve':
      return reserve(st, conn, frame, {});
    case 'commit':
      return commit(st, conn, frame, keyKnown);
    case 'release':
      return release(st, conn, frame);
    case 'spend':
      return spend(st, conn, frame, keyKnown);
    case 'delegate':
      return delegate(st, conn, frame);
    case 'ping':
      return send(st, connId, { type: 'pong', id: frame.id });
    case 'bye':
      return bye(st, conn);
    default:
      frame satisfies never;
  }
}

/**
 * The engine as the shells hold it: the state behind `handle`, and read-only views of it for
 * status, the feed and metrics. Nothing outside `handle` changes the state.
 */
export class Engine {
  readonly #st: EngineState;

  constructor(opts: EngineOptions) {
    this.#st = createState({ config: opts.config, config_path: opts.config_path ?? null, epoch: opts.epoch, now: opts.now ?? 0 });
    if (opts.restored) restore(this.#st, opts.restored);
  }

  handle(event: EngineEvent, now: number): Effect[] {
    return handle(this.#st, event, now);
  }

  get view(): EngineView {
    return this.#st;
  }

  get scopes(): EngineView['scopes'] {
    return this.#st.scopes;
  }
  get conns(): EngineView['conns'] {
    return this.#st.conns;
  }
  get reservations(): EngineView['reservations'] {
    return this.#st.reservations;
  }
  get prompts(): EngineView['prompts'] {
    return this.#st.prompts;
  }
  get alerts(): EngineView['alerts'] {
    return this.#st.alerts;
  }
  get alert_seq(): number {
    return this.#st.alert_seq;
  }
  get config(): Config {
    return this.#st.config;
  }
  get config_path(): string | null {
    return this.#st.config_path;
  }
  get config_loaded_ms(): number {
    return this.#st.config_loaded_ms;
  }
  get config_error(): string | null {
    return this.#st.config_error;
  }
  get ledger(): EngineView['ledger'] {
    return this.#st.ledger;
  }
  get epoch(): number {
    return this.#st.epoch;
  }
  get now(): number {
    return this.#st.now;
  }
  get version(): number {
    return this.#st.version;
  }
  get evicted_total(): number {
    return this.#st.evicted_total;
  }
  get overshoot_total(): number {
    return this.#st.overshoot_total;
  }
  get runaway(): EngineView['runaway'] {
    return this.#st.runaway;
  }
  limitsOf(s: ScopeState): ScopeLimits {
    return limitsOf(this.#st, s);
  }
  periods(): PeriodKeys {
    return periods(this.#st);
  }
}
