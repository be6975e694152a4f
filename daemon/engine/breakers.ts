import ms from 'ms';
import type { DenyCode } from '../../shared/protocol/agent.js';
import type { Breaker } from '../../shared/protocol/operator.js';
import { WindowSum } from './burn.js';
import type { AlertSink, ConfigOf, PerScope, Refusal } from './runaway-types.js';
import { scopeKind } from './scope.js';
import type { ScopeState } from './state.js';

/**
 * Circuit breakers (SPEC §3): the denial breaker of each agent and user, and the burn-rate
 * breaker of each task and agent. Queries (`state`, `openUntil`) are pure; time-based
 * transitions happen in `tick`, and at request time when a request finds tick has not run yet.
 */

/** Denials that say something about the agent's behaviour; operator decisions and kills do not. */
const COUNTED: ReadonlySet<DenyCode> = new Set(['BUDGET_EXCEEDED', 'RATE_LIMITED', 'LOOP_DETECTED', 'FANOUT_LIMIT', 'TOOL_DENIED']);

/** Bound on undecided trials per breaker, whatever `half_open` says (the schema caps it too). */
export const MAX_TRIALS = 1_000;

/** How soon a request refused for want of a trial slot may ask again: trials decide quickly. */
const TRIAL_RETRY_MS = 1_000;

/** `90s`, `10m`, `1h`: durations in alerts as the config writes them. */
const span = (msValue: number): string => ms(msValue);

interface DenialBreaker {
  /** Consecutive counted denials (an agent's); for a user, distinct agents denied in a row. */
  consecutive: number;
  /** A user's: agents denied since its last grant (≤ user_threshold). One stubborn agent trips only its own. */
  denied_agents: Set<ScopeState> | null;
  /** As last written: an `open` past `open_until` reads as half-open until a tick or request moves it. */
  state: Breaker;
  open_until: number;
  /** Trials granted since it half-opened. */
  successes: number;
  /** Trials admitted but not yet decided (parked for the operator): request → when its slot lapses. */
  readonly trials: Map<object, number>;
  /** The request the gate last admitted as a trial: the one the next grant decides. */
  last: object | null;
  /** The latest counted denial or trip. */
  last_ms: number;
}

/**
 * The scopes with a denial breaker in a chain: the agent at its end, then its fleet — its user,
 * or for an agent acting with a key, the key's scope (its denials count inside it). The agent
 * comes first so that when one agent's denials open both, the refusal names the agent.
 */
export function breakerScopes(chain: readonly ScopeState[], fleet?: ScopeState): ScopeState[] {
  const agent = chain[chain.length - 1];
  const f = fleet ?? chain.find((s) => scopeKind(s.id) === 'user');
  return [agent, f].filter((s, i, all): s is ScopeState => s !== undefined && all.indexOf(s) === i);
}

export class DenialBreakers implements PerScope {
  private readonly map = new Map<ScopeState, DenialBreaker>();

  constructor(
    private readonly config: ConfigOf,
    private readonly alert: AlertSink,
  ) {}

  private get trialsMax(): number {
    return Math.min(this.config().breakers.denials.half_open, MAX_TRIALS);
  }

  /** The state at `now`, computed from time (and from `half_open`, which a reload may lower); writes nothing. */
  state(scope: ScopeState, now: number): Breaker {
    const b = this.map.get(scope);
    if (!b) return 'closed';
    if (b.state === 'open' && now >= b.open_until) return this.trialsMax > 0 ? 'half-open' : 'closed';
    if (b.state === 'half-open' && b.successes >= this.trialsMax) return 'closed';
    return b.state;
  }

  /** Writes what `state` computes: open → half-open once reset, half-open → closed once enough trials passed. */
  private advance(b: DenialBreaker, now: number): boolean {
    let moved = false;
    if (b.state === 'open' && now >= b.open_until) {
      b.state = 'half-open';
      b.successes = 0;
      moved = true;
    }
    if (b.state === 'half-open' && b.successes >= this.trialsMax) {
      b.state = 'closed';
      b.successes = 0;
      moved = true;
    }
    if (moved) {
      b.trials.clear();
      b.last = null;
    }
    return moved;
  }

  /**
   * The gate's step: refuses under an open breaker, or under a half-open one whose trial slots
   * are all taken by undecided trials; otherwise admits `request` as a trial of every half-open
   * breaker of the chain. A request parked for the operator and re-run with the same object
   * keeps its slot.
   */
  admit(chain: readonly ScopeState[], request: object, now: number, fleet?: ScopeState): Refusal | undefined {
    const scopes = breakerScopes(chain, fleet);
    for (const s of scopes) {
      const b = this.map.get(s);
      if (!b) continue;
      this.advance(b, now);
      if (b.state === 'open') {
        return { code: 'CIRCUIT_OPEN', scope: s, message: `circuit breaker of ${s.id} is open after repeated denials`, retry_after_ms: Math.max(1, b.open_until - now) };
      }
      if (b.state !== 'half-open') continue;
      for (const [trial, lapse_ms] of b.trials) if (lapse_ms <= now) b.trials.delete(trial);
      if (!b.trials.has(request) && b.successes + b.trials.size >= this.trialsMax) {
        const lapse = Math.min(...b.trials.values());
        const message = `circuit breaker of ${s.id} is half-open and its ${this.trialsMax} trial requests are not decided yet`;
        return { code: 'CIRCUIT_OPEN', scope: s, message, retry_after_ms: Math.max(1, Math.min(TRIAL_RETRY_MS, lapse - now)) };
      }
    }
    // Only once every breaker admits: a request refused by the user's breaker takes no agent slot.
    const lapse_ms = now + this.config().approvals.timeout;
    for (const s of scopes) {
      const b = this.map.get(s);
      if (!b) continue;
      b.last = b.state === 'half-open' ? request : null;
      if (b.state === 'half-open' && !b.trials.has(request)) b.trials.set(request, lapse_ms);
    }
    return undefined;
  }

  recordDenial(chain: readonly ScopeState[], code: DenyCode, now: number, fleet?: ScopeState): void {
    if (!COUNTED.has(code)) return;
    const d = this.config().breakers.denials;
    const agent = chain[chain.length - 1];
    for (const s of breakerScopes(chain, fleet)) {
      let b = this.map.get(s);
      if (!b) this.map.set(s, (b = { consecutive: 0, denied_agents: null, state: 'closed', open_until: 0, successes: 0, trials: new Map(), last: null, last_ms: now }));
      this.advance(b, now);
      b.last_ms = now;
      if (b.state === 'half-open') {
        this.trip(s, b, now, `a trial request under ${s.id} was denied (${code}) while half-open`);
        continue;
      }
      if (b.state === 'open') continue;
      const user = s !== agent;
      if (user && agent) {
        (b.denied_agents ??= new Set()).add(agent);
        b.consecutive = b.denied_agents.size;
      } else b.consecutive += 1;
      const threshold = user ? d.user_threshold : d.threshold;
      const why = user ? `${b.consecutive} of its agents denied in a row with no grant between, the last ${code}` : `${b.consecutive} consecutive denials under ${s.id}, the last ${code}`;
      if (threshold > 0 && b.consecutive >= threshold) this.trip(s, b, now, why);
    }
  }

  recordGrant(chain: readonly ScopeState[], now: number, fleet?: ScopeState): void {
    for (const s of breakerScopes(chain, fleet)) {
      const b = this.map.get(s);
      if (!b) continue;
      this.advance(b, now);
      b.consecutive = 0;
      b.denied_agents = null;
      if (b.state !== 'half-open' || b.last === null) continue;
      b.trials.delete(b.last);
      b.last = null;
      b.successes += 1;
      this.advance(b, now);
    }
  }

  private trip(scope: ScopeState, b: DenialBreaker, now: number, why: string): void {
    const d = this.config().breakers.denials;
    b.state = 'open';
    b.open_until = now + d.reset;
    b.consecutive = 0;
    b.denied_agents = null;
    b.successes = 0;
    b.trials.clear();
    b.last = null;
    b.last_ms = now;
    this.alert('critical', 'breaker', scope.id, `circuit breaker opened: ${why}; requests are refused CIRCUIT_OPEN for ${span(d.reset)}, then ${d.half_open} trial requests decide. Check the agent's logic or raise its budget.`);
  }

  /** Time-based transitions: open → half-open, lapsed trials; closed breakers with no count are dropped. */
  tick(now: number, changed: ScopeState[]): void {
    for (const [s, b] of this.map) {
      if (this.advance(b, now)) changed.push(s);
      else if (b.state === 'closed' && b.consecutive === 0) this.map.delete(s);
      else for (const [trial, lapse_ms] of b.trials) if (lapse_ms <= now) b.trials.delete(trial);
    }
  }

  /**
   * Quiet: no breaker, or a closed one whose count is zero or older than `reset`, or a half-open
   * one with no undecided trial that has waited a further `reset` for one. An open breaker never is.
   */
  isQuiet(scope: ScopeState, now: number): boolean {
    const b = this.map.get(scope);
    if (!b) return true;
    const reset = this.config().breakers.denials.reset;
    const state = this.state(scope, now);
    if (state === 'open') return false;
    if (b.state === 'closed') return b.consecutive === 0 || now - b.last_ms >= reset;
    if (state === 'closed') return true; // it closes on its next request: nothing left to decide
    return [...b.trials.values()].every((lapse) => lapse <= now) && now - Math.max(b.open_until, b.last_ms) >= reset;
  }

  forget(scope: ScopeState): void {
    this.map.delete(scope);
  }
}

/**
 * Burn-rate breakers of tasks and agents: spend within the sliding `window` over `cost_usd`
 * opens the scope's breaker for `cooldown`. Each scope keeps its own `WindowSum` sized from the
 * window (60 buckets of window/60), so a 1 h or a 24 h window is honoured in fixed memory.
 */
export class BurnBreakers implements PerScope {
  private readonly open = new Map<ScopeState, number>();
  private readonly windows = new Map<ScopeState, WindowSum>();

  constructor(
    private readonly config: ConfigOf,
    private readonly alert: AlertSink,
  ) {}

  /** When the scope's burn-rate breaker closes, or 0 when it is not open at `now`. Pure. */
  openUntil(scope: ScopeState, now: number): number {
    const until = this.open.get(scope) ?? 0;
    return until > now ? until : 0;
  }

  refuse(chain: readonly ScopeState[], now: number): Refusal | undefined {
    for (const s of chain) {
      const until = this.openUntil(s, now);
      if (until > 0) return { code: 'CIRCUIT_OPEN', scope: s, message: `burn-rate breaker of ${s.id} is open`, retry_after_ms: until - now };
    }
    return undefined;
  }

  /** A config reload: windows follow the new length (history re-bucketed), or go when the breaker is off. */
  reconfigure(): void {
    const cfg = this.config().breakers.burn_rate;
    for (const [s, w] of this.windows) {
      if (cfg.cost_usd === undefined) this.windows.delete(s);
      else if (w.window_ms !== cfg.window) this.windows.set(s, w.resized(cfg.window));
    }
  }

  /** Spend of `costNano` landed on every scope of `chain`. */
  spent(chain: readonly ScopeState[], now: number, costNano: (s: ScopeState) => number): void {
    const cfg = this.config().breakers.burn_rate;
    if (cfg.cost_usd === undefined) return;
    const threshold = Math.round(cfg.cost_usd * 1e9);
    for (const s of chain) {
      // Runaways live in tasks and agents; a user's or session's aggregate pace is budgeted by limits.
      const kind = scopeKind(s.id);
      if (kind !== 'task' && kind !== 'agent') continue;
      const amount = costNano(s);
      let w = this.windows.get(s);
      if (!w || w.window_ms !== cfg.window) {
        if (!w && amount <= 0) continue;
        w = w ? w.resized(cfg.window) : new WindowSum(cfg.window);
        this.windows.set(s, w);
      }
      if (amount > 0) w.add(now, amount);
      if (this.openUntil(s, now) > 0) continue;
      const sum = w.sum(now);
      if (sum <= threshold) continue;
      this.open.set(s, now + cfg.cooldown);
      this.alert(
        'critical',
        'breaker',
        s.id,
        `burn-rate breaker opened: ${s.id} spent $${(sum / 1e9).toFixed(2)} within ${span(cfg.window)} (limit $${cfg.cost_usd} per ${span(cfg.window)}); refusing CIRCUIT_OPEN for ${span(cfg.cooldown)}. Look at what it is doing now: kill it (x) if it drifted, or raise breakers.burn_rate.`,
      );
    }
  }

  /** Expires cooldowns (reported as changed); `sweep` also drops windows that hold no spend. */
  tick(now: number, changed: ScopeState[], sweep: boolean): void {
    for (const [s, until] of this.open) {
      if (until > now) continue;
      this.open.delete(s);
      changed.push(s);
    }
    if (sweep) for (const [s, w] of this.windows) if (!w.holds(now)) this.windows.delete(s);
  }

  isQuiet(scope: ScopeState, now: number): boolean {
    return this.openUntil(scope, now) === 0 && !(this.windows.get(scope)?.holds(now) ?? false);
  }

  forget(scope: ScopeState): void {
    this.open.delete(scope);
    this.windows.delete(scope);
  }
}
