import { describe, expect, it } from 'vitest';
import { OperatorFrame, type OperatorResult } from '../../shared/protocol/operator.js';
import type { DaemonFrame } from '../../shared/protocol/agent.js';
import { nearMatches } from './near.js';
import { statusJson } from './status.js';
import { EngineDriver } from './testing.js';

/** Issue 13: operator actions hit what the operator meant, say what blocks what, and name who acted. */

const CONFIG = { limits: { task: { cost_usd: 5, mode: 'hard' } }, scopes: { 'task:configured': { cost_usd: 2, mode: 'hard' } } };

/** The operator connection's last reply (the driver's operator is connection 0). */
function reply(d: EngineDriver): DaemonFrame | OperatorResult | undefined {
  return d.frames(0).at(-1);
}

describe('engine: kill and resume of unknown scopes', () => {
  it('refuses to kill a scope never seen, names near matches, and creates nothing', () => {
    const d = new EngineDriver(CONFIG);
    d.connect({ agent: 'a', session: 's', task: 'nop3' });
    d.connect({ agent: 'b', session: 's', task: 'nope-2' });
    const before = d.engine.view.scopes.size;
    d.operator({ type: 'kill', id: 'k', scope: 'task:nope' });
    expect(reply(d)).toMatchObject({ type: 'error', code: 'NOT_FOUND', message: expect.stringMatching(/^no such scope task:nope \(did you mean task:nope-2, task:nop3\?\)/) });
    expect(d.engine.view.scopes.has('task:nope' as never)).toBe(false);
    expect(d.engine.view.scopes.size).toBe(before);
    expect(d.actions.filter((a) => a.kind === 'kill')).toEqual([]);
  });

  it('kills it with create: true (a pre-emptive kill), and a configured scope without', () => {
    const d = new EngineDriver(CONFIG);
    d.operator({ type: 'kill', id: 'k1', scope: 'task:later', create: true });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true, message: 'killed task:later: reached 0 agents' });
    const c = d.connect({ agent: 'l', session: 's', task: 'later' });
    expect(d.request(c, { type: 'reserve', id: 'r', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'KILLED' });
    d.operator({ type: 'kill', id: 'k2', scope: 'task:configured' });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true });
    d.operator({ type: 'kill', id: 'k3', all: true });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true });
  });

  it('refuses to resume a scope never seen', () => {
    const d = new EngineDriver(CONFIG);
    d.connect({ agent: 'a', session: 's', task: 't' });
    d.operator({ type: 'resume', id: 'r', scope: 'task:tt' });
    expect(reply(d)).toMatchObject({ type: 'error', code: 'NOT_FOUND', message: expect.stringContaining('no such scope task:tt (did you mean task:t?)') });
  });

  it('near matches are bounded to 3, prefixes first', () => {
    const known = ['task:nope-1', 'task:nope-2', 'task:nope-3', 'task:nope-4', 'task:nop', 'agent:zzz'];
    expect(nearMatches('task:nope', known)).toEqual(['task:nop', 'task:nope-1', 'task:nope-2']);
    expect(nearMatches('task:completely-else', known)).toEqual([]);
  });
});

describe('engine: inherited kills', () => {
  it('status reports killed_by: itself, the nearest killed ancestor, or null', () => {
    const d = new EngineDriver(CONFIG);
    d.connect({ agent: 'bob', session: 's', task: 't' });
    d.operator({ type: 'kill', id: 'k', scope: 'task:t' });
    const s = statusJson(d.engine.view).scopes;
    expect(s['task:t']).toMatchObject({ killed: true, killed_by: 'task:t' });
    expect(s['agent:bob']).toMatchObject({ killed: false, killed_by: 'task:t' });
    expect(s['session:s']).toMatchObject({ killed: false, killed_by: null });
    // Each scope names its parent: status --json is a tree a script can rebuild.
    expect(s['agent:bob']?.parent).toBe('task:t');
    expect(s['task:t']?.parent).toBe('session:s');
    expect(s['global']?.parent).toBeNull();
    d.operator({ type: 'kill', id: 'k2', all: true });
    expect(statusJson(d.engine.view).scopes['agent:bob']).toMatchObject({ killed_by: 'task:t' });
    expect(statusJson(d.engine.view).scopes['session:s']).toMatchObject({ killed_by: 'global' });
  });

  it('resume of a child blocked by an ancestor says which ancestor and fails', () => {
    const d = new EngineDriver(CONFIG);
    d.connect({ agent: 'bob', session: 's', task: 't' });
    d.operator({ type: 'kill', id: 'k', scope: 'task:t' });
    d.operator({ type: 'resume', id: 'r', scope: 'agent:bob' });
    expect(reply(d)).toMatchObject({ type: 'error', message: 'agent:bob is blocked by the kill of task:t; resume task:t' });
    expect(d.actions.filter((a) => a.kind === 'resume')).toEqual([]);
    d.operator({ type: 'kill', id: 'k2', scope: 'agent:bob' });
    d.operator({ type: 'resume', id: 'r2', scope: 'agent:bob' });
    expect(reply(d)).toMatchObject({ type: 'result', message: 'resumed agent:bob, but agent:bob is blocked by the kill of task:t; resume task:t' });
  });
});

describe('engine: grant safety', () => {
  it('the schema refuses zero and negative amounts', () => {
    for (const add of [{ add_usd: 0 }, { add_usd: -1 }, { add_tokens: 0 }]) {
      expect(OperatorFrame.safeParse({ type: 'grant', id: 'g', target: 'task:t', ...add }).success).toBe(false);
    }
    expect(OperatorFrame.safeParse({ type: 'grant', id: 'g', target: 'task:t', add_usd: 0.01 }).success).toBe(true);
  });

  it('more than the current limit needs confirmed; the refusal names the new limit and changes nothing', () => {
    const d = new EngineDriver(CONFIG);
    d.connect({ agent: 'a', session: 's', task: 'configured' });
    d.operator({ type: 'grant', id: 'g1', target: 'task:configured', add_usd: 3 });
    expect(reply(d)).toMatchObject({ type: 'error', code: 'CONFIRM_REQUIRED', message: expect.stringMatching(/\$2\.00 → \$5\.00.*confirm/) });
    expect(d.actions.filter((a) => a.kind === 'grant')).toEqual([]);
    expect(statusJson(d.engine.view).scopes['task:configured']?.limit).toMatchObject({ cost_usd: 2 });
    d.operator({ type: 'grant', id: 'g2', target: 'task:configured', add_usd: 3, confirmed: true });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true });
    expect(statusJson(d.engine.view).scopes['task:configured']?.limit).toMatchObject({ cost_usd: 5 });
  });

  it('over approvals.confirm_above_usd needs confirmed even under a large limit; the key is configurable', () => {
    const big = { limits: { task: { cost_usd: 1000, mode: 'hard' } } };
    const d = new EngineDriver(big);
    d.connect({ agent: 'a', session: 's', task: 't' });
    d.operator({ type: 'grant', id: 'g1', target: 'task:t', add_usd: 10.01 });
    expect(reply(d)).toMatchObject({ type: 'error', code: 'CONFIRM_REQUIRED', message: expect.stringContaining('approvals.confirm_above_usd') });
    d.operator({ type: 'grant', id: 'g2', target: 'task:t', add_usd: 10 });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true });
    const roomy = new EngineDriver({ ...big, approvals: { confirm_above_usd: 100 } });
    roomy.connect({ agent: 'a', session: 's', task: 't' });
    roomy.operator({ type: 'grant', id: 'g', target: 'task:t', add_usd: 50 });
    expect(reply(roomy)).toMatchObject({ type: 'result', ok: true });
  });

  it('a prompt grant of the configured increment never asks, and a large one on a prompt does', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 0.5, mode: 'approval' } }, approvals: { increment_usd: 1 } });
    const c = d.connect({ agent: 'a', session: 's', task: 't' });
    const p = d.request(c, { type: 'reserve', id: 'r1', cost_usd: 1 });
    if (p.type !== 'pending') throw new Error(`expected pending, got ${JSON.stringify(p)}`);
    d.operator({ type: 'grant', id: 'g0', target: p.prompt, add_usd: 20 });
    expect(reply(d)).toMatchObject({ type: 'error', code: 'CONFIRM_REQUIRED' });
    d.operator({ type: 'grant', id: 'g1', target: p.prompt });
    expect(reply(d)).toMatchObject({ type: 'result', ok: true });
    expect(d.frames(c).at(-1)).toMatchObject({ type: 'grant', id: 'r1' });
  });
});

describe('engine: who did it', () => {
  it('records the frame actor on kill, resume, grant and deny rows and names it in alerts', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 0.5, mode: 'approval' } } });
    const c = d.connect({ agent: 'a', session: 's', task: 't' });
    const alerts: string[] = [];
    const op = (frame: OperatorFrame): void => {
      for (const e of d.operator(frame)) if (e.type === 'alert') alerts.push(e.alert.message);
    };
    op({ type: 'kill', id: 'k', scope: 'task:t', actor: 'top:alice@box' });
    op({ type: 'resume', id: 'r', scope: 'task:t', actor: 'cli:bob@box' });
    op({ type: 'grant', id: 'g', target: 'task:t', add_usd: 0.25, actor: 'cli:bob@box' });
    const p = d.request(c, { type: 'reserve', id: 'r1', cost_usd: 1 });
    if (p.type !== 'pending') throw new Error('expected pending');
    op({ type: 'deny', id: 'd', prompt: p.prompt, actor: 'hook' });
    const acted = d.actions.filter((a) => ['kill', 'resume', 'grant', 'prompt_answer'].includes(a.kind));
    expect(acted.map((a) => [a.kind, a.actor])).toEqual([
      ['kill', 'top:alice@box'],
      ['resume', 'cli:bob@box'],
      ['grant', 'cli:bob@box'],
      ['prompt_answer', 'hook'],
    ]);
    expect(alerts).toEqual(expect.arrayContaining([expect.stringMatching(/^task:t killed by top:alice@box/), 'task:t resumed by cli:bob@box', expect.stringMatching(/^cli:bob@box granted/), expect.stringMatching(/^hook denied p/)]));
    const again = d.request(c, { type: 'reserve', id: 'r2', cost_usd: 1 });
    if (again.type !== 'pending') throw new Error('expected pending');
    op({ type: 'grant', id: 'o', target: again.prompt, once: true, actor: 'top:carol@box' });
    expect(alerts).toEqual(expect.arrayContaining([expect.stringMatching(/^top:carol@box allowed p\S+ once/)]));
  });

  it('the schema bounds the actor', () => {
    expect(OperatorFrame.safeParse({ type: 'kill', id: 'k', scope: 'global', actor: 'x'.repeat(65) }).success).toBe(false);
    expect(OperatorFrame.safeParse({ type: 'kill', id: 'k', scope: 'global', actor: 'a b' }).success).toBe(false);
    expect(OperatorFrame.safeParse({ type: 'kill', id: 'k', scope: 'global', actor: 'top:alice@host-1.lan' }).success).toBe(true);
  });
});
