import { describe, expect, it } from 'vitest';
import { feedFrame, type FeedCursor } from './feed.js';
import { unsavedScopes } from './memory.js';
import { statusJson } from './status.js';
import { EngineDriver } from './testing.js';

/** Memory has a bound: idle scopes leave and come back from the ledger with their counters. */

function persistAll(d: EngineDriver): void {
  const view = d.engine.view;
  d.engine.handle({ type: 'persisted', scopes: unsavedScopes(view).map((s) => s.id), version: view.version }, d.now);
}

describe('engine: memory', () => {
  it('an idle task leaves memory after a minute once its counters are saved, and comes back with them', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const c = d.connect({ agent: 'a', session: 's', task: 't' });
    d.request(c, { type: 'spend', id: 's1', key: 'k1', cost_usd: 0.7 });
    d.send(c, { type: 'bye' });
    d.disconnect(c);
    d.advance(70_000);
    // Not saved yet: it stays.
    expect(d.engine.scopes.has('task:t' as never)).toBe(true);
    const saved = unsavedScopes(d.engine.view).map((s) => ({ id: s.id, parent: s.parent?.id ?? null, counters: structuredClone(s.counters) }));
    persistAll(d);
    d.advance(10_000);
    for (const id of ['task:t', 'agent:a', 'session:s', 'user:default']) expect(d.engine.scopes.has(id as never), id).toBe(false);
    expect(d.engine.scopes.has('global' as never)).toBe(true);
    // The shell loads what the next hello names, parents first.
    d.engine.handle({ type: 'load', scopes: saved.filter((s) => s.id !== 'global').reverse() as never }, d.now);
    const again = d.connect({ agent: 'a', session: 's', task: 't' });
    expect(d.request(again, { type: 'reserve', id: 'r', cost_usd: 0.31 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'task:t' });
    expect(d.request(again, { type: 'reserve', id: 'r2', cost_usd: 0.3 }).type).toBe('grant');
  });

  it('scopes with something in flight, a kill, a grant or a live agent stay', () => {
    const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' } } });
    const live = d.connect({ agent: 'live', session: 's', task: 'busy' });
    const held = d.connect({ agent: 'held', session: 's', task: 'held' });
    d.request(held, { type: 'reserve', id: 'r', cost_usd: 0.1 });
    d.disconnect(held);
    d.operator({ type: 'kill', id: 'k', scope: 'task:killed', create: true });
    d.operator({ type: 'grant', id: 'g', target: 'task:granted', add_usd: 1, create: true });
    persistAll(d);
    d.advance(61_000);
    d.advance(10_000);
    for (const id of ['agent:live', 'task:busy', 'task:held', 'task:killed', 'task:granted']) expect(d.engine.scopes.has(id as never), id).toBe(true);
    void live;
  });

  it('50,000 short-lived tasks leave memory, and status stays bounded while they are there', () => {
    const d = new EngineDriver({});
    for (let i = 0; i < 50_000; i++) {
      const c = d.connect({ agent: `a${i}`, session: 's', task: `t${i}` });
      d.request(c, { type: 'spend', id: 's', key: `k${i}`, cost_usd: 0.001 });
      d.send(c, { type: 'bye' });
      d.disconnect(c);
    }
    const status = statusJson(d.engine.view);
    expect(Object.keys(status.scopes).length).toBeLessThanOrEqual(2_000);
    expect(status.scopes_total).toBeGreaterThan(100_000);
    expect(Object.keys(feedFrame(d.engine.view, null).frame.scopes).length).toBeLessThanOrEqual(2_000);
    persistAll(d);
    d.advance(61_000);
    d.advance(10_000);
    expect(d.engine.scopes.size).toBeLessThan(10);
    expect(d.engine.view.change_log.length).toBeLessThan(2_000);
  });
});

describe('engine: the live feed', () => {
  it('a second subscriber takes nothing from the first: each sees every change since its own cursor', () => {
    const d = new EngineDriver({});
    const c = d.connect({ agent: 'a', session: 's', task: 't' });
    let first: FeedCursor = feedFrame(d.engine.view, null).cursor;
    d.request(c, { type: 'spend', id: 's1', key: 'k1', cost_usd: 0.5 });
    // Another operator subscribes (a full frame) just after the spend.
    const second = feedFrame(d.engine.view, null);
    expect(second.frame.scopes['task:t']?.spent.cost_usd).toBe(0.5);
    const delta = feedFrame(d.engine.view, first);
    first = delta.cursor;
    expect(delta.frame.full).toBe(false);
    expect(delta.frame.scopes['task:t']?.spent.cost_usd).toBe(0.5);
    expect(delta.frame.alerts).toEqual([]);
    // Building a frame changed nothing: the same question gets the same answer.
    expect(feedFrame(d.engine.view, second.cursor).frame.scopes['task:t']).toBeUndefined();
    expect(feedFrame(d.engine.view, first).frame.scopes['task:t']).toBeUndefined();
  });
});
