import { cleanup } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { renderStatusLine, renderStatusTable } from '../cli/format/status.js';
import type { FeedScope, StatusJson } from '../shared/protocol/operator.js';
import { Header } from './components/Header.js';
import { layout } from './layout.js';
import { reducer } from './reducer.js';
import type { State } from './state.js';
import { delta, plain, renderSized, replay, scope, T0, themed } from './test-support/fixtures.js';

afterEach(() => cleanup());

/** The daemon's status body for the same scopes a feed frame carried (a FeedScope is a ScopeStatus and more). */
function statusOf(state: State): StatusJson {
  const data = state.data;
  if (!data) throw new Error('no feed yet');
  return { agents: data.agents, prompts: data.prompts.length, scopes: { ...data.scopes }, config: { path: null, loaded_at: 0, error: null }, ledger: { writable: true, error: null, since_ms: null } };
}

function header(state: State, columns: number): string {
  const size = { columns, rows: 40 };
  return plain(renderSized(themed(<Header state={state} layout={layout(size, { prompts: 1, scopes: 12, alerts: 3 })} />), columns, 40).lastFrame());
}

/** A feed whose global burn is a figure each view used to round its own way. */
function withBurn(burn: number | null, extra: Record<string, FeedScope> = {}): State {
  const base = replay();
  const global = base.data?.scopes.global ?? scope({ kind: 'global', parent: null });
  return reducer(base, { type: 'feed', frame: delta({ global: { ...global, burn_usd_per_min_1m: burn }, ...extra }), now_ms: T0 });
}

describe('issue 13: one burn figure, the same in the TUI header, `status` and `status --line`', () => {
  it.each([0.0325123, 5.4567, 1234.5, 0, null])('global burn %s reads the same in all three', (burn) => {
    const state = withBurn(burn);
    const fromHeader = /burn (\S+) now/.exec(header(state, 120))?.[1];
    const fromLine = /· (\S+\/min) ·/.exec(renderStatusLine(statusOf(state)))?.[1];
    const globalRow = renderStatusTable(statusOf(state)).split('\n').find((l) => l.startsWith('global')) ?? '';
    const fromTable = /(\$[\d.,]+\/min|—)\s+\S+\s+\d+\s+(KILLED|—)/.exec(globalRow)?.[1];
    expect(fromHeader).toBeDefined();
    expect(fromLine).toBe(fromHeader);
    // The table says `—` for an unknown rate (the column's header carries the unit).
    expect(fromTable).toBe(burn === null ? '—' : fromHeader);
  });
});

describe('issue 13: the header names what runs out first, or says it does not know', () => {
  function only(scopes: Record<string, Partial<FeedScope>>): State {
    const base = replay();
    const all = Object.fromEntries(
      Object.entries(base.data?.scopes ?? {}).map(([id, s]) => [id, { ...s, exhaustion_ms: null, ...(scopes[id] ?? {}) }]),
    );
    return reducer(base, { type: 'feed', frame: delta(all, { prompts: [] }), now_ms: T0 });
  }

  it('says — when no scope has a projection', () => {
    expect(header(only({}), 120)).toContain('runs out in —');
  });

  it('never "runs out in 1s" for a scope with zero burn', () => {
    const text = header(only({ 'task:t-7': { exhaustion_ms: 1_500, burn_usd_per_min_1m: 0, burn_tokens_per_min_1m: 0 } }), 120);
    expect(text).not.toMatch(/runs out in \ds/);
    expect(text).toContain('runs out in —');
  });

  it('names the scope that runs out first, not the fullest one', () => {
    const text = header(
      only({
        'session:nightly': { exhaustion_ms: 600_000, burn_usd_per_min_1m: 0.01 },
        'task:t-7': { exhaustion_ms: 130_000, burn_usd_per_min_1m: 0.5 },
      }),
      120,
    );
    expect(text).toContain('runs out in 2m10s: task:t-7');
  });

  it('says "waiting for approval" for the scope a pending prompt blocks', () => {
    expect(header(withBurn(0.5), 120)).toContain('session:nightly waiting for approval');
  });
});
