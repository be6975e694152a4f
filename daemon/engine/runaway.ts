import type { DenyCode, Reserve } from '../../shared/protocol/agent.js';
import type { Breaker } from '../../shared/protocol/operator.js';
import type { Config } from '../config/schema.js';
import { BurnBreakers, DenialBreakers } from './breakers.js';
import { AmplificationDetector, Fanout, LoopDetector } from './detectors.js';
import { CallRate, Concurrency, toolRule } from './runaway-limits.js';
import type { AlertKind, AlertLevel, AlertSink, Notifier, PerScope, Refusal } from './runaway-types.js';
import type { ScopeState } from './state.js';

export type { AlertKind, AlertSink, Refusal } from './runaway-types.js';

/**
 * Runaway protection (SPEC §3): denial breakers per agent and user, burn-rate breakers per
 * task and agent (breakers.ts), the loop and context-amplification detectors and fan-out
 * (detectors.ts), concurrency and call-rate limits and tool permissions (runaway-limits.ts).
 * Pure state keyed by scope; the engine asks `gate` before budget.
 *
 * Views read, never write: `breakerState` and `isQuiet` compute from time. Time-based
 * transitions happen in `tick`, and at request time (gate, recordDenial, recordGrant, spent)
 * when a request comes before the tick that would have made them.
 */

/** Stale detector and rate entries are swept at most this often: tick runs every 100 ms. */
const SWEEP_MS = 1_000;

type Frame = Pick<Reserve, 'tool' | 'args_hash' | 'model' | 'input_tokens' | 'cost_usd'>;

export class Runaway implements Notifier {
  private readonly denials: DenialBreakers;
  private readonly burn: BurnBreakers;
  private readonly loops: LoopDetector;
  private readonly amplification: AmplificationDetector;
  private readonly fan: Fanout;
  private readonly rate: CallRate;
  private readonly concurrency: Concurrency;
  /**
   * Rules each scope is currently tripping, alerted once: a scope hammering a limit alerts once
   * per crossing, and re-arms when a request of its passes again.
   */
  private readonly crossing = new Map<ScopeState, Set<string>>();
  private swept_ms = Number.NEGATIVE_INFINITY;

  constructor(
    private config: Config,
    private readonly alert: AlertSink,
  ) {
    const config_of = (): Config => this.config;
    this.denials = new DenialBreakers(config_of, alert);
    this.burn = new BurnBreakers(config_of, alert);
    this.loops = new LoopDetector(config_of, alert);
    this.amplification = new AmplificationDetector(config_of, alert);
    this.fan = new Fanout(config_of, this);
    this.rate = new CallRate(this);
    this.concurrency = new Concurrency(config_of, this);
  }

  setConfig(config: Config): void {
    this.config = config;
    this.burn.reconfigure();
  }

  /** Reservations in flight per scope (agent and task limits read it). */
  get inflight(): ReadonlyMap<ScopeState, number> {
    return this.concurrency.inflight;
  }

  /** Children each agent delegated to. */
  get children(): ReadonlyMap<ScopeState, ReadonlySet<ScopeState>> {
    return this.fan.children;
  }

  // ------------------------------------------------------------ breakers

  /** The scope's breaker at `now` (a burn-rate breaker shows as open). Pure: writes nothing. */
  breakerState(scope: ScopeState, now: number): Breaker {
    if (this.burn.openUntil(scope, now) > 0) return 'open';
    return this.denials.state(scope, now);
  }

  /** `fleet`: whose breaker counts this agent with its siblings (default its user; a key's scope for a key-bound agent). */
  recordDenial(chain: readonly ScopeState[], code: DenyCode, now: number, fleet?: ScopeState): void {
    this.denials.recordDenial(chain, code, now, fleet);
  }

  recordGrant(chain: readonly ScopeState[], now: number, fleet?: ScopeState): void {
    // A granted request passed every rule of its chain: each may alert again on its next crossing.
    if (this.crossing.size > 0) for (const s of chain) this.crossing.delete(s);
    this.denials.recordGrant(chain, now, fleet);
  }

  /**
   * Spend landed on every scope of `chain`: trips the burn-rate breaker of a task or agent whose
   * spend within the window passed the threshold. `costNano` is the amount; without it, what
   * each scope's BurnMeter last recorded (the engine adds to the meters just before).
   */
  spent(chain: readonly ScopeState[], now: number, costNano?: number): void {
    this.burn.spent(chain, now, (s) => costNano ?? s.burn.last_added);
  }

  // ------------------------------------------------------------ alerts once per crossing

  /** Alerts `rule` on `scope` unless it is already alerted and has not passed since. */
  notify(scope: ScopeState, rule: string, level: AlertLevel, kind: AlertKind, message: string): void {
    let rules = this.crossing.get(scope);
    if (!rules) this.crossing.set(scope, (rules = new Set()));
    if (rules.has(rule)) return;
    rules.add(rule);
    this.alert(level, kind, scope.id, message);
  }

  rearm(scope: ScopeState, rule: string): void {
    const rules = this.crossing.get(scope);
    if (!rules?.delete(rule)) return;
    if (rules.size === 0) this.crossing.delete(scope);
  }

  // ------------------------------------------------------------ the gate

  /**
   * The first rule that refuses this reservation, or undefined to go on to budget checks. The
   * engine answers the request (recordGrant or recordDenial) before it gates another, or parks
   * it for the operator and re-gates the same `frame` object when the operator answers: a
   * half-open breaker's trial is that object.
   */
  gate(chain: readonly ScopeState[], frame: Frame, costUsd: () => number, now: number, limitsOf: (s: ScopeState) => { callsPerMin?: number | undefined }, fleet?: ScopeState): Refusal | undefined {
    const agent = chain[chain.length - 1];
    if (!agent) return undefined;
    // Breakers first: an open breaker refuses without looking further.
    const breaker = this.burn.refuse(chain, now) ?? this.denials.admit(chain, frame, now, fleet);
    if (breaker) return breaker;
    const tool = toolRule(this.config.tools, agent, frame.tool, costUsd);
    if (tool) {
      if (!tool.confirm) this.notify(agent, 'tool', 'warning', 'tool', `tool refused: ${tool.message}. Change the agent's tools or the \`tools\` policy if it should be allowed.`);
      return tool;
    }
    return (
      this.rate.check(chain, now, limitsOf) ??
      this.concurrency.check(chain, agent) ??
      this.loops.check(agent, frame, now) ??
      this.amplification.check(agent, frame.input_tokens, now)
    );
  }

  // ------------------------------------------------------------ bookkeeping from the engine

  /** A reservation was granted: count the call and the in-flight slot. */
  granted(chain: readonly ScopeState[], now: number): void {
    this.rate.record(chain, now);
    this.concurrency.granted(chain);
  }

  settled(chain: readonly ScopeState[]): void {
    this.concurrency.settled(chain);
  }

  /** Fan-out limits for a delegation from `parent` (whose chain is given) to `child`. */
  fanout(chain: readonly ScopeState[], parent: ScopeState, child: ScopeState): Refusal | undefined {
    return this.fan.check(chain, parent, child);
  }

  adopt(parent: ScopeState, child: ScopeState): void {
    this.fan.adopt(parent, child);
  }

  /** The child no longer counts toward its parent's fan-out (it left, or its delegation ended unused). */
  release(child: ScopeState): void {
    this.fan.release(child);
  }

  // ------------------------------------------------------------ time and memory

  /**
   * The time-based transitions at `now`: open → half-open, burn-rate cooldowns ending, and (at
   * most once a second) stale loop, amplification and call-rate entries dropped. Returns the
   * scopes whose breaker state changed by time alone, for the live feed.
   */
  tick(now: number): ScopeState[] {
    const changed: ScopeState[] = [];
    const sweep = now - this.swept_ms >= SWEEP_MS;
    this.denials.tick(now, changed);
    this.burn.tick(now, changed, sweep);
    if (sweep) {
      this.swept_ms = now;
      this.loops.sweep(now);
      this.amplification.sweep(now);
      this.rate.sweep(now);
    }
    return changed;
  }

  private parts(): PerScope[] {
    return [this.denials, this.burn, this.loops, this.amplification, this.fan, this.rate, this.concurrency];
  }

  /**
   * True when forgetting `scope` would change no later decision: no open or undecided breaker
   * (a closed one's denial count is forgotten `reset` after its last denial), no spend inside
   * the burn-rate window, nothing in flight, no children and no parent counting it, no call
   * within the last minute, no loop or amplification run inside its window. Pure.
   */
  isQuiet(scope: ScopeState, now: number): boolean {
    return this.parts().every((p) => p.isQuiet(scope, now));
  }

  /** Drops everything remembered about `scope` (the engine evicts it); a child leaves its parent's count. */
  forget(scope: ScopeState): void {
    for (const p of this.parts()) p.forget(scope);
    this.crossing.delete(scope);
  }
}
