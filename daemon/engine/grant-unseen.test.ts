import { describe, expect, it } from 'vitest';
import type { DaemonFrame } from '../../shared/protocol/agent.js';
import { OperatorFrame, type OperatorResult } from '../../shared/protocol/operator.js';
import { statusJson } from './status.js';
import { EngineDriver } from './testing.js';

/** A grant names what the operator meant: a typo or a gone prompt is refused, never a phantom scope raised. */

const CONFIG = { limits: { task: { cost_usd: 5, mode: 'hard' } }, scopes: { 'task:configured': { cost_usd: 2, mode: 'hard' } } };

/** The operator connection's last reply (the driver's operator is connection 0). */
function reply(d: EngineDriver): DaemonFrame | OperatorResult | undefined {
  return d.frames(0).at(-1);
}

function grants(d: EngineDriver): number {
  return d.actions.filter((a) => a.kind === 'grant').length;
}

describe('engine: grants to a scope never seen', () => {
  it('refuses a typo with NOT_FOUND and near matches, and creates nothing', () => {
    const d = new EngineDriver(CONFIG);
    d.connect({ agent: 'a', session: 's', task: 'nop3' });
    d.connect({ agent: 'b', session: 's', task: 'nope-2' });
    const before = d.engine.view.scopes.size;
    d.operator({ type: 'grant', id: 'g', target: 'task:nope', add_usd: 1 });
    expect(reply(d)).toMatchObject({
      type: 'error',
      id: 'g',
      code: 'NOT_FOUND',
      message: 'no such scope task:nope (did you mean task:nope-2, task:nop3?); nothing was granted; to grant to it before it exists, add --create',
    });
    expect(d.engine.view.scopes.has('task:nope' as never)).toBe(false);
    expect(d.engine.view.scopes.size).toBe(before);
    expect(statusJson(d.engine.view).scopes['task:nope']).toBeUndefined();
    expect(grants(d)).toBe(0);
  });

  it('refuses without near matches when nothing is close', () => {
    const d = new EngineDriver(CONFIG);
    d.operator({ type: 'grant', id: 'g', target: 'session:zzz-elsewhere', add_usd: 1 });
    expect(reply(d)).toMatchObject({ type: 'error', code: 'NOT_FOUND', message: expect.stringMatching(/^no such scope session:zzz-elsewhere; nothing was granted/) });
  });

  it('create: true grants ahead of the first agent, which then spends under the raised limit', () => {
    const d = new EngineDriver(CONFIG);
    d.operator({ type: 'grant', id: 'g', target: 'task:later', add_usd: 3, create: true });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true, message: 'granted +$3.00 on task:later' });
    expect(statusJson(d.engine.view).scopes['task:later']?.limit).toMatchObject({ cost_usd: 8 });
    expect(grants(d)).toBe(1);
    const c = d.connect({ agent: 'l', session: 's', task: 'later' });
    expect(d.request(c, { type: 'reserve', id: 'r', cost_usd: 7 })).toMatchObject({ type: 'grant' });
  });

  it('create: true that still needs confirmation creates nothing until confirmed', () => {
    const d = new EngineDriver(CONFIG);
    d.operator({ type: 'grant', id: 'g1', target: 'task:later', add_usd: 50, create: true });
    expect(reply(d)).toMatchObject({ type: 'error', code: 'CONFIRM_REQUIRED', message: expect.stringContaining('task:later') });
    expect(d.engine.view.scopes.has('task:later' as never)).toBe(false);
    d.operator({ type: 'grant', id: 'g2', target: 'task:later', add_usd: 50, create: true, confirmed: true });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true });
    expect(statusJson(d.engine.view).scopes['task:later']?.limit).toMatchObject({ cost_usd: 55 });
  });

  it('a scope in memory, in the config or global needs no create', () => {
    const d = new EngineDriver(CONFIG);
    d.connect({ agent: 'a', session: 's', task: 't' });
    d.operator({ type: 'grant', id: 'g1', target: 'task:t', add_usd: 1 });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true, message: 'granted +$1.00 on task:t' });
    expect(statusJson(d.engine.view).scopes['task:t']?.limit).toMatchObject({ cost_usd: 6 });
    d.operator({ type: 'grant', id: 'g2', target: 'task:configured', add_usd: 1 });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true, message: 'granted +$1.00 on task:configured' });
    const withGlobal = new EngineDriver({ limits: { global: { cost_usd: 20, mode: 'hard' } } });
    withGlobal.operator({ type: 'grant', id: 'g3', target: 'global', add_usd: 1 });
    expect(reply(withGlobal)).toMatchObject({ type: 'result', ok: true, message: 'granted +$1.00 on global' });
  });

  it('the schema takes create: true as optional; old frames without it still validate', () => {
    expect(OperatorFrame.safeParse({ type: 'grant', id: 'g', target: 'task:t', add_usd: 1 }).success).toBe(true);
    expect(OperatorFrame.safeParse({ type: 'grant', id: 'g', target: 'task:t', add_usd: 1, create: true }).success).toBe(true);
    expect(OperatorFrame.safeParse({ type: 'grant', id: 'g', target: 'task:t', add_usd: 1, create: false }).success).toBe(false);
  });
});

describe('engine: grants to a prompt that is gone', () => {
  const APPROVAL = { limits: { task: { cost_usd: 0.5, mode: 'approval' } }, approvals: { increment_usd: 1, timeout: '60s' } };

  /** An engine whose one agent waits on an approval prompt. */
  function withPendingPrompt(): { d: EngineDriver; prompt: { prompt: string } } {
    const d = new EngineDriver(APPROVAL);
    const c = d.connect({ agent: 'a', session: 's', task: 't' });
    const p = d.request(c, { type: 'reserve', id: 'r1', cost_usd: 1 });
    if (p.type !== 'pending') throw new Error(`expected pending, got ${JSON.stringify(p)}`);
    return { d, prompt: p };
  }

  it('a prompt already answered is refused with NOT_FOUND, and no scope is named after it', () => {
    const { d, prompt: p } = withPendingPrompt();
    d.operator({ type: 'grant', id: 'g1', target: p.prompt });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true });
    const before = d.engine.view.scopes.size;
    d.operator({ type: 'grant', id: 'g2', target: p.prompt, add_usd: 1 });
    expect(reply(d)).toMatchObject({
      type: 'error',
      code: 'NOT_FOUND',
      message: `no pending prompt ${p.prompt}: it was answered, timed out or never existed; nothing was granted (see spendguard prompts)`,
    });
    expect(d.engine.view.scopes.size).toBe(before);
    expect(grants(d)).toBe(1);
  });

  it('a prompt that timed out, or an id that only looks like one, is refused the same way', () => {
    const { d, prompt: p } = withPendingPrompt();
    d.advance(61_000);
    expect(d.engine.view.prompts.size).toBe(0);
    for (const target of [p.prompt, 'p-123']) {
      d.operator({ type: 'grant', id: `g-${target}`, target, add_usd: 1 });
      expect(reply(d)).toMatchObject({ type: 'error', code: 'NOT_FOUND', message: expect.stringMatching(new RegExp(`^no pending prompt ${target}: `)) });
      // create: true names a scope, never a prompt: it does not turn a prompt id into one.
      d.operator({ type: 'grant', id: `c-${target}`, target, add_usd: 1, create: true });
      expect(reply(d)).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
      expect(d.engine.view.scopes.has(target as never)).toBe(false);
    }
    expect(grants(d)).toBe(0);
  });

  it('deny of a prompt that is gone says so the same way: NOT_FOUND, nothing denied', () => {
    const { d, prompt: p } = withPendingPrompt();
    d.advance(61_000);
    d.operator({ type: 'deny', id: 'd1', prompt: p.prompt });
    expect(reply(d)).toMatchObject({ type: 'error', code: 'NOT_FOUND', message: expect.stringMatching(new RegExp(`^no pending prompt ${p.prompt}: .*nothing was denied`)) });
  });
});
