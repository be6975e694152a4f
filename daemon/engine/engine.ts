import { nanoToUsd, usdToNano } from '../../shared/money/money.js';
import { costOf, PriceBook, priceFromUsd, type ModelPrice } from '../../shared/money/pricing.js';
import type { AgentRequest, Commit, Delegate, DenyCode, Hello, Release, Reserve, Spend } from '../../shared/protocol/agent.js';
import type { Config } from '../config/schema.js';
import type { LedgerHealth } from '../../shared/protocol/operator.js';
import { adaptiveOutput, AdaptiveSizer } from './adaptive.js';
import { COST, TOKENS, addInto, usageDeltas, type Deltas } from './deltas.js';
import { askDeltas, evaluate, placementsFor, usedFor, type Ask, type Binding } from './evaluate.js';
import type { Alert, Effect, EngineEvent, UsageRow } from './events.js';
import { blockFor, compileBlock, type Check, type ScopeLimits } from './limits.js';
import { PeriodClock, type PeriodKeys } from './periods.js';
import { GLOBAL, scopeId, type ScopeId } from './scope.js';
import { newScope, recordSpent, type Connection, type ConnId, type Placement, type Prompt, type Reservation, type ScopeCounters, type ScopeState } from './state.js';
import { pressureOf, ratioOf, delayFor, levelOf, LEVEL_NAMES } from './pressure.js';
import { handleOperator } from './operator.js';
import { Runaway } from './runaway.js';

export interface RestoredScope {
  readonly id: ScopeId;
  readonly parent: ScopeId | null;
  readonly counters: ScopeCounters;
}

/** A usage row written after the last counters snapshot: replayed onto the counters at start. */
export interface ReplayRow {
  readonly ts: number;
  readonly chain: readonly ScopeId[];
  readonly model: string | null;
  readonly op: string | null;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cost_nano: number;
}

export interface RestoredState {
  readonly scopes: readonly RestoredScope[];
  readonly replay?: readonly ReplayRow[];
  readonly grants: ReadonlyArray<{ readonly scope: ScopeId; readonly deltas: Deltas }>;
  readonly kills: ReadonlyArray<{ readonly scope: ScopeId; readonly reason: string; readonly at_ms: number }>;
  /** Delegations still open at the last stop: the child's cap, funded again from its parent. */
  readonly delegations?: ReadonlyArray<{ readonly child: ScopeId; readonly chain: readonly ScopeId[]; readonly cap: Deltas }>;
}

export interface EngineOptions {
  readonly config: Config;
  readonly config_path?: string | null;
  /** Boot number: reservation and prompt ids carry it, so ids of earlier boots are recognised. */
  readonly epoch: number;
  readonly restored?: RestoredState;
  /** Start time: restored delegation leases run from it. */
  readonly now?: number;
}

const MAX_PROMPTS = 1_000;
const MAX_ALERTS = 200;
const MAX_CHAIN = 32;
/** How far below a threshold pressure must fall before crossing it alerts again. */
const REARM_MARGIN = 0.05;

/**
 * The budget engine: a deterministic state machine. `handle(event, now)` mutates the in-memory
 * state and returns the effects (frames to send, ledger rows, alerts); it never does I/O or reads
 * a clock, so a seed and an event list replay a whole fleet exactly.
 */
export class Engine {
  config: Config;
  config_path: string | null;
  config_loaded_ms = 0;
  config_error: string | null = null;
  ledger: LedgerHealth = { writable: true, error: null, since_ms: null };
  prices: PriceBook;
  readonly epoch: number;
  readonly scopes = new Map<ScopeId, ScopeState>();
  readonly reservations = new Map<string, Reservation>();
  readonly conns = new Map<ConnId, Connection>();
  readonly prompts = new Map<string, Prompt>();
  readonly alerts: Alert[] = [];
  readonly dirty = new Set<ScopeState>();
  /** Scopes whose view changed since the live feed last looked (the feed's deltas). */
  readonly changed = new Set<ScopeState>();
  alert_seq = 0;
  readonly adaptive = new AdaptiveSizer();
  readonly runaway: Runaway;
  overshoot_total = 0;
  /** Models already alerted as priced at the default (bounded by MAX_ALERTS). */
  private readonly pricedByDefault = new Set<string>();
  /** Whether any limit block sets min_share: without one, reserves skip the siblings' scan. */
  private minShareInUse = false;
  private seq = 0;
  private limitsGen = 0;
  private readonly limitsCache = new Map<ScopeState, { gen: number; limits: ScopeLimits }>();
  private clock: PeriodClock;
  private out: Effect[] = [];
  now = 0;

  constructor(opts: EngineOptions) {
    this.config = opts.config;
    this.config_path = opts.config_path ?? null;
    this.epoch = opts.epoch;
    this.prices = priceBookOf(opts.config);
    this.clock = new PeriodClock(opts.config.timezone);
    this.runaway = new Runaway(opts.config, (level, kind, scope, message) => this.alert(level, kind, scope, message));
    this.now = opts.now ?? 0;
    this.minShareInUse = usesMinShare(opts.config);
    this.scope(GLOBAL, null);
    if (opts.restored) this.restore(opts.restored);
  }

  handle(event: EngineEvent, now: number): Effect[] {
    this.now = now;
    this.out = [];
    switch (event.type) {
      case 'hello':
        this.hello(event.conn, event.frame);
        break;
      case 'agent':
        this.agentRequest(event.conn, event.frame, event.key_known);
        break;
      case 'disconnect':
        this.disconnect(event.conn);
        break;
      case 'operator':
        handleOperator(this, event.conn, event.frame, event.actor);
        break;
      case 'tick':
        this.tick();
        break;
      case 'config':
        this.applyConfig(event.config, event.path);
        break;
      case 'ledger':
        this.ledgerHealth(event.writable, event.error);
        break;
      case 'config_error':
        this.config_error = event.error;
        this.alert('critical', 'config', GLOBAL, `config rejected, last good config stays in force: ${event.error}`);
        break;
      default:
        event satisfies never;
    }
    return this.out;
  }

  // ---------------------------------------------------------------- shared helpers

  emit(effect: Effect): void {
    this.out.push(effect);
  }

  nextId(prefix: 'r' | 'p' | 'h'): string {
    this.seq += 1;
    return `${prefix}${this.epoch}-${this.seq}`;
  }

  periods(): PeriodKeys {
    return this.clock.at(this.now);
  }

  scope(id: ScopeId, parent: ScopeState | null): ScopeState {
    let s = this.scopes.get(id);
    if (!s) {
      s = newScope(id, parent);
      this.scopes.set(id, s);
    } else if (parent && s.parent !== parent && id !== GLOBAL) {
      s.parent = parent;
      this.invalidateLimits();
    }
    return s;
  }

  invalidateLimits(): void {
    this.limitsGen += 1;
  }

  limitsOf(scope: ScopeState): ScopeLimits {
    const hit = this.limitsCache.get(scope);
    if (hit && hit.gen === this.limitsGen) return hit.limits;
    const limits = this.computeLimits(scope);
    this.limitsCache.set(scope, { gen: this.limitsGen, limits });
    return limits;
  }

  private computeLimits(scope: ScopeState): ScopeLimits {
    const base = compileBlock(blockFor(this.config, scope.id));
    const checks: Check[] = base.checks.map((c) => {
      const extra = scope.grants[c.dim];
      return extra ? { ...c, limit: c.limit + extra } : c;
    });
    if (scope.cap) {
      for (const dim of [COST, TOKENS]) {
        const cap = scope.cap[dim];
        if (cap !== undefined) checks.push({ window: 'life', dim, limit: cap, mode: 'hard', source: 'delegation' });
      }
    }
    if (base.maxShare !== undefined && scope.parent && !scope.cap) {
      for (const c of this.limitsOf(scope.parent).checks) {
        if (c.source === 'max_share') continue;
        checks.push({ window: c.window, dim: c.dim, limit: Math.floor(c.limit * base.maxShare), mode: 'hard', source: 'max_share' });
      }
    }
    return { ...base, checks };
  }

  alert(level: Alert['level'], kind: Alert['kind'], scope: string, message: string): void {
    this.alert_seq += 1;
    const alert: Alert = { seq: this.alert_seq, at_ms: this.now, level, kind, scope, message };
    this.alerts.push(alert);
    if (this.alerts.length > MAX_ALERTS) this.alerts.splice(0, this.alerts.length - MAX_ALERTS);
    this.emit({ type: 'alert', alert });
  }

  send(conn: ConnId, frame: Extract<Effect, { type: 'send' }>['frame']): void {
    if (this.conns.has(conn)) this.emit({ type: 'send', conn, frame });
  }

  deny(conn: ConnId, id: string, code: DenyCode, scope: string, message: string, retry_after_ms?: number): void {
    const chain = this.conns.get(conn)?.chain;
    if (chain && chain.length > 0) this.runaway.recordDenial(chain, code, this.now);
    this.send(conn, { type: 'deny', id, code, scope, message, ...(retry_after_ms === undefined ? {} : { retry_after_ms }) });
  }

  error(conn: ConnId, id: string | undefined, code: 'INVALID' | 'UNKNOWN_RESERVATION', message: string): void {
    this.send(conn, { type: 'error', ...(id === undefined ? {} : { id }), code, message });
  }

  /**
   * Raises an alert for every threshold a scope's pressure crossed upward; re-arms when it falls.
   * Returns the chain's largest ratio, which a grant reports as its pressure and delay.
   */
  checkThresholds(chain: readonly ScopeState[]): number | null {
    let max: number | null = null;
    for (const scope of chain) {
      this.changed.add(scope);
      const ratio = ratioOf(this, scope);
      if (ratio !== null && (max === null || ratio > max)) max = ratio;
      const level = levelOf(ratio, this.config.thresholds);
      if (level > scope.alerted_level) {
        for (let l = scope.alerted_level + 1; l <= level; l++) {
          const name = LEVEL_NAMES[l] ?? 'exceeded';
          this.alert(l >= 2 ? 'critical' : 'warning', 'threshold', scope.id, `${scope.id} ${name}: ${Math.round((ratio ?? 0) * 100)}% of its limit used or reserved`);
        }
        scope.alerted_level = level;
      } else if (level < scope.alerted_level) {
        // Re-arm only well below the crossed threshold: reservations that come and go around
        // it would otherwise raise the same alert again and again.
        const at = [0, this.config.thresholds.warning, this.config.thresholds.critical, 1];
        let l = scope.alerted_level;
        while (l > level && (ratio ?? 0) < (at[l] ?? 1) - REARM_MARGIN) l -= 1;
        scope.alerted_level = l;
      }
    }
    return max;
  }

  private ledgerHealth(writable: boolean, error: string | null): void {
    if (writable === this.ledger.writable) {
      if (!writable) this.ledger = { ...this.ledger, error };
      return;
    }
    this.ledger = writable ? { writable, error: null, since_ms: null } : { writable, error, since_ms: this.now };
    for (const s of this.scopes.values()) this.changed.add(s);
    if (writable) this.alert('info', 'ledger', GLOBAL, 'ledger writable again: reservations and delegations are granted again, held acknowledgements sent');
    else this.alert('critical', 'ledger', GLOBAL, `ledger cannot be written (${error ?? 'unknown error'}): failing closed — reserve and delegate are denied UNAVAILABLE and no spend is acknowledged until it can. Free disk space under the state dir.`);
  }

  /** Fail closed: nothing that would need a ledger row to be safe is granted while the ledger cannot be written. */
  unavailable(conn: ConnId, id: string): boolean {
    if (this.ledger.writable) return false;
    this.deny(conn, id, 'UNAVAILABLE', GLOBAL, `the ledger cannot be written (${this.ledger.error ?? 'unknown error'}); nothing is granted until it can — retry later`, 1_000);
    return true;
  }

  // ---------------------------------------------------------------- connections

  private hello(connId: ConnId, frame: Hello): void {
    const existing = this.conns.get(connId);
    if (existing?.agent) {
      this.error(connId, undefined, 'INVALID', 'hello: already sent on this connection');
      return;
    }
    const global = this.scope(GLOBAL, null);
    const user = this.scope(scopeId('user', frame.user), global);
    const session = this.scope(scopeId('session', frame.session), user);
    const task = this.scope(scopeId('task', frame.task), session);
    let chain: ScopeState[] = [global, user, session, task];
    // A delegated child is the child of its delegator wherever it says it is: its budget is held
    // on the delegator's chain, and only that chain may spend it.
    const delegated = this.scopes.get(scopeId('agent', frame.agent))?.hold;
    if (delegated) {
      const owner = delegated.owner;
      const fits = delegated.chain.includes(task) && (frame.parent === undefined || scopeId('agent', frame.parent) === owner.id);
      if (!fits) {
        this.conns.set(connId, { id: connId, hello: null, agent: null, chain: [] });
        this.error(connId, undefined, 'INVALID', `agent:${frame.agent} holds a budget delegated by ${owner.id} under ${delegated.chain.map((s) => s.id).join(' > ')}: say hello there (parent ${owner.id.slice('agent:'.length)}), or after its delegation ends`);
        return;
      }
      chain = [...delegated.chain];
    } else if (frame.parent !== undefined) {
      const parent = this.scopes.get(scopeId('agent', frame.parent));
      const parentChain = parent?.chain && parent.chain.length > 0 ? parent.chain : [...chain, this.scope(scopeId('agent', frame.parent), task)];
      chain = [...parentChain];
    }
    if (chain.length >= MAX_CHAIN) {
      this.conns.set(connId, { id: connId, hello: null, agent: null, chain: [] });
      this.error(connId, undefined, 'INVALID', `parent: delegation deeper than ${MAX_CHAIN} levels`);
      return;
    }
    const agent = this.scope(scopeId('agent', frame.agent), chain[chain.length - 1] ?? task);
    if (chain.includes(agent)) {
      this.conns.set(connId, { id: connId, hello: null, agent: null, chain: [] });
      this.error(connId, undefined, 'INVALID', 'parent: an agent cannot be its own ancestor');
      return;
    }
    // A sub-agent that says who its parent is counts toward the parent's fan-out whether or
    // not budget was delegated to it; past the limits it may connect, but never spend.
    const parentAgent = frame.parent !== undefined ? chain[chain.length - 1] : undefined;
    const fanout = parentAgent ? this.runaway.fanout(chain, parentAgent, agent) : undefined;
    chain.push(agent);
    agent.chain = chain;
    agent.connections += 1;
    chain[chain.length - 2]?.live_children.add(agent);
    for (const s of chain) this.changed.add(s);
    if (agent.live_conn === null) agent.live_conn = connId;
    this.conns.set(connId, { id: connId, hello: frame, agent, chain, ...(fanout ? { fanout: { scope: fanout.scope, message: fanout.message } } : {}) });
    if (parentAgent && !fanout) this.runaway.adopt(parentAgent, agent);
    const budgets: Record<string, ReturnType<typeof budgetView>> = {};
    for (const s of chain) budgets[s.id] = budgetView(this, s);
    this.send(connId, { type: 'welcome', v: 1, scopes: chain.map((s) => s.id), budgets });
    const killed = chain.find((s) => s.killed);
    if (killed?.killed) this.send(connId, { type: 'kill', scope: killed.id, reason: killed.killed.reason });
  }

  /** Registers a connection before its hello so that errors can be sent to it. */
  open(connId: ConnId): void {
    if (!this.conns.has(connId)) this.conns.set(connId, { id: connId, hello: null, agent: null, chain: [] });
  }

  private disconnect(connId: ConnId): void {
    const conn = this.conns.get(connId);
    if (!conn) return;
    this.conns.delete(connId);
    if (conn.agent) {
      for (const s of conn.chain) this.changed.add(s);
      conn.agent.connections -= 1;
      if (conn.agent.live_conn === connId) conn.agent.live_conn = null;
      if (conn.agent.connections === 0) {
        conn.chain[conn.chain.length - 2]?.live_children.delete(conn.agent);
        // A sub-agent without a delegation stops counting toward its parent's fan-out when it leaves.
        if (!conn.agent.hold) this.runaway.release(conn.agent);
      }
    }
    // Reservations outlive a dropped connection until their lease ends, so a reconnecting
    // agent can still commit them.
    for (const r of this.reservations.values()) if (r.conn === connId) r.conn = null;
    for (const p of this.prompts.values()) {
      if (p.conn === connId) this.dropPrompt(p);
    }
  }

  private bye(conn: Connection): void {
    for (const r of [...this.reservations.values()]) {
      if (r.kind === 'call' && r.conn === conn.id) this.releaseReservation(r);
    }
    const agent = conn.agent;
    if (agent?.hold && agent.live_conn === conn.id) this.endDelegation(agent, 'bye');
    this.emit({ type: 'close', conn: conn.id });
  }

  // ---------------------------------------------------------------- agent requests

  private agentRequest(connId: ConnId, frame: AgentRequest, keyKnown: boolean): void {
    const conn = this.conns.get(connId);
    if (!conn?.agent) {
      this.error(connId, 'id' in frame ? frame.id : undefined, 'INVALID', 'send hello first: no request is accepted before hello');
      return;
    }
    switch (frame.type) {
      case 'reserve':
        this.reserve(conn, frame, {});
        break;
      case 'commit':
        this.commit(conn, frame, keyKnown);
        break;
      case 'release':
        this.release(conn, frame);
        break;
      case 'spend':
        this.spend(conn, frame, keyKnown);
        break;
      case 'delegate':
        this.delegate(conn, frame);
        break;
      case 'ping':
        this.send(connId, { type: 'pong', id: frame.id });
        break;
      case 'bye':
        this.bye(conn);
        break;
      default:
        frame satisfies never;
    }
  }

  private killedIn(chain: readonly ScopeState[]): ScopeState | undefined {
    for (const s of chain) if (s.killed) return s;
    return undefined;
  }

  private aliased(conn: Connection): boolean {
    const agent = conn.agent;
    return agent !== null && agent.cap !== null && agent.live_conn !== null && agent.live_conn !== conn.id;
  }

  /** Common gate of every request that would use budget. Returns false when it answered a deny. */
  private admit(conn: Connection, id: string): boolean {
    if (this.unavailable(conn.id, id)) return false;
    const killed = this.killedIn(conn.chain);
    if (killed) {
      this.deny(conn.id, id, 'KILLED', killed.id, `${killed.id} was killed: ${killed.killed?.reason ?? ''}`.trim());
      return false;
    }
    if (conn.fanout) {
      this.deny(conn.id, id, 'FANOUT_LIMIT', conn.fanout.scope.id, `${conn.fanout.message}; this sub-agent joined past the limit and may not spend`);
      return false;
    }
    if (this.aliased(conn)) {
      const agent = conn.agent as ScopeState;
      this.deny(conn.id, id, 'ALIASED', agent.id, `${agent.id} holds a delegated budget that another live connection is using`);
      return false;
    }
    for (const s of conn.chain) {
      const wall = this.limitsOf(s).wallTimeMs;
      const first = s.counters.first_event_ms;
      if (wall !== undefined && first !== null && this.now - first > wall) {
        const message = `${s.id} ran past its wall_time of ${Math.round(wall / 1000)}s`;
        this.runaway.notify(s, 'wall_time', 'warning', 'wall_time', `wall time: ${message} (since its first event); refusing BUDGET_EXCEEDED. Start a new task, or raise wall_time if the work is legitimate.`);
        this.deny(conn.id, id, 'BUDGET_EXCEEDED', s.id, message);
        return false;
      }
    }
    return true;
  }

  reserve(conn: Connection, frame: Reserve, opts: { onceAt?: ScopeState; noPrompt?: boolean; confirmed?: boolean }): void {
    if (!this.admit(conn, frame.id)) return;
    const warnings: string[] = [];
    const fixed = frame.cost_usd === undefined ? undefined : usdToNano(frame.cost_usd);
    const hasTokens = frame.input_tokens !== undefined || frame.max_output_tokens !== undefined;
    let price: ModelPrice = this.prices.resolve(undefined).price;
    if (fixed === undefined && (frame.model !== undefined || hasTokens)) {
      const resolved = this.prices.resolve(frame.model);
      price = resolved.price;
      if (resolved.warning) {
        warnings.push(resolved.warning);
        this.pricingAlert(frame.model, resolved.warning);
      }
    }
    const ask: Ask = {
      model: frame.model,
      op: frame.op,
      price,
      input_tokens: frame.input_tokens ?? 0,
      fixed_cost_nano: fixed ?? (frame.model === undefined && !hasTokens ? 0 : undefined),
    };
    const llm = ask.fixed_cost_nano === undefined;
    let desired = llm ? (frame.max_output_tokens ?? this.config.reservations.default_max_output_tokens) : (frame.max_output_tokens ?? 0);
    if (llm && this.config.reservations.adaptive && conn.agent) {
      desired = adaptiveOutput(this.adaptive, conn.agent.id, frame.model, desired);
    }
    const minOut = llm && desired > 0 ? 1 : 0;
    const refusal = this.runaway.gate(conn.chain, frame, () => (askDeltas(ask, desired)[COST] ?? 0) / 1e9, this.now, (s) => this.limitsOf(s));
    if (refusal && !(refusal.confirm && opts.confirmed)) {
      if (refusal.confirm && !opts.noPrompt) this.createPrompt(conn, frame, 'tool', refusal.scope, refusal.message, ask, desired);
      else this.deny(conn.id, frame.id, refusal.code, refusal.scope.id, refusal.message, refusal.retry_after_ms);
      return;
    }
    const limitsOf = (s: ScopeState): readonly Check[] => this.limitsOf(s).checks;
    const periods = this.periods();
    const ev = evaluate(conn.chain, ask, desired, { periods, limitsOf, skipApprovalAt: opts.onceAt, withheld: this.siblingsShare(conn.chain, periods) });

    let output = Math.min(desired, ev.hard);
    let usedGrace = false;
    const hardBlocked = ev.hard < minOut;
    const approvalBlocked = ev.approval < desired && !hardBlocked;
    if (hardBlocked || approvalBlocked) {
      const graced = frame.critical ? this.tryGrace(conn.chain, ask, desired, opts.onceAt) : undefined;
      if (graced !== undefined) {
        output = graced;
        usedGrace = true;
        warnings.push('critical grace overdraft used: this scope gets it once');
      } else if (hardBlocked) {
        const b = ev.hard_binding;
        this.deny(conn.id, frame.id, 'BUDGET_EXCEEDED', b?.scope.id ?? GLOBAL, b ? exceededMessage(this, b, ask) : 'budget exceeded');
        return;
      } else if (opts.noPrompt) {
        const b = ev.approval_binding;
        this.deny(conn.id, frame.id, 'BUDGET_EXCEEDED', b?.scope.id ?? GLOBAL, `${b ? exceededMessage(this, b, ask) : 'budget exceeded'}; the grant was not enough, ask again`);
        return;
      } else {
        const b = ev.approval_binding as Binding;
        this.createPrompt(conn, frame, 'budget', b.scope, exceededMessage(this, b, ask), ask, desired);
        return;
      }
    }

    const deltas = askDeltas(ask, output);
    const placements = placementsFor(conn.chain, deltas);
    const agent = conn.agent as ScopeState;
    const reservation: Reservation = {
      id: this.nextId('r'),
      kind: 'call',
      owner: agent,
      chain: conn.chain,
      placements,
      cost_nano: deltas[COST] ?? 0,
      model: frame.model,
      op: frame.op,
      max_output_tokens: output,
      conn: conn.id,
      expires_ms: this.now + this.config.reservations.lease,
    };
    for (const p of placements) addInto(p.scope.reserved, p.deltas);
    this.reservations.set(reservation.id, reservation);
    this.runaway.recordGrant(conn.chain, this.now);
    this.runaway.granted(conn.chain, this.now);
    this.touchHold(conn.chain);
    if (usedGrace) for (const s of conn.chain) if (this.overAnyLimit(s)) s.counters.grace_used = true;
    for (const b of ev.soft) warnings.push(`soft limit: ${exceededMessage(this, b, ask)}`);
    if (llm && output < desired) warnings.push(`max_output_tokens clamped from ${desired} to ${output} by the remaining budget`);
    const ratio = this.checkThresholds(conn.chain);
    const pressure = pressureOf(ratio, this.config.thresholds);
    const suggested = pressure === 'critical' || pressure === 'exceeded' ? this.config.routing[frame.model ?? ''] : undefined;
    this.send(conn.id, {
      type: 'grant',
      id: frame.id,
      reservation: reservation.id,
      max_output_tokens: output,
      cost_usd: nanoToUsd(reservation.cost_nano),
      delay_ms: delayFor(ratio, this.config.backpressure),
      pressure,
      expires_ms: this.config.reservations.lease,
      warnings,
      ...(suggested ? { suggested_model: suggested } : {}),
    });
  }

  /**
   * min_share: at the requesting agent's parent, each connected sibling with a `min_share` keeps
   * that share of the parent's limit, less what it already used or holds, out of this request's
   * reach. Shares that add up to more than the whole are scaled down, so they can never refuse
   * everyone. Undefined, at no cost, when the config has no min_share.
   */
  private siblingsShare(chain: readonly ScopeState[], periods: PeriodKeys): ((scope: ScopeState, check: Check) => number) | undefined {
    if (!this.minShareInUse) return undefined;
    const agent = chain[chain.length - 1];
    const parent = chain[chain.length - 2];
    if (!agent || !parent || parent.live_children.size < 2) return undefined;
    const siblings: Array<{ scope: ScopeState; share: number }> = [];
    let total = this.limitsOf(agent).minShare ?? 0;
    for (const s of parent.live_children) {
      if (s === agent || s.connections === 0 || s.cap) continue;
      const share = this.limitsOf(s).minShare;
      if (!share) continue;
      siblings.push({ scope: s, share });
      total += share;
    }
    if (siblings.length === 0) return undefined;
    const scale = total > 1 ? 1 / total : 1;
    return (scope, check) => {
      if (scope !== parent) return 0;
      let kept = 0;
      for (const { scope: s, share } of siblings) kept += Math.max(0, Math.floor(check.limit * share * scale) - usedFor(s, check, periods));
      return kept;
    };
  }

  /** Once per model (bounded): an operator should know some spend is priced by guesswork. */
  private pricingAlert(model: string | undefined, warning: string): void {
    const name = model ?? '';
    if (this.pricedByDefault.has(name) || this.pricedByDefault.size >= MAX_ALERTS) return;
    this.pricedByDefault.add(name);
    this.alert('warning', 'pricing', GLOBAL, `${warning}; add it under pricing.models in the config to price it exactly`);
  }

  private tryGrace(chain: readonly ScopeState[], ask: Ask, desired: number, onceAt: ScopeState | undefined): number | undefined {
    const g = this.config.approvals.grace;
    const graceCost = usdToNano(g.cost_usd);
    const ev = evaluate(chain, ask, desired, {
      periods: this.periods(),
      limitsOf: (s) => this.limitsOf(s).checks,
      skipApprovalAt: onceAt,
      // Grace stands in for a prompt only: never on a hard limit or a delegated cap.
      grace: (scope, check) => {
        if (scope.counters.grace_used || check.mode !== 'approval' || check.source !== 'config') return 0;
        if (check.dim === COST || check.dim.endsWith(':cost')) return graceCost;
        if (check.dim.includes('tokens')) return g.tokens;
        return 0;
      },
    });
    const out = Math.min(desired, ev.hard, ev.approval);
    const minOut = ask.fixed_cost_nano === undefined && desired > 0 ? 1 : 0;
    return out >= minOut ? out : undefined;
  }

  private overAnyLimit(scope: ScopeState): boolean {
    const periods = this.periods();
    return this.limitsOf(scope).checks.some((c) => usedFor(scope, c, periods) > c.limit);
  }

  /** Parks a request for the operator: an approval-mode limit (`budget`) or a `confirm` tool. */
  private createPrompt(conn: Connection, frame: Reserve, kind: Prompt['kind'], scope: ScopeState, reason: string, ask: Ask, desired: number): void {
    if (this.prompts.size >= MAX_PROMPTS) {
      this.deny(conn.id, frame.id, kind === 'budget' ? 'BUDGET_EXCEEDED' : 'TOOL_DENIED', scope.id, `${reason}; ${MAX_PROMPTS} prompts already wait for the operator`);
      return;
    }
    const deltas = askDeltas(ask, desired);
    const prompt: Prompt = {
      id: this.nextId('p'),
      kind,
      scope,
      conn: conn.id,
      agent: conn.agent as ScopeState,
      request: frame,
      created_ms: this.now,
      expires_ms: this.now + this.config.approvals.timeout,
      reason,
      cost_nano: deltas[COST] ?? 0,
      tokens: deltas[TOKENS] ?? 0,
    };
    this.prompts.set(prompt.id, prompt);
    this.send(conn.id, { type: 'pending', id: frame.id, prompt: prompt.id });
    this.emit({
      type: 'action',
      row: { ts: this.now, kind: 'prompt', scope: scope.id, actor: prompt.agent.id, data: { prompt: prompt.id, kind, reason, cost_nano: prompt.cost_nano, tokens: prompt.tokens, tool: frame.tool ?? null } },
    });
    const what = kind === 'budget' ? `approval needed: ${prompt.agent.id} asks ${formatNano(prompt.cost_nano)}` : `confirmation needed: ${prompt.agent.id}`;
    this.alert('warning', 'prompt', scope.id, `${what} — ${reason}`);
  }

  /** Removes a prompt; its agent's status (waiting) changes with it. */
  dropPrompt(p: Prompt): void {
    this.prompts.delete(p.id);
    this.changed.add(p.agent);
  }

  /** Re-runs a parked request after the operator answered its prompt. */
  retryPrompt(prompt: Prompt, opts: { onceAt?: ScopeState; noPrompt?: boolean; confirmed?: boolean }): void {
    this.dropPrompt(prompt);
    const conn = this.conns.get(prompt.conn);
    if (!conn?.agent) return;
    this.reserve(conn, prompt.request, prompt.kind === 'tool' ? { ...opts, confirmed: true } : opts);
  }

  private releaseReservation(r: Reservation): void {
    // Once only: ending a delegation releases its child's reservations, and the same sweep of
    // expired leases may reach them again.
    if (!this.reservations.delete(r.id)) return;
    for (const p of r.placements) addInto(p.scope.reserved, p.deltas, -1);
    if (r.kind === 'call') this.runaway.settled(r.chain);
    if (r.kind === 'hold' && r.child) {
      r.child.cap = null;
      r.child.hold = null;
      this.invalidateLimits();
    }
  }

  /** Ids this daemon issued, in this boot or an earlier one (SPEC §3: spent money is never refused). */
  private issuedHere(id: string): boolean {
    const m = /^r(\d+)-(\d+)$/.exec(id);
    if (!m) return false;
    const epoch = Number(m[1]);
    return epoch < this.epoch || (epoch === this.epoch && Number(m[2]) <= this.seq);
  }

  private commit(conn: Connection, frame: Commit, keyKnown: boolean): void {
    const key = frame.key ?? frame.reservation;
    const r = this.reservations.get(frame.reservation);
    const owned = r !== undefined && r.kind === 'call' && r.owner === conn.agent;
    if (!owned && !this.issuedHere(frame.reservation)) {
      this.error(conn.id, frame.id, 'UNKNOWN_RESERVATION', `reservation: ${frame.reservation} was never issued to this agent`);
      return;
    }
    const model = frame.model ?? r?.model;
    const { cost, warning } = this.usageCost(model, frame);
    const warnings = warning === undefined ? {} : { warnings: [warning] };
    if (keyKnown) {
      // Counted once already; this reservation's hold is still released, or it would pin
      // budget until its lease ends.
      if (owned && r) {
        this.releaseReservation(r);
        this.checkThresholds(r.chain);
      }
      this.send(conn.id, { type: 'ack', id: frame.id, cost_usd: nanoToUsd(cost), duplicate: true, ...warnings });
      return;
    }
    let chain = conn.chain;
    let reservedCost: number | undefined;
    if (owned && r) {
      chain = r.chain;
      reservedCost = r.cost_nano;
      this.releaseReservation(r);
      this.adaptive.observe(r.owner.id, model, frame.output_tokens);
    }
    const over = this.recordUsage(conn, chain, 'commit', key, { ...frame, model }, cost, reservedCost);
    this.send(conn.id, { type: 'ack', id: frame.id, cost_usd: nanoToUsd(cost), duplicate: false, over, ...warnings });
  }

  private release(conn: Connection, frame: Release): void {
    const r = this.reservations.get(frame.reservation);
    if (r && r.kind === 'call' && r.owner === conn.agent) {
      this.releaseReservation(r);
      this.checkThresholds(r.chain);
    } else if (!this.issuedHere(frame.reservation)) {
      this.error(conn.id, frame.id, 'UNKNOWN_RESERVATION', `reservation: ${frame.reservation} was never issued to this agent`);
      return;
    }
    this.send(conn.id, { type: 'ack', id: frame.id });
  }

  private spend(conn: Connection, frame: Spend, keyKnown: boolean): void {
    const { cost, warning } = this.usageCost(frame.model, frame);
    const warnings = warning === undefined ? {} : { warnings: [warning] };
    if (keyKnown) {
      this.send(conn.id, { type: 'ack', id: frame.id, cost_usd: nanoToUsd(cost), duplicate: true, over: false, ...warnings });
      return;
    }
    const over = this.recordUsage(conn, conn.chain, 'spend', frame.key, frame, cost, undefined);
    this.send(conn.id, { type: 'ack', id: frame.id, cost_usd: nanoToUsd(cost), duplicate: false, over, ...warnings });
  }

  private usageCost(
    model: string | undefined,
    u: { input_tokens?: number | undefined; output_tokens?: number | undefined; cache_read_tokens?: number | undefined; cache_write_tokens?: number | undefined; cost_usd?: number | undefined },
  ): { cost: number; warning?: string | undefined } {
    if (u.cost_usd !== undefined) return { cost: usdToNano(u.cost_usd) };
    const tokens = (u.input_tokens ?? 0) + (u.output_tokens ?? 0) + (u.cache_read_tokens ?? 0) + (u.cache_write_tokens ?? 0);
    if (model === undefined && tokens === 0) return { cost: 0 };
    const resolved = this.prices.resolve(model);
    if (resolved.warning) this.pricingAlert(model, resolved.warning);
    return {
      cost: costOf(resolved.price, {
        input_tokens: u.input_tokens ?? 0,
        output_tokens: u.output_tokens ?? 0,
        cache_read_tokens: u.cache_read_tokens ?? 0,
        cache_write_tokens: u.cache_write_tokens ?? 0,
      }),
      warning: resolved.warning,
    };
  }

  /** Records spent money on every scope of the chain; returns whether a hard limit is now crossed. */
  private recordUsage(
    conn: Connection,
    chain: readonly ScopeState[],
    kind: 'commit' | 'spend',
    key: string,
    u: { model?: string | undefined; op?: string | undefined; tool?: string | undefined; input_tokens?: number | undefined; output_tokens?: number | undefined; cache_read_tokens?: number | undefined; cache_write_tokens?: number | undefined },
    cost: number,
    reservedCost: number | undefined,
  ): boolean {
    const deltas = usageDeltas({ model: u.model, op: u.op, input_tokens: u.input_tokens ?? 0, output_tokens: u.output_tokens ?? 0, cost_nano: cost });
    this.applyUsage(chain, deltas);
    const periods = this.periods();
    let over = false;
    for (const s of chain) {
      for (const c of this.limitsOf(s).checks) {
        if (c.mode !== 'soft' && c.dim in deltas && usedFor(s, c, periods) > c.limit) over = true;
      }
    }
    const overshoot = over || (reservedCost !== undefined && cost > reservedCost);
    if (overshoot) {
      this.overshoot_total += 1;
      this.alert('critical', 'overshoot', (conn.agent ?? chain[chain.length - 1] ?? { id: GLOBAL }).id, `${kind} ${key} of ${formatNano(cost)}${reservedCost !== undefined && cost > reservedCost ? ` exceeds its reservation of ${formatNano(reservedCost)}` : ''}${over ? ' and crosses a limit' : ''}`);
    }
    const h = conn.hello;
    const row: UsageRow = {
      key,
      ts: this.now,
      kind,
      user: h?.user ?? 'default',
      session: h?.session ?? '',
      task: h?.task ?? '',
      agent: conn.agent?.id.slice('agent:'.length) ?? '',
      chain: chain.map((s) => s.id),
      model: u.model ?? null,
      input_tokens: u.input_tokens ?? 0,
      output_tokens: u.output_tokens ?? 0,
      cache_read_tokens: u.cache_read_tokens ?? 0,
      cache_write_tokens: u.cache_write_tokens ?? 0,
      cost_nano: cost,
      tool: u.tool ?? null,
      op: u.op ?? null,
      overshoot,
    };
    this.emit({ type: 'usage', row });
    this.touchHold(chain);
    this.checkThresholds(chain);
    return over;
  }

  /** Adds spent to every scope; draws every delegation hold on the way up, so nothing counts twice. */
  applyUsage(chain: readonly ScopeState[], deltas: Deltas): void {
    const periods = this.periods();
    for (const s of chain) {
      recordSpent(s, deltas, periods, this.now);
      s.burn.add(this.now, deltas[COST] ?? 0);
      s.burn_tokens.add(this.now, deltas[TOKENS] ?? 0);
      this.dirty.add(s);
    }
    this.runaway.spent(chain, this.now);
    for (let i = chain.length - 1; i >= 0; i--) {
      const hold = chain[i]?.hold;
      if (!hold?.remaining) continue;
      const drawn: Deltas = {};
      for (const dim in hold.remaining) {
        const d = Math.min(deltas[dim] ?? 0, hold.remaining[dim] ?? 0);
        if (d > 0) drawn[dim] = d;
      }
      addInto(hold.remaining as Deltas, drawn, -1);
      for (const p of hold.placements) {
        const part: Deltas = {};
        for (const dim in drawn) if (dim in p.deltas) part[dim] = drawn[dim] ?? 0;
        addInto(p.deltas as Deltas, part, -1);
        addInto(p.scope.reserved, part, -1);
      }
    }
  }

  private touchHold(chain: readonly ScopeState[]): void {
    for (const s of chain) if (s.hold) s.hold.expires_ms = Math.max(s.hold.expires_ms, this.now + this.config.reservations.lease);
  }

  private delegate(conn: Connection, frame: Delegate): void {
    if (!this.admit(conn, frame.id)) return;
    const parent = conn.agent as ScopeState;
    const child = this.scope(scopeId('agent', frame.child), parent);
    if (conn.chain.includes(child)) {
      this.deny(conn.id, frame.id, 'ALIASED', child.id, `${child.id} is already in this agent's chain`);
      return;
    }
    for (const c of this.conns.values()) {
      if (c.agent !== child) continue;
      if (c.chain.length !== conn.chain.length + 1 || conn.chain.some((s, i) => c.chain[i] !== s)) {
        this.deny(conn.id, frame.id, 'ALIASED', child.id, `${child.id} is connected under ${c.chain.slice(0, -1).map((s) => s.id).join(' > ')}, not under ${parent.id}: a delegated child must join under its delegator`);
        return;
      }
    }
    if (child.hold && child.hold.owner !== parent) {
      this.deny(conn.id, frame.id, 'ALIASED', child.id, `${child.id} already holds a budget delegated by ${child.hold.owner.id}`);
      return;
    }
    // Reservations and delegations the child made on its parent's budget would settle against
    // the new delegation's hold: one budget used as two. They settle first.
    if (!child.hold) {
      let inFlight = 0;
      // Its sub-agents' too: they sit on the child's scope, which the cap would then count twice.
      for (const r of this.reservations.values()) if (r.owner === child || r.chain.includes(child)) inFlight += 1;
      if (inFlight > 0) {
        this.deny(conn.id, frame.id, 'ALIASED', child.id, `${child.id} has ${inFlight} reservation${inFlight === 1 ? '' : 's'} or delegation${inFlight === 1 ? '' : 's'} in flight on its parent's budget; delegate to it once they are settled`);
        return;
      }
    }
    const fanout = this.runaway.fanout(conn.chain, parent, child);
    if (fanout) {
      this.deny(conn.id, frame.id, fanout.code, fanout.scope.id, fanout.message);
      return;
    }
    const deltas: Deltas = {};
    if (frame.limits.cost_usd !== undefined) deltas[COST] = usdToNano(frame.limits.cost_usd);
    if (frame.limits.tokens !== undefined) deltas[TOKENS] = frame.limits.tokens;
    const periods = this.periods();
    const withheld = this.siblingsShare(conn.chain, periods);
    for (let i = 0; i < conn.chain.length; i++) {
      const s = conn.chain[i] as ScopeState;
      for (const c of this.limitsOf(s).checks) {
        if (c.mode === 'soft' || !(c.dim in deltas)) continue;
        const placed = placementsFor(conn.chain, { [c.dim]: deltas[c.dim] ?? 0 }).some((p) => p.scope === s);
        if (!placed) continue;
        if (usedFor(s, c, periods) + (deltas[c.dim] ?? 0) + (withheld ? withheld(s, c) : 0) > c.limit) {
          this.deny(conn.id, frame.id, 'BUDGET_EXCEEDED', s.id, `delegating ${describeDeltas(deltas)} would exceed ${s.id}'s ${checkName(c)} limit of ${checkFigure(c, c.limit)} (${checkFigure(c, usedFor(s, c, periods))} used or reserved)`);
          return;
        }
      }
    }
    const placements = placementsFor(conn.chain, deltas);
    for (const p of placements) addInto(p.scope.reserved, p.deltas);
    if (child.hold) {
      const hold = child.hold;
      for (const p of placements) {
        const mine = hold.placements.find((q) => q.scope === p.scope);
        if (mine) addInto(mine.deltas as Deltas, p.deltas);
        else hold.placements.push(p);
      }
      addInto(hold.remaining as Deltas, deltas);
      addInto(child.cap as Deltas, deltas);
      hold.expires_ms = this.now + this.config.reservations.lease;
    } else {
      this.openHold(parent, conn.chain, placements, deltas, child, conn.id);
      // The cap counts what the child already spent, so it can spend exactly the delegated amount more.
      const cap: Deltas = {};
      for (const dim in deltas) cap[dim] = (deltas[dim] ?? 0) + (child.counters.life[dim] ?? 0);
      child.cap = cap;
      child.chain = [...conn.chain, child];
    }
    this.invalidateLimits();
    const cap = child.cap ?? {};
    this.emit({
      type: 'action',
      row: { ts: this.now, kind: 'delegate', scope: child.id, actor: parent.id, data: { cost_nano: deltas[COST] ?? null, tokens: deltas[TOKENS] ?? null, cap_cost_nano: cap[COST] ?? null, cap_tokens: cap[TOKENS] ?? null, chain: conn.chain.map((s) => s.id) } },
    });
    this.send(conn.id, {
      type: 'delegated',
      id: frame.id,
      child: frame.child,
      limits: { ...(frame.limits.cost_usd !== undefined ? { cost_usd: frame.limits.cost_usd } : {}), ...(frame.limits.tokens !== undefined ? { tokens: frame.limits.tokens } : {}) },
    });
    this.checkThresholds(conn.chain);
  }

  /** The hold on `parent`'s chain that funds `child`'s delegated budget (placements already reserved). */
  private openHold(parent: ScopeState, chain: readonly ScopeState[], placements: Placement[], amount: Deltas, child: ScopeState, conn: ConnId | null): void {
    const hold: Reservation = {
      id: this.nextId('h'),
      kind: 'hold',
      owner: parent,
      chain,
      placements,
      cost_nano: amount[COST] ?? 0,
      model: undefined,
      op: undefined,
      max_output_tokens: 0,
      conn,
      expires_ms: this.now + this.config.reservations.lease,
      child,
      remaining: { ...amount },
    };
    this.reservations.set(hold.id, hold);
    this.runaway.adopt(parent, child);
    child.hold = hold;
  }

  /** Returns a child's unspent delegated budget to its parent. */
  endDelegation(child: ScopeState, why: 'bye' | 'expired'): void {
    const hold = child.hold;
    if (!hold) return;
    // What the child delegated further is funded only by the child's hold: it ends first, or a
    // grandchild would keep spending budget its grandparent already got back.
    for (const r of [...this.reservations.values()]) {
      if (r.kind === 'hold' && r.owner === child && r.child) this.endDelegation(r.child, why);
    }
    for (const r of [...this.reservations.values()]) {
      if (r.kind === 'call' && r.owner === child) this.releaseReservation(r);
    }
    const returned = { ...(hold.remaining ?? {}) };
    this.releaseReservation(hold);
    if (child.connections === 0) this.runaway.release(child);
    this.emit({ type: 'action', row: { ts: this.now, kind: 'delegation_end', scope: child.id, actor: 'daemon', data: { why, returned_cost_nano: returned[COST] ?? 0, returned_tokens: returned[TOKENS] ?? 0 } } });
    this.checkThresholds(hold.chain);
  }

  // ---------------------------------------------------------------- time

  private tick(): void {
    for (const r of [...this.reservations.values()]) {
      if (r.expires_ms > this.now) continue;
      if (r.kind === 'hold' && r.child) {
        if (r.child.live_conn !== null) {
          r.expires_ms = this.now + this.config.reservations.lease;
          continue;
        }
        this.endDelegation(r.child, 'expired');
      } else {
        this.releaseReservation(r);
        this.checkThresholds(r.chain);
      }
    }
    for (const p of [...this.prompts.values()]) {
      if (p.expires_ms > this.now) continue;
      this.dropPrompt(p);
      this.deny(p.conn, p.request.id, 'APPROVAL_TIMEOUT', p.scope.id, `no operator answer within ${Math.round(this.config.approvals.timeout / 1000)}s: ${p.reason}`);
      this.emit({ type: 'action', row: { ts: this.now, kind: 'prompt_answer', scope: p.scope.id, actor: 'daemon', data: { prompt: p.id, answer: 'timeout' } } });
    }
  }

  private applyConfig(config: Config, path: string | null): void {
    const before = JSON.stringify({ limits: this.config.limits, scopes: this.config.scopes });
    const after = JSON.stringify({ limits: config.limits, scopes: config.scopes });
    if (before !== after) {
      // Limits edited in the config file are audited like operator grants: who (the file), when, what.
      this.emit({ type: 'action', row: { ts: this.now, kind: 'limits', scope: GLOBAL, actor: `config:${path ?? '(embedded defaults)'}`, data: { limits: config.limits, scopes: config.scopes } } });
    }
    this.config = config;
    this.minShareInUse = usesMinShare(config);
    this.config_path = path;
    this.config_loaded_ms = this.now;
    this.config_error = null;
    this.prices = priceBookOf(config);
    this.clock = new PeriodClock(config.timezone);
    this.runaway.setConfig(config);
    this.invalidateLimits();
    for (const s of this.scopes.values()) this.changed.add(s);
    this.alert('info', 'config', GLOBAL, `config ${path ?? '(embedded defaults)'} applied`);
    for (const p of [...this.prompts.values()]) this.retryPrompt(p, {});
  }

  private restore(restored: RestoredState): void {
    const byId = new Map(restored.scopes.map((s) => [s.id, s]));
    const built = new Set<ScopeId>();
    const build = (id: ScopeId, depth: number): ScopeState => {
      const existing = this.scopes.get(id);
      const r = byId.get(id);
      if (existing && (built.has(id) || !r)) return existing;
      built.add(id);
      if (existing && r) {
        existing.counters = structuredClone(r.counters);
        return existing;
      }
      const parent = r?.parent && depth < MAX_CHAIN ? build(r.parent, depth + 1) : id === GLOBAL ? null : this.scope(GLOBAL, null);
      const s = this.scope(id, parent);
      if (r) s.counters = structuredClone(r.counters);
      return s;
    };
    for (const r of restored.scopes) build(r.id, 0);
    const replayClock = new PeriodClock(this.config.timezone);
    for (const row of restored.replay ?? []) {
      let parent: ScopeState | null = null;
      const deltas = usageDeltas({ model: row.model ?? undefined, op: row.op ?? undefined, input_tokens: row.input_tokens, output_tokens: row.output_tokens, cost_nano: row.cost_nano });
      const periods = replayClock.at(row.ts);
      for (const id of row.chain) {
        const s: ScopeState = this.scopes.get(id) ?? this.scope(id, parent);
        recordSpent(s, deltas, periods, row.ts);
        this.dirty.add(s);
        parent = s;
      }
    }
    for (const g of restored.grants) addInto(this.scope(g.scope, null).grants, g.deltas);
    for (const k of restored.kills) this.scope(k.scope, null).killed = { reason: k.reason, at_ms: k.at_ms };
    for (const d of restored.delegations ?? []) this.restoreDelegation(d.child, d.chain, d.cap);
    this.invalidateLimits();
    for (const s of this.scopes.values()) s.alerted_level = levelOf(ratioOf(this, s), this.config.thresholds);
  }

  /**
   * A restart voids reservations, but a delegation is budget that *moved*: the child keeps its
   * cap, and what it has not spent stays held on its parent's chain, so neither can spend it
   * twice. It ends as any delegation does: on the child's `bye`, or when its lease runs out
   * without the child connected.
   */
  private restoreDelegation(childId: ScopeId, chainIds: readonly ScopeId[], cap: Deltas): void {
    if (chainIds[0] !== GLOBAL || chainIds.length >= MAX_CHAIN || chainIds.includes(childId)) return;
    const parentChain: ScopeState[] = [];
    for (const id of chainIds) parentChain.push(this.scope(id, parentChain[parentChain.length - 1] ?? null));
    const parent = parentChain[parentChain.length - 1] as ScopeState;
    if (parent.id === GLOBAL) return;
    const child = this.scope(childId, parent);
    const remaining: Deltas = {};
    for (const dim in cap) remaining[dim] = Math.max(0, (cap[dim] ?? 0) - (child.counters.life[dim] ?? 0));
    const placements = placementsFor(parentChain, remaining);
    for (const p of placements) addInto(p.scope.reserved, p.deltas);
    this.openHold(parent, parentChain, placements, remaining, child, null);
    child.cap = { ...cap };
    child.chain = [...parentChain, child];
  }

  takeDirty(): ScopeState[] {
    const list = [...this.dirty];
    this.dirty.clear();
    return list;
  }
}

function usesMinShare(config: Config): boolean {
  return [...Object.values(config.limits), ...Object.values(config.scopes)].some((b) => (b?.min_share ?? 0) > 0);
}

function priceBookOf(config: Config): PriceBook {
  const overrides = new Map<string, ModelPrice>();
  for (const [model, p] of Object.entries(config.pricing.models)) overrides.set(model, priceFromUsd(p));
  return new PriceBook(priceFromUsd(config.pricing.default), overrides);
}

export function formatNano(nano: number): string {
  const usd = nano / 1e9;
  return `$${usd >= 1 ? usd.toFixed(2) : usd.toFixed(4)}`;
}

export function checkName(c: Check): string {
  const dim = c.dim === COST ? 'cost_usd' : c.dim;
  return c.window === 'life' ? dim : `per_${c.window}.${dim}`;
}

export function checkFigure(c: Check, v: number): string {
  return c.dim === COST || c.dim.endsWith(':cost') ? formatNano(v) : String(v);
}

function describeDeltas(d: Deltas): string {
  const parts: string[] = [];
  if (d[COST] !== undefined) parts.push(formatNano(d[COST]));
  if (d[TOKENS] !== undefined) parts.push(`${d[TOKENS]} tokens`);
  return parts.join(' and ');
}

export function exceededMessage(engine: Engine, b: Binding, ask: Ask): string {
  const c = b.check;
  const used = usedFor(b.scope, c, engine.periods());
  const need = askDeltas(ask, 1)[c.dim] ?? 0;
  return `${b.scope.id} ${checkName(c)} limit ${checkFigure(c, c.limit)} (${c.mode}${c.source !== 'config' ? `, ${c.source}` : ''}): ${checkFigure(c, used)} used or reserved, this request needs at least ${checkFigure(c, need)}`;
}

export function budgetView(engine: Engine, s: ScopeState): { limit: Record<string, number>; spent: Record<string, number>; reserved: Record<string, number>; pressure: ReturnType<typeof pressureOf> } {
  const limit: Record<string, number> = {};
  const spent: Record<string, number> = {};
  const reserved: Record<string, number> = {};
  const periods = engine.periods();
  for (const c of engine.limitsOf(s).checks) {
    const name = checkName(c);
    limit[name] = c.dim === COST ? nanoToUsd(c.limit) : c.limit;
    const used = usedFor(s, c, periods) - (s.reserved[c.dim] ?? 0);
    spent[name] = c.dim === COST ? nanoToUsd(used) : used;
  }
  spent.cost_usd = nanoToUsd(s.counters.life[COST] ?? 0);
  spent.tokens = s.counters.life[TOKENS] ?? 0;
  reserved.cost_usd = nanoToUsd(s.reserved[COST] ?? 0);
  reserved.tokens = s.reserved[TOKENS] ?? 0;
  return { limit, spent, reserved, pressure: pressureOf(ratioOf(engine, s), engine.config.thresholds) };
}
