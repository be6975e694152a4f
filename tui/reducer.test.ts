import { describe, expect, it } from 'vitest';
import { reducer } from './reducer.js';
import { selectedKey, targetPrompt } from './select.js';
import { delta, press, RECORDED, replay, run, scope, T0, type } from './test-support/fixtures.js';

const prompt2 = { id: 'p1-30', scope: 'session:s-42', agent: 'agent:writer-2', reason: 'session:s-42 over', cost_usd: 0.2, tokens: 0, age_ms: 500, expires_in_ms: 119_500, projected_usd: 0.9, limit_usd: 1 };
const p1 = RECORDED.at(-1)?.prompts[0];

describe('reducer: feed', () => {
  it('merges a full frame and its deltas into one picture', () => {
    const state = replay();
    expect(Object.keys(state.data?.scopes ?? {})).toHaveLength(12);
    expect(state.data?.scopes['task:t-8']?.killed).toBe(true);
    expect(state.data?.prompts.map((p) => p.id)).toEqual(['p1-23']);
    expect(state.alerts.map((a) => a.seq)).toEqual([1, 2, 3]);
  });

  it('does not repeat alerts a full frame re-sends after a reconnect, and keeps a restarted daemon’s new ones', () => {
    const state = replay();
    const again = reducer(state, { type: 'feed', frame: { ...delta({}), full: true, scopes: state.data?.scopes ?? {}, alerts: RECORDED.flatMap((f) => f.alerts) }, now_ms: T0 });
    expect(again.alerts).toHaveLength(3);
    const restarted = reducer(again, { type: 'feed', frame: delta({}, { alerts: [{ seq: 1, at_ms: T0 + 5_000, level: 'info', kind: 'resume', scope: 'task:t-8', message: 'task:t-8 resumed' }] }), now_ms: T0 });
    expect(restarted.alerts.map((a) => a.message).at(-1)).toBe('task:t-8 resumed');
  });
});

describe('reducer: clock', () => {
  it('a tick right after a frame changes nothing (no redraw); once frames stop, ticks move the clock', () => {
    const state = reducer(replay(), { type: 'feed', frame: delta({}), now_ms: T0 + 10_000 });
    expect(reducer(state, { type: 'tick', now_ms: T0 + 10_400 })).toBe(state);
    expect(reducer(state, { type: 'tick', now_ms: T0 + 11_000 }).now_ms).toBe(T0 + 11_000);
  });
});

describe('reducer: selection and prompts', () => {
  it('moves through prompts first, then the tree, and stays inside', () => {
    let state = replay();
    expect(selectedKey(state)).toBeNull();
    state = run(state, press('j'));
    expect(selectedKey(state)).toBe('prompt:p1-23');
    state = run(state, press('down'), press('j'));
    expect(selectedKey(state)).toBe('scope:user:alice');
    state = run(state, press('k'), press('up'), press('up'), press('up'));
    expect(selectedKey(state)).toBe('prompt:p1-23');
    state = run(state, press('pagedown'), press('pagedown'));
    expect(selectedKey(state)).toBe('scope:agent:loop-3');
  });

  it('a / o / d act on the oldest prompt when none is highlighted, else on the highlighted one', () => {
    const two = replay([...RECORDED, delta({}, { prompts: [...(RECORDED.at(-1)?.prompts ?? []), prompt2] })]);
    expect(targetPrompt(two)?.id).toBe('p1-23');
    const approved = run(two, press('a'));
    expect(approved.outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'p1-23' }]);
    const highlighted = run(two, press('j'), press('j'));
    expect(selectedKey(highlighted)).toBe('prompt:p1-30');
    expect(run(highlighted, press('o')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'p1-30', once: true }]);
    expect(run(highlighted, press('d')).outbox).toEqual([{ type: 'deny', id: 'tui-1', prompt: 'p1-30' }]);
  });

  it('says so when there is no prompt to answer', () => {
    const none = replay([...RECORDED, delta({}, { prompts: [] })]);
    const state = run(none, press('a'));
    expect(state.outbox).toEqual([]);
    expect(state.flash?.text).toBe('no pending prompts');
  });

  it('moves the cursor to the row now in its place when its prompt is answered', () => {
    const state = run(replay(), press('j'));
    const answered = reducer(state, { type: 'feed', frame: delta({}, { prompts: [] }), now_ms: T0 });
    expect(selectedKey(answered)).toBe('scope:global');
  });
});

describe('reducer: kill, resume, grant', () => {
  it('x asks first; y sends the kill of the highlighted scope; any other key cancels and sends nothing', () => {
    const onSession = run(replay(), press('j'), press('j'), press('j'), press('j'));
    expect(selectedKey(onSession)).toBe('scope:session:s-42');
    const asking = run(onSession, press('x'));
    expect(asking.mode).toEqual({ kind: 'confirm-kill', target: 'session:s-42' });
    expect(asking.outbox).toEqual([]);
    const killed = run(asking, press('y'));
    expect(killed.outbox).toEqual([{ type: 'kill', id: 'tui-1', scope: 'session:s-42', reason: 'killed from spendguard top' }]);
    expect(killed.mode.kind).toBe('main');
    for (const key of ['n', 'enter', 'escape', 'Y', 'x', 'q']) {
      const cancelled = run(asking, press(key));
      expect(cancelled.outbox, key).toEqual([]);
      expect(cancelled.mode.kind).toBe('main');
      expect(cancelled.quit).toBe(false);
    }
  });

  it('never confirms a kill from a paste or a burst of keys', () => {
    const burst = (c: string) => ({ type: 'key' as const, press: { name: c, text: c, burst: true as const }, now_ms: T0 });
    const state = run(replay(), burst('X'), burst('y'));
    expect(state.outbox).toEqual([]);
    expect(state.flash?.text).toBe('kill cancelled: nothing was sent');
    expect(run(replay(), burst('j'), burst('j'), burst('j')).selection?.key).toBe('scope:user:alice');
  });

  it('X then y kills all', () => {
    expect(run(replay(), press('X'), press('y')).outbox).toEqual([{ type: 'kill', id: 'tui-1', all: true, reason: 'killed from spendguard top' }]);
  });

  it('x on a prompt kills the agent that asked', () => {
    expect(run(replay(), press('j'), press('x')).mode).toEqual({ kind: 'confirm-kill', target: 'agent:loop-3' });
  });

  it('r resumes a killed scope, and points at the kill that stops a scope killed from above', () => {
    const onTask = run(replay(), press('j'), press('j'), press('j'), press('j'), press('j'), press('j'), press('j'), press('j'));
    expect(selectedKey(onTask)).toBe('scope:task:t-8');
    expect(run(onTask, press('r')).outbox).toEqual([{ type: 'resume', id: 'tui-1', scope: 'task:t-8' }]);
    const onAgent = run(onTask, press('j'), press('r'));
    expect(onAgent.outbox).toEqual([]);
    expect(onAgent.flash?.text).toBe('agent:writer-2 is stopped by the kill of task:t-8: select task:t-8 and press r');
  });

  it('g takes a typed amount: dollars or tokens; Enter sends, a bad amount stays open with the reason', () => {
    const onSession = run(replay(), press('j'), press('j'), press('j'), press('j'));
    const typing = run(onSession, press('g'), type('1'), type('.'), type('5'), type('x'), press('backspace'));
    expect(typing.mode).toMatchObject({ kind: 'grant', draft: '1.5' });
    expect(run(typing, press('enter')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'session:s-42', add_usd: 1.5 }]);
    expect(run(onSession, press('g'), type('20k tok'), press('enter')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'session:s-42', add_tokens: 20_000 }]);
    const bad = run(onSession, press('g'), type('lots'), press('enter'));
    expect(bad.outbox).toEqual([]);
    expect(bad.mode).toMatchObject({ kind: 'grant', error: 'not an amount: "lots" (dollars like 1.50, or tokens like 20k tok)' });
    expect(run(bad, press('escape')).mode.kind).toBe('main');
  });

  it('g on a prompt grants to the prompt, which raises its scope and retries it', () => {
    expect(run(replay(), press('j'), press('g'), type('2'), press('enter')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'p1-23', add_usd: 2 }]);
  });

  it('--readonly refuses kill, resume, grant, approve and deny, and says why', () => {
    const state = replay(RECORDED, { readonly: true });
    for (const key of ['a', 'o', 'd', 'g', 'x', 'X', 'r']) {
      const after = run(state, press('j'), press(key));
      expect(after.outbox, key).toEqual([]);
      expect(after.mode.kind, key).toBe('main');
      expect(after.flash?.text, key).toMatch(/^read-only: .* is off \(top was started with --readonly\)$/);
    }
  });

  it('matches results to commands and shows the answer', () => {
    const sent = run(replay(), press('a'), { type: 'sent', ids: ['tui-1'] });
    expect(sent.outbox).toEqual([]);
    expect(sent.inflight.get('tui-1')).toBe(`approve p1-23 (agent:loop-3 on session:nightly) +$1`);
    const ok = reducer(sent, { type: 'result', id: 'tui-1', ok: true, message: 'granted +$1.00 on session:nightly for p1-23', now_ms: T0 });
    expect(ok.inflight.size).toBe(0);
    expect(ok.flash).toEqual({ level: 'info', text: 'granted +$1.00 on session:nightly for p1-23', at_ms: T0 });
    const failed = reducer(sent, { type: 'result', id: 'tui-1', ok: false, message: 'INVALID: target: no pending prompt p1-23', now_ms: T0 });
    expect(failed.flash?.text).toBe('approve p1-23 (agent:loop-3 on session:nightly) +$1 failed: INVALID: target: no pending prompt p1-23');
  });
});

describe('reducer: tree, filter, overlays', () => {
  it('← collapses then goes to the parent; → expands then goes to the first child', () => {
    const onAlice = run(replay(), press('j'), press('j'), press('j'));
    expect(selectedKey(onAlice)).toBe('scope:user:alice');
    const collapsed = run(onAlice, press('left'));
    expect(collapsed.collapsed.has('user:alice')).toBe(true);
    expect(selectedKey(run(collapsed, press('left')))).toBe('scope:global');
    const expanded = run(collapsed, press('right'));
    expect(expanded.collapsed.has('user:alice')).toBe(false);
    expect(selectedKey(run(expanded, press('right')))).toBe('scope:session:s-42');
  });

  it('/ filters as you type; Esc clears it', () => {
    const filtering = run(replay(), press('/'), type('n'), type('i'), type('g'));
    expect(filtering.filter).toBe('nig');
    expect(filtering.mode).toEqual({ kind: 'filter', draft: 'nig' });
    expect(run(filtering, press('enter')).filter).toBe('nig');
    expect(run(filtering, press('escape')).filter).toBe('');
    expect(run(filtering, press('enter'), press('escape')).filter).toBe('');
  });

  it('enter opens details, ? opens help; Esc, q, ? close them; q on the main screen quits', () => {
    const details = run(replay(), press('j'), press('enter'));
    expect(details.mode).toEqual({ kind: 'details', row: 'prompt:p1-23' });
    expect(run(details, press('q')).mode.kind).toBe('main');
    expect(run(details, press('q')).quit).toBe(false);
    const help = run(replay(), press('?'));
    expect(help.mode.kind).toBe('help');
    expect(run(help, press('?')).mode.kind).toBe('main');
    expect(run(replay(), press('q')).quit).toBe(true);
    expect(run(help, press('ctrl+c')).quit).toBe(true);
  });

  it('works before any data: keys that need rows say so', () => {
    const empty = replay([]);
    expect(run(empty, press('j')).selection).toBeNull();
    expect(run(empty, press('x')).flash?.text).toBe('select a scope to kill first (↑↓), or X to kill all');
  });

  it('keeps a scope the recording lacks: breaker and delay come from deltas', () => {
    const state = reducer(replay(), { type: 'feed', frame: delta({ 'agent:new': scope({ kind: 'agent', parent: 'task:build', breaker: 'open' }) }), now_ms: T0 });
    expect(state.data?.scopes['agent:new']?.breaker).toBe('open');
    expect(Object.keys(state.data?.scopes ?? {})).toHaveLength(13);
    expect(p1?.id).toBe('p1-23');
  });
});
