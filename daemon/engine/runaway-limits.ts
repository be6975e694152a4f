import type { Config } from '../config/schema.js';
import type { ConfigOf, Notifier, PerScope, Refusal } from './runaway-types.js';
import { scopeKind } from './scope.js';
import type { ScopeState } from './state.js';

/** Limits on how an agent calls rather than what it spends: tool permissions, call rate, concurrency. */

/** Calls remembered per scope for `calls_per_min`: a rate limit above this is not enforced exactly. */
export const MAX_TRACKED_CALLS = 10_000;

const MINUTE_MS = 60_000;

/** `costUsd` is asked only when a tool has a max cost: most requests never price twice. */
export function toolRule(tools: Config['tools'], agent: ScopeState, tool: string | undefined, costUsd: () => number): Refusal | undefined {
  if (tool === undefined) return undefined;
  const policy = tools[tool] ?? tools.default ?? 'auto';
  const mode = typeof policy === 'string' ? policy : policy.mode;
  if (mode === 'deny') return { code: 'TOOL_DENIED', scope: agent, message: `tool ${tool} is denied by policy${tools[tool] === undefined ? ' (not registered; tools.default is deny)' : ''}` };
  if (typeof policy === 'object' && policy.max_cost_usd !== undefined) {
    const cost = costUsd();
    if (cost > policy.max_cost_usd) return { code: 'TOOL_DENIED', scope: agent, message: `tool ${tool} call of $${cost.toFixed(4)} exceeds its max_cost_usd of $${policy.max_cost_usd}` };
  }
  if (mode === 'confirm') return { code: 'TOOL_DENIED', scope: agent, message: `tool ${tool} needs the operator's confirmation`, confirm: true };
  return undefined;
}

/** `calls_per_min`: the times of each scope's granted calls within the last minute. */
export class CallRate implements PerScope {
  private readonly calls = new Map<ScopeState, number[]>();

  constructor(private readonly notifier: Notifier) {}

  /** The scope's calls within the minute before `now`, oldest first (older ones dropped). */
  private recent(scope: ScopeState, now: number): number[] | undefined {
    const list = this.calls.get(scope);
    if (!list) return undefined;
    let drop = 0;
    while (drop < list.length && (list[drop] ?? 0) <= now - MINUTE_MS) drop += 1;
    if (drop > 0) list.splice(0, drop);
    return list;
  }

  check(chain: readonly ScopeState[], now: number, limitsOf: (s: ScopeState) => { callsPerMin?: number | undefined }): Refusal | undefined {
    for (const s of chain) {
      const perMin = limitsOf(s).callsPerMin;
      if (perMin === undefined) continue;
      const list = this.recent(s, now) ?? [];
      if (list.length < perMin) continue;
      const oldest = list[list.length - perMin] ?? now;
      const message = `${s.id} made ${list.length} calls in the last minute; calls_per_min is ${perMin}`;
      this.notifier.notify(s, 'calls_per_min', 'warning', 'rate', `rate limit: ${message}; refusing RATE_LIMITED until the rate falls. A flood of calls is often a retry loop: look at the agent, or raise calls_per_min.`);
      return { code: 'RATE_LIMITED', scope: s, message, retry_after_ms: Math.max(1, oldest + MINUTE_MS - now) };
    }
    return undefined;
  }

  record(chain: readonly ScopeState[], now: number): void {
    for (const s of chain) {
      let list = this.recent(s, now);
      if (!list) this.calls.set(s, (list = []));
      list.push(now);
      if (list.length > MAX_TRACKED_CALLS) list.shift();
    }
  }

  /** Drops scopes whose newest call is over a minute old. */
  sweep(now: number): void {
    for (const s of this.calls.keys()) if (this.isQuiet(s, now)) this.calls.delete(s);
  }

  isQuiet(scope: ScopeState, now: number): boolean {
    const list = this.calls.get(scope);
    return !list || (list[list.length - 1] ?? 0) <= now - MINUTE_MS;
  }

  forget(scope: ScopeState): void {
    this.calls.delete(scope);
  }
}

/** `detectors.concurrency`: reservations in flight per agent and per task. */
export class Concurrency implements PerScope {
  readonly inflight = new Map<ScopeState, number>();

  constructor(
    private readonly config: ConfigOf,
    private readonly notifier: Notifier,
  ) {}

  check(chain: readonly ScopeState[], agent: ScopeState): Refusal | undefined {
    const conc = this.config().detectors.concurrency;
    for (const s of chain) {
      const max = scopeKind(s.id) === 'task' ? conc.task : s === agent ? conc.agent : undefined;
      const n = this.inflight.get(s) ?? 0;
      if (max === undefined || n < max) continue;
      const message = `${s.id} already has ${n} reservations in flight (concurrency limit ${max})`;
      this.notifier.notify(s, 'concurrency', 'warning', 'rate', `concurrency limit: ${message}; refusing RATE_LIMITED until some settle. Check for calls that never commit, or raise detectors.concurrency.`);
      return { code: 'RATE_LIMITED', scope: s, message, retry_after_ms: 1_000 };
    }
    return undefined;
  }

  granted(chain: readonly ScopeState[]): void {
    for (const s of chain) this.inflight.set(s, (this.inflight.get(s) ?? 0) + 1);
  }

  settled(chain: readonly ScopeState[]): void {
    for (const s of chain) {
      const n = (this.inflight.get(s) ?? 0) - 1;
      if (n <= 0) this.inflight.delete(s);
      else this.inflight.set(s, n);
    }
  }

  isQuiet(scope: ScopeState): boolean {
    return !this.inflight.has(scope);
  }

  forget(scope: ScopeState): void {
    this.inflight.delete(scope);
  }
}
