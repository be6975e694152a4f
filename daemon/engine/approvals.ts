import { usdToNano } from '../../shared/money/money.js';
import type { Reserve } from '../../shared/protocol/agent.js';
import { alert, deny, emit, limitsOf, markChanged, nextId, periods, send } from './context.js';
import { COST, TOKENS } from './deltas.js';
import { MAX_PROMPTS, MAX_PROMPTS_PER_AGENT, MAX_PROMPTS_PER_SESSION, MAX_PROMPTS_PER_USER, type EngineState } from './engine-state.js';
import { scopeKind } from './scope.js';
import { askDeltas, fits, type CallAsk } from './fits.js';
import { formatNano } from './messages.js';
import { reserve, type RetryOptions } from './reservations.js';
import type { LiveConnection, Prompt, PromptId, ScopeState } from './state.js';

/**
 * Overdraft prompts (SPEC §3): pending → granted / allowed once / denied / timed out, every
 * transition a ledger row; and the critical grace that may stand in for one.
 */

/**
 * Why no more prompts may wait for this agent, or null. Bounded per agent and per session as well
 * as in all, so that one agent's flood is refused while another's request still reaches the operator.
 */
function promptsCrowded(st: EngineState, conn: LiveConnection): string | null {
  if (st.prompts.size >= MAX_PROMPTS) return `${MAX_PROMPTS} prompts already wait for the operator`;
  const session = conn.chain.find((s) => scopeKind(s.id) === 'session');
  const user = conn.chain.find((s) => scopeKind(s.id) === 'user');
  let agent = 0;
  let inSession = 0;
  let inUser = 0;
  let withKey = 0;
  for (const p of st.prompts.values()) {
    if (p.agent === conn.agent) agent += 1;
    if (session !== undefined && p.session === session) inSession += 1;
    if (user !== undefined && p.user === user) inUser += 1;
    if (conn.key !== null && p.key === conn.key) withKey += 1;
  }
  if (agent >= MAX_PROMPTS_PER_AGENT) return `${MAX_PROMPTS_PER_AGENT} prompts of ${conn.agent.id} already wait for the operator`;
  if (inSession >= MAX_PROMPTS_PER_SESSION) return `${MAX_PROMPTS_PER_SESSION} prompts of ${session?.id ?? 'this session'} already wait for the operator`;
  if (withKey >= MAX_PROMPTS_PER_SESSION) return `${MAX_PROMPTS_PER_SESSION} prompts of key ${conn.key?.label ?? ''} already wait for the operator`;
  if (inUser >= MAX_PROMPTS_PER_USER) return `${MAX_PROMPTS_PER_USER} prompts of ${user?.id ?? 'this user'} already wait for the operator`;
  return null;
}

/** Parks a request for the operator: an approval-mode limit (`budget`) or a `confirm` tool. */
export function createPrompt(st: EngineState, conn: LiveConnection, frame: Reserve, kind: Prompt['kind'], scope: ScopeState, reason: string, ask: CallAsk, desired: number): void {
  const crowded = promptsCrowded(st, conn);
  if (crowded !== null) {
    deny(st, conn.id, frame.id, kind === 'budget' ? 'BUDGET_EXCEEDED' : 'TOOL_DENIED', scope.id, `${reason}; ${crowded} — answer or deny those first`);
    return;
  }
  const deltas = askDeltas(ask, desired);
  const prompt: Prompt = {
    id: nextId(st, 'p') as PromptId,
    kind,
    scope,
    conn: conn.id,
    agent: conn.agent,
    session: conn.chain.find((s) => scopeKind(s.id) === 'session') ?? null,
    user: conn.chain.find((s) => scopeKind(s.id) === 'user') ?? null,
    key: conn.key,
    request: frame,
    created_ms: st.now,
    expires_ms: st.now + st.config.approvals.timeout,
    reason,
    cost_nano: deltas[COST] ?? 0,
    tokens: deltas[TOKENS] ?? 0,
  };
  st.prompts.set(prompt.id, prompt);
  markChanged(st, prompt.agent);
  send(st, conn.id, { type: 'pending', id: frame.id, prompt: prompt.id });
  emit(st, {
    type: 'action',
    row: { ts: st.now, kind: 'prompt', scope: scope.id, actor: prompt.agent.id, data: { prompt: prompt.id, kind, reason, cost_nano: prompt.cost_nano, tokens: prompt.tokens, tool: frame.tool ?? null } },
  });
  const what = kind === 'budget' ? `approval needed: ${prompt.agent.id} asks ${formatNano(prompt.cost_nano)}` : `confirmation needed: ${prompt.agent.id}`;
  alert(st, 'warning', 'prompt', scope.id, `${what} — ${reason}`);
}

/** Removes a prompt; its agent's status (waiting) changes with it. */
export function dropPrompt(st: EngineState, p: Prompt): void {
  st.prompts.delete(p.id);
  markChanged(st, p.agent);
}

/** Re-runs a parked request after the operator answered its prompt. */
export function retryPrompt(st: EngineState, prompt: Prompt, opts: RetryOptions): void {
  dropPrompt(st, prompt);
  const conn = st.conns.get(prompt.conn);
  if (conn?.state !== 'live') return;
  reserve(st, conn, prompt.request, prompt.kind === 'tool' ? { ...opts, confirmed: true } : opts);
}

/** Unanswered prompts time out: denied APPROVAL_TIMEOUT. */
export function expirePrompts(st: EngineState): void {
  for (const p of [...st.prompts.values()]) {
    if (p.expires_ms > st.now) continue;
    dropPrompt(st, p);
    deny(st, p.conn, p.request.id, 'APPROVAL_TIMEOUT', p.scope.id, `no operator answer within ${Math.round(st.config.approvals.timeout / 1000)}s: ${p.reason}`);
    emit(st, { type: 'action', row: { ts: st.now, kind: 'prompt_answer', scope: p.scope.id, actor: 'daemon', data: { prompt: p.id, answer: 'timeout' } } });
  }
}

/**
 * A `critical` request may use the configured grace once per scope, on approval-mode limits
 * only (SPEC §3): never on a hard limit or a delegated cap. The largest output it allows, or
 * undefined when even the grace is not enough.
 */
export function tryGrace(st: EngineState, chain: readonly ScopeState[], ask: CallAsk, desired: number, onceAt: ScopeState | undefined): number | undefined {
  const g = st.config.approvals.grace;
  const graceCost = usdToNano(g.cost_usd);
  const ev = fits(chain, ask, desired, {
    periods: periods(st),
    limitsOf: (s) => limitsOf(st, s).checks,
    skipApprovalAt: onceAt,
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
