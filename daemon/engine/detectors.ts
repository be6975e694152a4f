import ms from 'ms';
import type { Reserve } from '../../shared/protocol/agent.js';
import type { AlertSink, ConfigOf, Notifier, PerScope, Refusal } from './runaway-types.js';
import { scopeKind } from './scope.js';
import type { ScopeState } from './state.js';

/**
 * Runaway detectors (SPEC §3): the loop detector (the same call N times in a row), context
 * amplification (inputs swelling call after call) and fan-out (too many or too deep children).
 */

export type CallShape = Pick<Reserve, 'tool' | 'args_hash' | 'model' | 'input_tokens'>;

/** Inputs remembered per agent for amplification: a run longer than this only shifts. */
const MAX_INPUTS = 64;

interface LoopRun {
  signature: string;
  count: number;
  first_ms: number;
  alerted: boolean;
}

export class LoopDetector implements PerScope {
  /** One run per agent: the call it repeats, how often, since when. */
  private readonly runs = new Map<ScopeState, LoopRun>();

  constructor(
    private readonly config: ConfigOf,
    private readonly alert: AlertSink,
  ) {}

  private signature(frame: CallShape): string | undefined {
    if (frame.tool !== undefined) return `tool:${frame.tool}:${frame.args_hash ?? ''}`;
    if (this.config().detectors.loop.match_input_size && frame.model !== undefined && frame.input_tokens !== undefined && frame.input_tokens > 0) {
      return `model:${frame.model}:${frame.input_tokens}`;
    }
    return undefined;
  }

  check(agent: ScopeState, frame: CallShape, now: number): Refusal | undefined {
    const cfg = this.config().detectors.loop;
    const sig = this.signature(frame);
    if (sig === undefined || cfg.repeats === 0 || (frame.tool !== undefined && cfg.allow.includes(frame.tool))) {
      this.runs.delete(agent);
      return undefined;
    }
    let run = this.runs.get(agent);
    if (!run || run.signature !== sig || now - run.first_ms > cfg.window) {
      run = { signature: sig, count: 0, first_ms: now, alerted: false };
      this.runs.set(agent, run);
    }
    run.count += 1;
    if (run.count < cfg.repeats) return undefined;
    const what = frame.tool !== undefined ? `tool ${frame.tool} with the same arguments` : `model ${frame.model} with the same ${frame.input_tokens}-token input`;
    if (!run.alerted) {
      run.alerted = true;
      this.alert('critical', 'loop', agent.id, `loop detected: ${agent.id} asked for ${what} ${run.count} times in a row within ${ms(cfg.window)}; refusing LOOP_DETECTED until it changes. Kill it (x) or fix its retry logic.`);
    }
    return { code: 'LOOP_DETECTED', scope: agent, message: `${agent.id} repeated ${what} ${run.count} times in a row (detectors.loop.repeats ${cfg.repeats})` };
  }

  /** A run older than the window starts over on the next call anyway. */
  sweep(now: number): void {
    for (const [s, run] of this.runs) if (now - run.first_ms > this.config().detectors.loop.window) this.runs.delete(s);
  }

  isQuiet(scope: ScopeState, now: number): boolean {
    const run = this.runs.get(scope);
    return !run || now - run.first_ms > this.config().detectors.loop.window;
  }

  forget(scope: ScopeState): void {
    this.runs.delete(scope);
  }
}

export class AmplificationDetector implements PerScope {
  /** Per agent: the current run of growing inputs within the window, at most MAX_INPUTS long. */
  private readonly inputs = new Map<ScopeState, Array<{ at: number; input: number }>>();
  /** Agents already alerted for their current run. */
  private readonly amplified = new Set<ScopeState>();

  constructor(
    private readonly config: ConfigOf,
    private readonly alert: AlertSink,
  ) {}

  check(agent: ScopeState, input: number | undefined, now: number): Refusal | undefined {
    const cfg = this.config().detectors.amplification;
    if (input === undefined || input <= 0) return undefined;
    let list = this.inputs.get(agent);
    if (!list) this.inputs.set(agent, (list = []));
    const last = list[list.length - 1];
    // Only a run of growing inputs counts: a smaller input starts a new run.
    if (last && input < last.input) list.length = 0;
    list.push({ at: now, input });
    while (list.length > 0 && (list[0]?.at ?? now) < now - cfg.window) list.shift();
    if (list.length > MAX_INPUTS) list.shift();
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

  /** Drops runs whose newest input has left the window: the next call starts a new run. */
  sweep(now: number): void {
    for (const s of this.inputs.keys()) if (this.isQuiet(s, now)) this.forget(s);
  }

  isQuiet(scope: ScopeState, now: number): boolean {
    const list = this.inputs.get(scope);
    const newest = list?.[list.length - 1];
    return !newest || newest.at < now - this.config().detectors.amplification.window;
  }

  forget(scope: ScopeState): void {
    this.inputs.delete(scope);
    this.amplified.delete(scope);
  }
}

/** Fan-out: which children each agent delegated to, for `detectors.fanout`. */
export class Fanout implements PerScope {
  readonly children = new Map<ScopeState, Set<ScopeState>>();
  private readonly parentOf = new Map<ScopeState, ScopeState>();

  constructor(
    private readonly config: ConfigOf,
    private readonly notifier: Notifier,
  ) {}

  /** Fan-out limits for a delegation from `parent` (whose chain is given) to `child`. */
  check(chain: readonly ScopeState[], parent: ScopeState, child: ScopeState): Refusal | undefined {
    const cfg = this.config().detectors.fanout;
    const kids = this.children.get(parent);
    if (cfg.children > 0 && !kids?.has(child) && (kids?.size ?? 0) >= cfg.children) {
      this.notifier.notify(parent, 'fanout', 'critical', 'fanout', `fan-out limit: ${parent.id} tried to delegate to more than ${cfg.children} children; refused FANOUT_LIMIT. Check why it spawns so many sub-agents, or raise detectors.fanout.children.`);
      return { code: 'FANOUT_LIMIT', scope: parent, message: `${parent.id} already has ${kids?.size ?? 0} children (detectors.fanout.children ${cfg.children})` };
    }
    const depth = chain.filter((s) => scopeKind(s.id) === 'agent').length;
    if (cfg.depth > 0 && depth > cfg.depth) {
      this.notifier.notify(parent, 'fanout', 'critical', 'fanout', `fan-out limit: delegation from ${parent.id} would nest ${depth} levels deep (max depth ${cfg.depth}); refused FANOUT_LIMIT. Sub-agents spawning sub-agents is the classic runaway.`);
      return { code: 'FANOUT_LIMIT', scope: parent, message: `delegation would nest ${depth} levels below the task (detectors.fanout.depth ${cfg.depth})` };
    }
    return undefined;
  }

  adopt(parent: ScopeState, child: ScopeState): void {
    const before = this.parentOf.get(child);
    if (before && before !== parent) this.release(child);
    this.parentOf.set(child, parent);
    this.notifier.rearm(parent, 'fanout');
    let kids = this.children.get(parent);
    if (!kids) this.children.set(parent, (kids = new Set()));
    kids.add(child);
  }

  /** The child no longer counts toward its parent's fan-out (it left, or its delegation ended unused). */
  release(child: ScopeState): void {
    const parent = this.parentOf.get(child);
    if (!parent) return;
    this.parentOf.delete(child);
    const kids = this.children.get(parent);
    kids?.delete(child);
    if (kids?.size === 0) this.children.delete(parent);
  }

  /** A parent with children, or a child counted by its parent, is remembered. */
  isQuiet(scope: ScopeState): boolean {
    return !this.children.has(scope) && !this.parentOf.has(scope);
  }

  forget(scope: ScopeState): void {
    this.release(scope);
    for (const child of this.children.get(scope) ?? []) this.parentOf.delete(child);
    this.children.delete(scope);
  }
}
