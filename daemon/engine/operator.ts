import { usdToNano } from '../../shared/money/money.js';
import type { GrantRequest, KillRequest, OperatorFrame, ResumeRequest } from '../../shared/protocol/operator.js';
import { COST, TOKENS, addInto, type Deltas } from './deltas.js';
import { formatNano, type Engine } from './engine.js';
import { GLOBAL, isScopeId, type ScopeId } from './scope.js';
import type { ConnId, ScopeState } from './state.js';
import { promptsJson, statusJson } from './status.js';

/** Operator commands: kill / resume / grant / once / deny, and the status and prompt views. */
export function handleOperator(engine: Engine, conn: ConnId, frame: OperatorFrame, actor: string): void {
  const ok = (message: string, extra: Record<string, unknown> = {}): void =>
    engine.send(conn, { type: 'result', id: frame.id, ok: true, message, ...extra });
  const fail = (message: string): void => engine.send(conn, { type: 'error', id: frame.id, code: 'INVALID', message });
  switch (frame.type) {
    case 'subscribe':
      // The shell keeps the subscriber list and sends the feed; the engine only acknowledges.
      ok('subscribed');
      return;
    case 'status':
      ok('ok', { status: statusJson(engine) });
      return;
    case 'prompts':
      ok('ok', { prompts: promptsJson(engine) });
      return;
    case 'kill':
      ok(kill(engine, frame, actor));
      return;
    case 'resume':
      if (!engine.ledger.writable) return fail(`ledger: cannot be written (${engine.ledger.error ?? 'unknown error'}); a resume must be recorded before it takes effect — free disk space and retry`);
      ok(resume(engine, frame, actor));
      return;
    case 'grant': {
      if (!engine.ledger.writable) return fail(`ledger: cannot be written (${engine.ledger.error ?? 'unknown error'}); a grant must be recorded before it takes effect — free disk space and retry`);
      const r = grant(engine, frame, actor);
      if (r.ok) ok(r.message);
      else fail(r.message);
      return;
    }
    case 'deny': {
      const p = engine.prompts.get(frame.prompt);
      if (!p) {
        fail(`prompt: no pending prompt ${frame.prompt}`);
        return;
      }
      engine.dropPrompt(p);
      engine.deny(p.conn, p.request.id, 'APPROVAL_DENIED', p.scope.id, `the operator denied: ${p.reason}`);
      engine.emit({ type: 'action', row: { ts: engine.now, kind: 'prompt_answer', scope: p.scope.id, actor, data: { prompt: p.id, answer: 'deny' } } });
      ok(`denied ${p.id} (${p.agent.id})`);
      return;
    }
    default:
      frame satisfies never;
  }
}

function under(chain: readonly ScopeState[], target: ScopeState): boolean {
  return chain.includes(target);
}

export function kill(engine: Engine, frame: Pick<KillRequest, 'scope' | 'all' | 'reason'>, actor: string): string {
  const id = (frame.all ? GLOBAL : frame.scope) as ScopeId;
  const target = engine.scopes.get(id) ?? engine.scope(id, id === GLOBAL ? null : engine.scope(GLOBAL, null));
  const reason = frame.reason ?? 'killed by the operator';
  target.killed = { reason, at_ms: engine.now };
  for (const s of engine.scopes.values()) engine.changed.add(s);
  engine.emit({ type: 'action', row: { ts: engine.now, kind: 'kill', scope: id, actor, data: { reason } } });
  let agents = 0;
  for (const c of engine.conns.values()) {
    if (c.agent && under(c.chain, target)) {
      agents += 1;
      engine.send(c.id, { type: 'kill', scope: id, reason });
    }
  }
  for (const p of [...engine.prompts.values()]) {
    const c = engine.conns.get(p.conn);
    if (c && under(c.chain, target)) {
      engine.dropPrompt(p);
      engine.deny(p.conn, p.request.id, 'KILLED', id, `${id} was killed: ${reason}`);
    }
  }
  engine.alert('critical', 'kill', id, `${id} killed (${reason}): ${agents} connected agent${agents === 1 ? '' : 's'} stopped`);
  return `killed ${id}: reached ${agents} agent${agents === 1 ? '' : 's'}`;
}

export function resume(engine: Engine, frame: Pick<ResumeRequest, 'scope' | 'all'>, actor: string): string {
  const targets = frame.all ? [...engine.scopes.values()].filter((s) => s.killed) : [engine.scopes.get(frame.scope as ScopeId)].filter((s): s is ScopeState => s !== undefined && s.killed !== null);
  // Every scope below a resumed one changes state (killed → running): the feed re-sends them all, as on a kill.
  if (targets.length > 0) for (const s of engine.scopes.values()) engine.changed.add(s);
  for (const s of targets) {
    s.killed = null;
    engine.emit({ type: 'action', row: { ts: engine.now, kind: 'resume', scope: s.id, actor, data: {} } });
    engine.alert('info', 'resume', s.id, `${s.id} resumed`);
  }
  if (targets.length === 0) return frame.all ? 'nothing was killed' : `${frame.scope} was not killed`;
  return `resumed ${targets.map((s) => s.id).join(', ')}`;
}

/** Raises every limit of `scope` in the granted dimensions; an audited ledger row, not a config edit. */
function raise(engine: Engine, scope: ScopeState, deltas: Deltas, actor: string, prompt?: string): string | null {
  const dims = new Set(engine.limitsOf(scope).checks.filter((c) => c.source === 'config').map((c) => c.dim));
  const applied: Deltas = {};
  for (const dim in deltas) if (dims.has(dim)) applied[dim] = deltas[dim] ?? 0;
  if (Object.keys(applied).length === 0) return null;
  addInto(scope.grants, applied);
  engine.invalidateLimits();
  engine.changed.add(scope);
  engine.emit({
    type: 'action',
    row: { ts: engine.now, kind: 'grant', scope: scope.id, actor, data: { cost_nano: applied[COST] ?? 0, tokens: applied[TOKENS] ?? 0, ...(prompt ? { prompt } : {}) } },
  });
  const parts = [applied[COST] !== undefined ? `+${formatNano(applied[COST])}` : '', applied[TOKENS] !== undefined ? `+${applied[TOKENS]} tokens` : ''].filter(Boolean);
  engine.alert('info', 'grant', scope.id, `${actor} granted ${parts.join(' ')} on ${scope.id}`);
  return parts.join(' ');
}

function grantDeltas(engine: Engine, frame: GrantRequest): Deltas {
  const d: Deltas = {};
  if (frame.add_usd !== undefined) d[COST] = usdToNano(frame.add_usd);
  if (frame.add_tokens !== undefined) d[TOKENS] = frame.add_tokens;
  if (Object.keys(d).length === 0) d[COST] = usdToNano(engine.config.approvals.increment_usd);
  return d;
}

type GrantResult = { ok: true; message: string } | { ok: false; message: string };

function grant(engine: Engine, frame: GrantRequest, actor: string): GrantResult {
  const prompt = engine.prompts.get(frame.target);
  if (prompt) {
    if (frame.once || prompt.kind === 'tool') {
      engine.emit({ type: 'action', row: { ts: engine.now, kind: 'prompt_answer', scope: prompt.scope.id, actor, data: { prompt: prompt.id, answer: 'once' } } });
      engine.retryPrompt(prompt, { onceAt: prompt.scope });
      return { ok: true, message: `allowed ${prompt.id} once` };
    }
    const raised = raise(engine, prompt.scope, grantDeltas(engine, frame), actor, prompt.id);
    if (raised === null) return { ok: false, message: `target: ${prompt.scope.id} has no limit in the granted dimension` };
    engine.emit({ type: 'action', row: { ts: engine.now, kind: 'prompt_answer', scope: prompt.scope.id, actor, data: { prompt: prompt.id, answer: 'grant' } } });
    engine.retryPrompt(prompt, { noPrompt: true });
    retryScopePrompts(engine, prompt.scope);
    return { ok: true, message: `granted ${raised} on ${prompt.scope.id} for ${prompt.id}` };
  }
  if (/^p\d+-\d+$/.test(frame.target)) return { ok: false, message: `target: no pending prompt ${frame.target}` };
  if (!isScopeId(frame.target)) return { ok: false, message: `target: ${frame.target} is neither a pending prompt nor a scope (global or kind:id)` };
  if (frame.once) return { ok: false, message: 'once: applies to a pending prompt, not a scope' };
  const scope = engine.scopes.get(frame.target as ScopeId) ?? engine.scope(frame.target as ScopeId, engine.scope(GLOBAL, null));
  const raised = raise(engine, scope, grantDeltas(engine, frame), actor);
  if (raised === null) return { ok: false, message: `target: ${scope.id} has no limit in the granted dimension to raise` };
  retryScopePrompts(engine, scope);
  return { ok: true, message: `granted ${raised} on ${scope.id}` };
}

function retryScopePrompts(engine: Engine, scope: ScopeState): void {
  for (const p of [...engine.prompts.values()]) if (p.scope === scope) engine.retryPrompt(p, {});
}
