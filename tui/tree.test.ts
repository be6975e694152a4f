import { describe, expect, it } from 'vitest';
import { replay, scope } from './test-support/fixtures.js';
import { blastRadius, buildTree, killerOf, type TreeView } from './tree.js';

const scopes = replay().data?.scopes ?? {};

function view(over: Partial<TreeView> = {}): TreeView {
  return { collapsed: new Set(), filter: '', sort: 'name', hotOnly: false, ...over };
}

describe('the scope tree', () => {
  it('nests user › session › task › agent › delegated child, in a stable order', () => {
    const rows = buildTree(scopes, view());
    expect(rows.map((r) => `${'  '.repeat(r.depth)}${r.id}`)).toEqual([
      'global',
      '  user:alice',
      '    session:s-42',
      '      task:t-7',
      '        agent:research-1',
      '          agent:research-1a',
      '      task:t-8',
      '        agent:writer-2',
      '  user:bob',
      '    session:nightly',
      '      task:build',
      '        agent:loop-3',
    ]);
  });

  it('hides what is under a collapsed scope', () => {
    const rows = buildTree(scopes, view({ collapsed: new Set(['session:s-42']) }));
    expect(rows.map((r) => r.id)).toEqual(['global', 'user:alice', 'session:s-42', 'user:bob', 'session:nightly', 'task:build', 'agent:loop-3']);
    expect(rows[2]?.collapsed).toBe(true);
  });

  it('filters to matches, their ancestors and what is under them, even inside collapsed scopes', () => {
    const rows = buildTree(scopes, view({ collapsed: new Set(['user:alice']), filter: 't-7' }));
    expect(rows.map((r) => r.id)).toEqual(['global', 'user:alice', 'session:s-42', 'task:t-7', 'agent:research-1', 'agent:research-1a']);
  });

  it('shows a scope whose parent has not arrived yet at the top instead of losing it', () => {
    const rows = buildTree({ 'agent:orphan': scope({ kind: 'agent', parent: 'task:unknown' }) }, view());
    expect(rows.map((r) => r.id)).toEqual(['agent:orphan']);
  });

  it("counts a kill's reach: connected agents, and their spend without counting a child twice", () => {
    // research-1 ($0.32) includes its delegated child's $0.02; writer-2 spent $0.18.
    expect(blastRadius(scopes, 'session:s-42')).toEqual({ agents: 3, agents_spent_usd: 0.5, scope_spent_usd: 0.5 });
    expect(blastRadius(scopes, 'agent:research-1a')).toEqual({ agents: 1, agents_spent_usd: 0.02, scope_spent_usd: 0.02 });
    expect(blastRadius(scopes, null)).toEqual({ agents: 4, agents_spent_usd: 1.24, scope_spent_usd: 1.24 });
  });

  it('finds the kill that stops a scope', () => {
    expect(killerOf(scopes, 'agent:writer-2')).toBe('task:t-8');
    expect(killerOf(scopes, 'task:t-8')).toBe('task:t-8');
    expect(killerOf(scopes, 'agent:loop-3')).toBeNull();
  });
});
