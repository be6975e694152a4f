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

  it('when its prompt is answered, the cursor goes to the agent that asked, never up to global', () => {
    const state = run(replay(), press('j'));
    const answered = reducer(state, { type: 'feed', frame: delta({}, { prompts: [] }), now_ms: T0 });
    expect(selectedKey(answered)).toBe('scope:agent:loop-3');
    expect(run(answered, press('x')).mode).toEqual({ kind: 'confirm-kill', target: 'agent:loop-3' });
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
    // r on a scope stopped from above offers to resume the kill that stops it; y sends that.
    expect(onAgent.outbox).toEqual([]);
    expect(onAgent.mode).toEqual({ kind: 'confirm-resume', target: 'task:t-8', blocked: 'agent:writer-2' });
    expect(run(onAgent, press('y')).outbox).toEqual([{ type: 'resume', id: 'tui-1', scope: 'task:t-8' }]);
    expect(run(onAgent, press('n')).outbox).toEqual([]);
  });

  it('after X, r on any row offers to resume all', () => {
    const killedAll = reducer(replay(), { type: 'feed', frame: delta({ global: { ...(RECORDED.at(-1)?.scopes.global as NonNullable<ReturnType<typeof scope>>), killed: true, killed_by: 'global' } }), now_ms: T0 });
    const onSession = run(killedAll, press('j'), press('j'), press('j'), press('j'));
    const asking = run(onSession, press('r'));
    expect(asking.mode).toMatchObject({ kind: 'confirm-resume', target: null });
    expect(run(asking, press('y')).outbox).toEqual([{ type: 'resume', id: 'tui-1', all: true }]);
  });

  it('g takes a typed amount: dollars or tokens; Enter sends, a bad amount stays open with the reason', () => {
    const onSession = run(replay(), press('j'), press('j'), press('j'), press('j'));
    const typing = run(onSession, press('g'), type('0'), type('.'), type('5'), type('x'), press('backspace'));
    expect(typing.mode).toMatchObject({ kind: 'grant', draft: '0.5' });
    expect(run(typing, press('enter')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'session:s-42', add_usd: 0.5 }]);
    expect(run(onSession, press('g'), type('20k tok'), press('enter')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'session:s-42', add_tokens: 20_000 }]);
    const bad = run(onSession, press('g'), type('lots'), press('enter'));
    expect(bad.outbox).toEqual([]);
    expect(bad.mode).toMatchObject({ kind: 'grant', error: 'not an amount: "lots" (dollars like 1.50, or tokens like 20k tok)' });
    expect(run(bad, press('escape')).mode.kind).toBe('main');
  });

  it('g on a prompt grants to the prompt, which raises its scope and retries it', () => {
    expect(run(replay(), press('j'), press('g'), type('0.75'), press('enter')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'p1-23', add_usd: 0.75 }]);
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
    expect(sent.inflight.get('tui-1')).toBe(`approve p1-23 (agent:loop-3 on session:nightly) +$1.00`);
    const ok = reducer(sent, { type: 'result', id: 'tui-1', ok: true, message: 'granted +$1.00 on session:nightly for p1-23', now_ms: T0 });
    expect(ok.inflight.size).toBe(0);
    expect(ok.flash).toEqual({ level: 'info', text: 'granted +$1.00 on session:nightly for p1-23', at_ms: T0 });
    const failed = reducer(sent, { type: 'result', id: 'tui-1', ok: false, message: 'INVALID: target: no pending prompt p1-23', now_ms: T0 });
    expect(failed.flash?.text).toBe('approve p1-23 (agent:loop-3 on session:nightly) +$1.00 failed: INVALID: target: no pending prompt p1-23');
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

describe('issue 13: nothing acts unseen on a terminal too small to draw', () => {
  const small = { type: 'resize', size: { columns: 60, rows: 20 }, now_ms: T0 } as const;
  const big = { type: 'resize', size: { columns: 80, rows: 24 }, now_ms: T0 } as const;

  it('every action key does nothing there; q and Ctrl-C still quit', () => {
    const onPrompt = run(replay(), press('j'), small);
    for (const key of ['a', 'X', 'x', 'y', 'g', 'r', 'd', 'o', 'enter', '/', '?', 'j', 'k', 'escape', 'left', 'Y', '1']) {
      const after = run(onPrompt, press(key));
      expect(after.outbox, key).toEqual([]);
      expect(after.mode, key).toEqual({ kind: 'main' });
      expect(after.selection, key).toEqual(onPrompt.selection);
      expect(after.quit, key).toBe(false);
    }
    expect(run(onPrompt, press('X'), press('y'), big, press('y')).outbox).toEqual([]);
    expect(run(onPrompt, press('q')).quit).toBe(true);
    expect(run(onPrompt, press('ctrl+c')).quit).toBe(true);
  });

  it('an open dialog closes when the screen becomes too small, and stays closed when it grows back', () => {
    const base = run(replay(), press('j'));
    for (const open of [press('x'), press('X'), press('g'), press('enter')]) {
      const shrunk = run(base, open, small);
      expect(shrunk.mode).toEqual({ kind: 'main' });
      expect(run(shrunk, big, press('y')).outbox).toEqual([]);
    }
    expect(run(base, press('X'), small).flash?.text).toBe('kill cancelled: the terminal got too small; nothing was sent');
    const asking = run(base, press('g'), type('1000000'), press('enter'));
    expect(asking.mode.kind).toBe('confirm-grant');
    expect(run(asking, small, big, press('y')).outbox).toEqual([]);
  });
});

describe('issue 13: the selection never widens by itself', () => {
  const two = () => replay([...RECORDED, delta({}, { prompts: [...(RECORDED.at(-1)?.prompts ?? []), prompt2] })]);

  it('after d on a highlighted prompt it moves to the next prompt, not to a scope above', () => {
    const onFirst = run(two(), press('j'));
    expect(selectedKey(onFirst)).toBe('prompt:p1-23');
    const denied = run(onFirst, press('d'), { type: 'feed', frame: delta({}, { prompts: [prompt2] }), now_ms: T0 });
    expect(selectedKey(denied)).toBe('prompt:p1-30');
  });

  it('a timed-out prompt with no other pending leaves the cursor on its agent; a removed agent hands it to a sibling, else clears it', () => {
    const onPrompt = run(replay(), press('j'));
    const timedOut = reducer(onPrompt, { type: 'feed', frame: delta({}, { prompts: [] }), now_ms: T0 });
    expect(selectedKey(timedOut)).toBe('scope:agent:loop-3');
    const withSibling = reducer(timedOut, { type: 'feed', frame: delta({ 'agent:loop-4': scope({ kind: 'agent', parent: 'task:build' }) }, { prompts: [] }), now_ms: T0 });
    expect(selectedKey(withSibling)).toBe('scope:agent:loop-3');
    const gone = reducer(withSibling, { type: 'feed', frame: delta({}, { prompts: [], removed: ['agent:loop-3'] }), now_ms: T0 });
    expect(selectedKey(gone)).toBe('scope:agent:loop-4');
    const alone = reducer(gone, { type: 'feed', frame: delta({}, { prompts: [], removed: ['agent:loop-4'] }), now_ms: T0 });
    expect(alone.selection).toBeNull();
    expect(run(alone, press('x')).mode).toEqual({ kind: 'main' });
  });

  it('a filter that hides the row moves to a visible child or sibling, never to the parent', () => {
    const onSession = run(replay(), press('j'), press('j'), press('j'), press('j'));
    expect(selectedKey(onSession)).toBe('scope:session:s-42');
    const filtered = run(onSession, press('/'), type('t-7'));
    expect(selectedKey(filtered)).not.toBe('scope:user:alice');
    expect(selectedKey(filtered)).not.toBe('scope:global');
  });

  it('a new prompt arriving keeps the cursor on the same row', () => {
    const onTask = run(replay(), press('j'), press('j'), press('j'), press('j'), press('j'));
    const key = selectedKey(onTask);
    const more = reducer(onTask, { type: 'feed', frame: delta({}, { prompts: [...(RECORDED.at(-1)?.prompts ?? []), prompt2] }), now_ms: T0 });
    expect(selectedKey(more)).toBe(key);
    expect(run(more, press('x')).mode).toEqual({ kind: 'confirm-kill', target: key?.slice('scope:'.length) });
  });
});

describe('issue 13: large grants ask first, nothing at or below zero is sent', () => {
  const onSession = () => run(replay(), press('j'), press('j'), press('j'), press('j'));

  it('refuses 0 and negative amounts in the input', () => {
    for (const amount of ['0', '-1', '-$5', '0 tok']) {
      const state = run(onSession(), press('g'), type(amount), press('enter'));
      expect(state.outbox, amount).toEqual([]);
      expect(state.mode, amount).toMatchObject({ kind: 'grant', error: expect.stringMatching(/more than 0/) });
    }
  });

  it('g 1000000 ⏎ grants nothing until y, which sends it confirmed; any other key cancels', () => {
    const asking = run(onSession(), press('g'), type('1000000'), press('enter'));
    expect(asking.outbox).toEqual([]);
    expect(asking.mode).toEqual({ kind: 'confirm-grant', target: { kind: 'scope', scope: 'session:s-42' }, amount: { add_usd: 1_000_000 }, limit_now: 1, limit_after: 1_000_001, why: 'over $10.00' });
    expect(run(asking, press('y')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'session:s-42', add_usd: 1_000_000, confirmed: true }]);
    for (const key of ['n', 'enter', 'Y', 'g']) expect(run(asking, press(key)).outbox, key).toEqual([]);
    const burst = { type: 'key' as const, press: { name: 'y', text: 'y', burst: true as const }, now_ms: T0 };
    expect(run(asking, burst).outbox).toEqual([]);
  });

  it('asks when the amount is more than the scope’s current limit, even under $10', () => {
    const asking = run(onSession(), press('g'), type('1.5'), press('enter'));
    expect(asking.mode).toMatchObject({ kind: 'confirm-grant', why: 'more than its $1.00 limit', limit_now: 1, limit_after: 2.5 });
    const prompt = run(replay(), press('j'), press('g'), type('2'), press('enter'));
    expect(prompt.mode).toMatchObject({ kind: 'confirm-grant', target: { kind: 'prompt', prompt: 'p1-23' } });
    expect(run(prompt, press('y')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'p1-23', add_usd: 2, confirmed: true }]);
  });
});

describe('issue 13: the keys a details box lists act on that box’s row', () => {
  it('prompt details: a, o, d answer that prompt; g grants to it; x asks to kill its agent', () => {
    const details = run(replay(), press('j'), press('enter'));
    expect(details.mode).toEqual({ kind: 'details', row: 'prompt:p1-23' });
    expect(run(details, press('a')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'p1-23' }]);
    expect(run(details, press('o')).outbox).toEqual([{ type: 'grant', id: 'tui-1', target: 'p1-23', once: true }]);
    expect(run(details, press('d')).outbox).toEqual([{ type: 'deny', id: 'tui-1', prompt: 'p1-23' }]);
    expect(run(details, press('x')).mode).toEqual({ kind: 'confirm-kill', target: 'agent:loop-3' });
    expect(run(details, press('g')).mode).toMatchObject({ kind: 'grant', target: { kind: 'prompt', prompt: 'p1-23' } });
  });

  it('prompt details of an answered prompt act on nothing else', () => {
    const details = run(replay(), press('j'), press('enter'));
    const answered = reducer(details, { type: 'feed', frame: delta({}, { prompts: [prompt2] }), now_ms: T0 });
    const after = run(answered, press('a'));
    expect(after.outbox).toEqual([]);
    expect(after.flash?.text).toBe('p1-23 is answered or gone: nothing was sent');
  });

  it('scope details: r resumes, x kills that scope; a prompt key does nothing there', () => {
    const onTask = run(replay(), press('j'), press('j'), press('j'), press('j'), press('j'), press('j'), press('j'), press('j'), press('enter'));
    expect(onTask.mode).toEqual({ kind: 'details', row: 'scope:task:t-8' });
    expect(run(onTask, press('r')).outbox).toEqual([{ type: 'resume', id: 'tui-1', scope: 'task:t-8' }]);
    expect(run(onTask, press('x')).mode).toEqual({ kind: 'confirm-kill', target: 'task:t-8' });
    expect(run(onTask, press('a'))).toEqual(onTask);
  });
});
