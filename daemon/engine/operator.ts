import { usdToNano } from '../../shared/money/money.js';
import type { GrantRequest, OperatorFrame } from '../../shared/protocol/operator.js';
import { dropPrompt, retryPrompt } from './approvals.js';
import { alert, deny, emit, globalScope, limitsOf, markAllChanged, scope as scopeOf, send } from './context.js';
import { COST, TOKENS, addInto, type Deltas } from './deltas.js';
import type { EngineState } from './engine-state.js';
import { createKey, keyJson, revokeKey } from './keys.js';
import { kill, knownScope, noSuchScope, resume } from './kills.js';
import { formatNano } from './messages.js';
import { GLOBAL, isScopeId } from './scope.js';
import { newScope, type ConnId, type PromptId, type ScopeState } from './state.js';
import { promptsJson, statusJson } from './status.js';

/** Operator commands: kill / resume / grant / once / deny, and the status and prompt views. */
export function handleOperator(engine: EngineState, conn: ConnId, frame: OperatorFrame, actor: string, secret?: string): void {
  const ok = (message: string, extra: Record<string, unknown> = {}): void =>
    send(engine, conn, { type: 'result', id: frame.id, ok: true, message, ...extra });
  const fail = (message: string, code: 'INVALID' | 'NOT_FOUND' | 'CONFIRM_REQUIRED' = 'INVALID'): void => send(engine, conn, { type: 'error', id: frame.id, code, message });
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
    case 'kill': {
      const r = kill(engine, frame, actor);
      if (r.ok) ok(r.message);
      else fail(r.message, r.code);
      return;
    }
    case 'resume': {
      if (!engine.ledger.writable) return fail(`ledger: cannot be written (${engine.ledger.error ?? 'unknown error'}); a resume must be recorded before it takes effect — free disk space and retry`);
      const r = resume(engine, frame, actor);
      if (r.ok) ok(r.message);
      else fail(r.message, r.code);
      return;
    }
    case 'grant': {
      if (!engine.ledger.writable) return fail(`ledger: cannot be written (${engine.ledger.error ?? 'unknown error'}); a grant must be recorded before it takes effect — free disk space and retry`);
      const r = grant(engine, frame, actor);
      if (r.ok) ok(r.message);
      else fail(r.message, r.code);
      return;
    }
    case 'deny': {
      const p = engine.prompts.get(frame.prompt as PromptId);
      if (!p) {
        // As grant says it: the prompt was answered, timed out or mistyped.
        fail(`no pending prompt ${frame.prompt}: it was answered, timed out or never existed; nothing was denied (see spendguard prompts)`, 'NOT_FOUND');
        return;
      }
      dropPrompt(engine, p);
      deny(engine, p.conn, p.request.id, 'APPROVAL_DENIED', p.scope.id, `the operator denied: ${p.reason}`);
      emit(engine, { type: 'action', row: { ts: engine.now, kind: 'prompt_answer', scope: p.scope.id, actor, data: { prompt: p.id, answer: 'deny' } } });
      // Who answered is in the alert log as well as the ledger, so two operators can be told apart on screen.
      alert(engine, 'info', 'prompt', p.scope.id, `${actor} denied ${p.id} (${p.agent.id} on ${p.scope.id})`);
      ok(`denied ${p.id} (${p.agent.id})`);
      return;
    }
    case 'key_create': {
      if (!engine.ledger.writable) return fail(`ledger: cannot be written (${engine.ledger.error ?? 'unknown error'}); a key must be recorded before it works — free disk space and retry`);
      if (secret === undefined) return fail('key_create: the daemon made no key (internal error)');
      const r = createKey(engine, frame, secret, actor);
      if (!r.ok) return fail(r.message);
      ok(`created key ${r.key.label} for ${r.key.scope}${r.key.agent ? ` as agent ${r.key.agent}` : ''}: it is shown only now`, { key: secret, keys: [keyJson(engine, r.key)] });
      return;
    }
    case 'key_list':
      ok('ok', { keys: [...engine.keys.values()].map((k) => keyJson(engine, k)) });
      return;
    case 'key_revoke': {
      const r = revokeKey(engine, frame.target, actor);
      if (r.ok) ok(r.message);
      else fail(r.message);
      return;
    }
    default:
      frame satisfies never;
  }
}

/** The part of `deltas` that `scope` has a configured limit to raise; null when it has none. */
function raisable(engine: EngineState, scope: ScopeState, deltas: Deltas): Deltas | null {
  const dims = new Set(limitsOf(engine, scope).checks.filter((c) => c.source === 'config').map((c) => c.dim));
  const applied: Deltas = {};
  for (const dim in deltas) if (dims.has(dim)) applied[dim] = deltas[dim] ?? 0;
  return Object.keys(applied).length === 0 ? null : applied;
}

function figure(dim: string, v: number): string {
  return dim === COST ? formatNano(v) : `${v.toLocaleString('en-US')} tokens`;
}

/**
 * Why a grant needs the operator's explicit yes, or null: an amount over
 * `approvals.confirm_above_usd`, or more than a current limit it raises (it would more than
 * double it). The configured increment (no amount given) is the operator's own default and never asks.
 */
function confirmation(engine: EngineState, scope: ScopeState, applied: Deltas): string | null {
  const checks = limitsOf(engine, scope).checks.filter((c) => c.source === 'config' && applied[c.dim] !== undefined);
  const over = (applied[COST] ?? 0) > usdToNano(engine.config.approvals.confirm_above_usd);
  const doubles = checks.some((c) => (applied[c.dim] ?? 0) > c.limit);
  if (!over && !doubles) return null;
  const adds = Object.keys(applied).map((dim) => `+${figure(dim, applied[dim] ?? 0)}`).join(' ');
  const limits = checks.map((c) => `${c.window === 'life' ? '' : `per_${c.window} `}${figure(c.dim, c.limit)} → ${figure(c.dim, c.limit + (applied[c.dim] ?? 0))}`).join(', ');
  const why = over ? `more than approvals.confirm_above_usd (${formatNano(usdToNano(engine.config.approvals.confirm_above_usd))})` : 'more than its current limit';
  return `granting ${adds} on ${scope.id} raises its limit ${limits}: that is ${why}; confirm to grant it (CLI: --yes; top: y)`;
}

/** Raises every limit of `scope` in the granted dimensions; an audited ledger row, not a config edit. */
function raise(engine: EngineState, scope: ScopeState, applied: Deltas, actor: string, prompt?: string): string {
  addInto(scope.grants, applied);
  engine.limits_gen += 1;
  // Children's max_share limits follow this one: every view that shows a limit changes.
  markAllChanged(engine);
  emit(engine, {
    type: 'action',
    row: { ts: engine.now, kind: 'grant', scope: scope.id, actor, data: { cost_nano: applied[COST] ?? 0, tokens: applied[TOKENS] ?? 0, ...(prompt ? { prompt } : {}) } },
  });
  const parts = [applied[COST] !== undefined ? `+${formatNano(applied[COST])}` : '', applied[TOKENS] !== undefined ? `+${applied[TOKENS]} tokens` : ''].filter(Boolean);
  alert(engine, 'info', 'grant', scope.id, `${actor} granted ${parts.join(' ')} on ${scope.id}`);
  return parts.join(' ');
}

function grantDeltas(engine: EngineState, frame: GrantRequest): Deltas {
  const d: Deltas = {};
  if (frame.add_usd !== undefined) d[COST] = usdToNano(frame.add_usd);
  if (frame.add_tokens !== undefined) d[TOKENS] = frame.add_tokens;
  if (Object.keys(d).length === 0) d[COST] = usdToNano(engine.config.approvals.increment_usd);
  return d;
}

type GrantResult = { ok: true; message: string } | { ok: false; code: 'INVALID' | 'NOT_FOUND' | 'CONFIRM_REQUIRED'; message: string };

/** What a limit-raising grant on `scope` would add, or why it may not (yet) be applied. */
function plan(engine: EngineState, scope: ScopeState, frame: GrantRequest): { ok: true; applied: Deltas } | Extract<GrantResult, { ok: false }> {
  const applied = raisable(engine, scope, grantDeltas(engine, frame));
  if (applied === null) return { ok: false, code: 'INVALID', message: `target: ${scope.id} has no limit in the granted dimension to raise` };
  const explicit = frame.add_usd !== undefined || frame.add_tokens !== undefined;
  const ask = explicit && frame.confirmed !== true ? confirmation(engine, scope, applied) : null;
  if (ask !== null) return { ok: false, code: 'CONFIRM_REQUIRED', message: ask };
  return { ok: true, applied };
}

function grant(engine: EngineState, frame: GrantRequest, actor: string): GrantResult {
  const prompt = engine.prompts.get(frame.target as PromptId);
  if (prompt) {
    if (frame.once || prompt.kind === 'tool') {
      emit(engine, { type: 'action', row: { ts: engine.now, kind: 'prompt_answer', scope: prompt.scope.id, actor, data: { prompt: prompt.id, answer: 'once' } } });
      alert(engine, 'info', 'prompt', prompt.scope.id, `${actor} allowed ${prompt.id} once (${prompt.agent.id} on ${prompt.scope.id})`);
      retryPrompt(engine, prompt, { onceAt: prompt.scope });
      return { ok: true, message: `allowed ${prompt.id} once` };
    }
    const p = plan(engine, prompt.scope, frame);
    if (!p.ok) return p;
    const raised = raise(engine, prompt.scope, p.applied, actor, prompt.id);
    emit(engine, { type: 'action', row: { ts: engine.now, kind: 'prompt_answer', scope: prompt.scope.id, actor, data: { prompt: prompt.id, answer: 'grant' } } });
    retryPrompt(engine, prompt, { noPrompt: true });
    retryScopePrompts(engine, prompt.scope);
    return { ok: true, message: `granted ${raised} on ${prompt.scope.id} for ${prompt.id}` };
  }
  const invalid = (message: string): GrantResult => ({ ok: false, code: 'INVALID', message });
  // Prompt ids hold no colon: such a target was meant as a prompt, one answered, timed out or mistyped.
  if (frame.target !== GLOBAL && !frame.target.includes(':')) {
    return { ok: false, code: 'NOT_FOUND', message: `no pending prompt ${frame.target}: it was answered, timed out or never existed; nothing was granted (see spendguard prompts)` };
  }
  if (!isScopeId(frame.target)) return invalid(`target: ${frame.target} is neither a pending prompt nor a scope (global or kind:id)`);
  if (frame.once) return invalid('once: applies to a pending prompt, not a scope');
  const id = frame.target;
  // A typo must not raise a phantom scope's limit and report success: only --create grants ahead of time.
  if (id !== GLOBAL && !frame.create && !knownScope(engine, id)) return noSuchScope(engine, id, 'nothing was granted; to grant to it before it exists, add --create');
  const existing = engine.scopes.get(id);
  // A new scope is planned as a draft first: a refused grant (too large, nothing to raise) creates nothing.
  const p = plan(engine, existing ?? { ...newScope(id, null), parent: globalScope(engine) }, frame);
  if (!p.ok) return p;
  const scope = existing ?? scopeOf(engine, id, globalScope(engine));
  const raised = raise(engine, scope, p.applied, actor);
  retryScopePrompts(engine, scope);
  return { ok: true, message: `granted ${raised} on ${scope.id}` };
}

function retryScopePrompts(engine: EngineState, scope: ScopeState): void {
  for (const p of [...engine.prompts.values()]) if (p.scope === scope) retryPrompt(engine, p, {});
}
