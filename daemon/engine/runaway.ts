import type { Breaker } from '../../shared/protocol/operator.js';
import type { DenyCode, Reserve } from '../../shared/protocol/agent.js';
import ms from 'ms';
import type { Config } from '../config/schema.js';
import { scopeKind } from './scope.js';
import type { ScopeState } from './state.js';

/**
 * Runaway protection (SPEC §3): denial breakers per agent and user, burn-rate breakers per
 * scope, the loop and context-amplification detectors, fan-out, concurrency and call-rate
 * limits, tool permissions. Pure state keyed by scope; the engine asks `gate` before budget.
 */

export interface Refusal {
  readonly code: DenyCode;
  readonly scope: ScopeState;
  readonly message: string;
  readonly retry_after_ms?: number;
  /** A `confirm` tool: ask the operator instead of refusing. */
  readonly confirm?: boolean;
}

interface DenialBreaker {
  consecutive: number;
  state: Breaker;
  open_until: number;
  successes: number;
}

interface LoopState {
  signature: string;
  count: number;
  first_ms: number;
  alerted: boolean;
}

/** Denials that say something about the agent's behaviour; operator decisions and kills do not. */
const COUNTED: ReadonlySet<DenyCode> = new Set(['BUDGET_EXCEEDED', 'RATE_LIMITED', 'LOOP_DETECTED', 'FANOUT_LIMIT', 'TOOL_DENIED']);

const MAX_TRACKED_CALLS = 10_000;

export type AlertKind = 'breaker' | 'loop' | 'amplification' | 'fanout' | 'rate' | 'tool' | 'wall_time';
export type AlertSink = (level: 'warning' | 'critical', kind: AlertKind, scope: string, message: string) => void;

/** `90s`, `10m`, `1h`: durations in alerts as the config writes them. */
const span = (msValue: number): string => ms(msValue);

export class Runaway {
  private readonly breakers = new Map<ScopeState, DenialBreaker>();
  private readonly burnOpen = new Map<ScopeState, number>();
  private readonly loops = new Map<ScopeState, LoopState>();
  private readonly inputs = new Map<ScopeState, Array<{ at: number; input: number }>>();
  private readonly amplified = new Set<ScopeState>();
  private readonly calls = new Map<ScopeState, number[]>();
  readonly inflight = new Map<ScopeState, number>();
  readonly children = new Map<ScopeState, Set<ScopeState>>();
  private readonly parentOf = new Map<ScopeState, ScopeState>();
  /**
   * Scopes whose breaker is open: it turns half-open with time alone, so the live feed re-sends
   * them until it sees that (later changes come with a request, which re-sends them anyway).
   */
  readonly tripped = new Set<ScopeState>();
  /**
   * Rules each scope is currently tripping, alerted once: a scope hammering a limit alerts once
   * per crossing, and re-arms when a request of its passes again.
   */
  private readonly crossing = new Map<ScopeState, Set<string>>();

  constructor(
    private config: Config,
    private readonly alert: AlertSink,
  ) {}

  setConfig(config: Config): void {
    this.config = config;
  }

  // ------------------------------------------------------------ denial breakers

  private breakerOf(scope: ScopeState): DenialBreaker {
    let b = this.breakers.get(scope);
    if (!b) this.breakers.set(scope, (b = { consecutive: 0, state: 'closed', open_until: 0, successes: 0 }));
    return b;
  }

  /** open → half-open once the reset time has passed. */
  breakerState(scope: ScopeState, now: number): Breaker {
    const b = this.breakers.get(scope);
    if (!b) return this.burnOpenUntil(scope, now) > now ? 'open' : 'closed';
    if (b.state === 'open' && now >= b.open_until) {
      b.state = 'half-open';
      b.successes = 0;
    }
    if (b.state === 'closed' && this.burnOpenUntil(scope, now) > now) return 'open';
    return b.state;
  }

  private burnOpenUntil(scope: ScopeState, now: number): number {
    const until = this.burnOpen.get(scope) ?? 0;
    if (until !== 0 && until <= now) this.burnOpen.delete(scope);
    return until;
  }

  private breakerScopes(chain: readonly ScopeState[]): ScopeState[] {
    const out: ScopeState[] = [];
    for (const s of chain) {
      const kind = scopeKind(s.id);
      if (kind === 'user') out.push(s);
    }
    const agent = chain[chain.length - 1];
    if (agent) out.push(agent);
    return out;
  }

  recordDenial(chain: readonly ScopeState[], code: DenyCode, now: number): void {
    if (!COUNTED.has(code)) return;
    const d = this.config.breakers.denials;
    for (const s of this.breakerScopes(chain)) {
      const b = this.breakerOf(s);
      const state = this.breakerState(s, now);
      const threshold = scopeKind(s.id) === 'user' ? d.user_threshold : d.threshold;
      if (state === 'half-open') {
        this.trip(s, b, now, `a trial request under ${s.id} was denied (${code}) while half-open`);
        continue;
      }
      if (state === 'open') continue;
      b.consecutive += 1;
      if (threshold > 0 && b.consecutive >= threshold) this.trip(s, b, now, `${b.consecutive} consecutive denials under ${s.id}, the last ${code}`);
    }
  }

  private trip(scope: ScopeState, b: DenialBreaker, now: number, why: string): void {
    const reset = this.config.breakers.denials.reset;
    b.state = 'open';
    this.tripped.add(scope);
    b.open_until = now + reset;
    b.consecutive = 0;
    b.successes = 0;
    this.alert('critical', 'breaker', scope.id, `circuit breaker opened: ${why}; requests are refused CIRCUIT_OPEN for ${span(reset)}, then ${this.config.breakers.denials.half_open} trial requests decide. Check the agent's logic or raise its budget.`);
  }

  /** Alerts `rule` on `scope` unless it is already alerted and has not passed since. */
  notify(scope: ScopeState, rule: string, level: 'warning' | 'critical', kind: AlertKind, message: string): void {
    let rules = this.crossing.get(scope);
    if (!rules) this.crossing.set(scope, (rules = new Set()));
    if (rules.has(rule)) return;
    rules.add(rule);
    this.alert(level, kind, scope.id, message);
  }

  private rearm(scope: ScopeState, rule: string): void {
    const rules = this.crossing.get(scope);
    if (!rules?.delete(rule)) return;
    if (rules.size === 0) this.crossing.delete(scope);
  }

  recordGrant(chain: readonly ScopeState[], now: number): void {
    // A granted request passed every rule of its chain: each may alert again on its next crossing.
    if (this.crossing.size > 0) for (const s of chain) this.crossing.delete(s);
    for (const s of this.breakerScopes(chain)) {
      const b = this.breakers.get(s);
      if (!b) continue;
      const state = this.breakerState(s, now);
      b.consecutive = 0;
      if (state === 'half-open') {
        b.successes += 1;
        if (b.successes >= this.config.breakers.denials.half_open) {
          b.state = 'closed';
          b.successes = 0;
        }
      }
    }
  }

  // ------------------------------------------------------------ the gate

  /** The first rule that refuses this reservation, or undefined to go on to budget checks. */
  gate(chain: readonly ScopeState[], frame: Pick<Reserve, 'tool' | 'args_hash' | 'model' | 'input_tokens' | 'cost_usd'>, costUsd: () => number, now: number, limitsOf: (s: ScopeState) => { callsPerMin?: number | undefined }): Refusal | undefined {
    const agent = chain[chain.length - 1];
    if (!agent) return undefined;
    // Breakers first: an open breaker refuses without looking further.
    for (const s of chain) {
      const burnUntil = this.burnOpenUntil(s, now);
      if (burnUntil > now) return { code: 'CIRCUIT_OPEN', scope: s, message: `burn-rate breaker of ${s.id} is open`, retry_after_ms: burnUntil - now };
    }
    for (const s of this.breakerScopes(chain)) {
      const state = this.breakerState(s, now);
      const b = this.breakers.get(s);
      if (state === 'open' && b) return { code: 'CIRCUIT_OPEN', scope: s, message: `circuit breaker of ${s.id} is open after repeated denials`, retry_after_ms: Math.max(1, b.open_until - now) };
    }
    const tool = this.toolRule(agent, frame.tool, costUsd);
    if (tool) {
      if (!tool.confirm) this.notify(agent, 'tool', 'warning', 'tool', `tool refused: ${tool.message}. Change the agent's tools or the \`tools\` policy if it should be allowed.`);
      return tool;
    }
    for (const s of chain) {
      const perMin = limitsOf(s).callsPerMin;
      if (perMin === undefined) continue;
      const list = this.recentCalls(s, now);
      if (list.length >= perMin) {
        const oldest = list[list.length - perMin] ?? now;
        const message = `${s.id} made ${list.length} calls in the last minute; calls_per_min is ${perMin}`;
        this.notify(s, 'calls_per_min', 'warning', 'rate', `rate limit: ${message}; refusing RATE_LIMITED until the rate falls. A flood of calls is often a retry loop: look at the agent, or raise calls_per_min.`);
        return { code: 'RATE_LIMITED', scope: s, message, retry_after_ms: Math.max(1, oldest + 60_000 - now) };
      }
    }
    const conc = this.config.detectors.concurrency;
    for (const s of chain) {
      const kind = scopeKind(s.id);
      const max = kind === 'task' ? conc.task : s === agent ? conc.agent : undefined;
      if (max !== undefined && (this.inflight.get(s) ?? 0) >= max) {
        const message = `${s.id} already has ${this.inflight.get(s)} reservations in flight (concurrency limit ${max})`;
        this.notify(s, 'concurrency', 'warning', 'rate', `concurrency limit: ${message}; refusing RATE_LIMITED until some settle. Check for calls that never commit, or raise detectors.concurrency.`);
        return { code: 'RATE_LIMITED', scope: s, message, retry_after_ms: 1_000 };
      }
    }
    const loop = this.loopRule(agent, frame, now);
    if (loop) return loop;
    return this.amplificationRule(agent, frame.input_tokens, now);
  }

  /** `costUsd` is asked only when a tool has a max cost: most requests never price twice. */
  private toolRule(agent: ScopeState, tool: string | undefined, costUsd: () => number): Refusal | undefined {
    if (tool === undefined) return undefined;
    const tools = this.config.tools;
    const policy = tools[tool] ?? tools.default ?? 'auto';
    const mode = typeof policy === 'string' ? policy : policy.mode;
    if (mode === 'deny') return { code: 'TOOL_DENIED', scope: agent, message: `tool ${tool} is denied by policy${tools[tool] === undefined ? ' (not registered; tools.default is deny)' : ''}` };
    const cost = typeof policy === 'object' && policy.max_cost_usd !== undefined ? costUsd() : 0;
    if (typeof policy === 'object' && policy.max_cost_usd !== undefined && cost > policy.max_cost_usd) {
      return { code: 'TOOL_DENIED', scope: agent, message: `tool ${tool} call of $${cost.toFixed(4)} exceeds its max_cost_usd of $${policy.max_cost_usd}` };
    }
    if (mode === 'confirm') return { code: 'TOOL_DENIED', scope: agent, message: `tool ${tool} needs the operator's confirmation`, confirm: true };
    return undefined;
  }

  private recentCalls(scope: ScopeState, now: number): number[] {
    let list = this.calls.get(scope);
    if (!list) this.calls.set(scope, (list = []));
    let drop = 0;
    while (drop < list.length && (list[drop] ?? 0) <= now - 60_000) drop += 1;
    if (drop > 0) list.splice(0, drop);
    return list;
  }

  private signature(frame: Pick<Reserve, 'tool' | 'args_hash' | 'model' | 'input_tokens'>): string | undefined {
    if (frame.tool !== undefined) return `tool:${frame.tool}:${frame.args_hash ?? ''}`;
    if (this.config.detectors.loop.match_input_size && frame.model !== undefined && frame.input_tokens !== undefined && frame.input_tokens > 0) {
      return `model:${frame.model}:${frame.input_tokens}`;
    }
    return undefined;
  }

  private loopRule(agent: ScopeState, frame: Pick<Reserve, 'tool' | 'args_hash' | 'model' | 'input_tokens'>, now: number): Refusal | undefined {
    const cfg = this.config.detectors.loop;
    const sig = this.signature(frame);
    if (sig === undefined || cfg.repeats === 0 || (frame.tool !== undefined && cfg.allow.includes(frame.tool))) {
      this.loops.delete(agent);
      return undefined;
    }
    let st = this.loops.get(agent);
    if (!st || st.signature !== sig || now - st.first_ms > cfg.window) {
      st = { signature: sig, count: 0, first_ms: now, alerted: false };
      this.loops.set(agent, st);
    }
    st.count += 1;
    if (st.count < cfg.repeats) return undefined;
    const what = frame.tool !== undefined ? `tool ${frame.tool} with the same arguments` : `model ${frame.model} with the same ${frame.input_tokens}-token input`;
    if (!st.alerted) {
      st.alerted = true;
      this.alert('critical', 'loop', agent.id, `loop detected: ${agent.id} asked for ${what} ${st.count} times in a row within ${span(cfg.window)}; refusing LOOP_DETECTED until it changes. Kill it (x) or fix its retry logic.`);
    }
    return { code: 'LOOP_DETECTED', scope: agent, message: `${agent.id} repeated ${what} ${st.count} times in a row (detectors.loop.repeats ${cfg.repeats})` };
  }

  private amplificationRule(agent: ScopeState, input: number | undefined, now: number): Refusal | undefined {
    const cfg = this.config.detectors.amplification;
    if (input === undefined || input <= 0) return undefined;
    let list = this.inputs.get(agent);
    if (!list) this.inputs.set(agent, (list = []));
    const last = list[list.length - 1];
    // Only a run of growing inputs counts: a smaller input starts a new run.
    if (last && input < last.input) list.length = 0;
    list.push({ at: now, input });
    while (list.length > 0 && (list[0]?.at ?? now) < now - cfg.window) list.shift();
    if (list.length > 64) list.shift();
    const first = list[0];
    if (!first || list.length < cfg.min_calls || input < first.input * cfg.factor) {
      this.amplified.delete(agent);
      return undefined;
    }
    const message = `${agent.id}'s input grew ${(input / first.input).toFixed(1)}× over ${list.length} calls (${first.input} → ${input} tokens): each turn re-sends a swelling context`;
    if (!this.amplified.has(agent)) {
      this.amplified.add(agent);
      this.alert('warning', 'amplification', agent.id, `context amplification: ${message}. Summarise or trim its context.`);
    }
    return cfg.action === 'deny' ? { code: 'LOOP_DETECTED', scope: agent, message } : undefined;
  }

  // ------------------------------------------------------------ bookkeeping from the engine

  /** A reservation was granted: count the call and the in-flight slot. */
  granted(chain: readonly ScopeState[], now: number): void {
    for (const s of chain) {
      const list = this.recentCalls(s, now);
      list.push(now);
      if (list.length > MAX_TRACKED_CALLS) list.shift();
      this.inflight.set(s, (this.inflight.get(s) ?? 0) + 1);
    }
  }

  settled(chain: readonly ScopeState[]): void {
    for (const s of chain) {
      const n = (this.inflight.get(s) ?? 0) - 1;
      if (n <= 0) this.inflight.delete(s);
      else this.inflight.set(s, n);
    }
  }

  /** Spend landed: trip the burn-rate breaker of any scope whose window spend passed the threshold. */
  spent(chain: readonly ScopeState[], now: number): void {
    const cfg = this.config.breakers.burn_rate;
    if (cfg.cost_usd === undefined) return;
    const threshold = Math.round(cfg.cost_usd * 1e9);
    for (const s of chain) {
      // Runaways live in tasks and agents; a user's or session's aggregate pace is budgeted by limits.
      const kind = scopeKind(s.id);
      if (kind !== 'task' && kind !== 'agent') continue;
      if (this.burnOpenUntil(s, now) > now) continue;
      const sum = s.burn.sum(now, cfg.window);
      if (sum > threshold) {
        this.burnOpen.set(s, now + cfg.cooldown);
        this.tripped.add(s);
        this.alert(
          'critical',
          'breaker',
          s.id,
          `burn-rate breaker opened: ${s.id} spent $${(sum / 1e9).toFixed(2)} within ${span(cfg.window)} (limit $${cfg.cost_usd} per ${span(cfg.window)}); refusing CIRCUIT_OPEN for ${span(cfg.cooldown)}. Look at what it is doing now: kill it (x) if it drifted, or raise breakers.burn_rate.`,
        );
      }
    }
  }

  /** Fan-out limits for a delegation from `parent` (whose chain is given) to `child`. */
  fanout(chain: readonly ScopeState[], parent: ScopeState, child: ScopeState): Refusal | undefined {
    const cfg = this.config.detectors.fanout;
    const kids = this.children.get(parent);
    if (cfg.children > 0 && !kids?.has(child) && (kids?.size ?? 0) >= cfg.children) {
      this.notify(parent, 'fanout', 'critical', 'fanout', `fan-out limit: ${parent.id} tried to delegate to more than ${cfg.children} children; refused FANOUT_LIMIT. Check why it spawns so many sub-agents, or raise detectors.fanout.children.`);
      return { code: 'FANOUT_LIMIT', scope: parent, message: `${parent.id} already has ${kids?.size ?? 0} children (detectors.fanout.children ${cfg.children})` };
    }
    const depth = chain.filter((s) => scopeKind(s.id) === 'agent').length;
    if (cfg.depth > 0 && depth > cfg.depth) {
      this.notify(parent, 'fanout', 'critical', 'fanout', `fan-out limit: delegation from ${parent.id} would nest ${depth} levels deep (max depth ${cfg.depth}); refused FANOUT_LIMIT. Sub-agents spawning sub-agents is the classic runaway.`);
      return { code: 'FANOUT_LIMIT', scope: parent, message: `delegation would nest ${depth} levels below the task (detectors.fanout.depth ${cfg.depth})` };
    }
    return undefined;
  }

  adopt(parent: ScopeState, child: ScopeState): void {
    const before = this.parentOf.get(child);
    if (before && before !== parent) this.children.get(before)?.delete(child);
    this.parentOf.set(child, parent);
    this.rearm(parent, 'fanout');
    let kids = this.children.get(parent);
    if (!kids) this.children.set(parent, (kids = new Set()));
    kids.add(child);
  }

  /** The child no longer counts toward its parent's fan-out (it left, or its delegation ended unused). */
  release(child: ScopeState): void {
    const parent = this.parentOf.get(child);
    if (!parent) return;
    this.parentOf.delete(child);
    this.children.get(parent)?.delete(child);
  }
}
