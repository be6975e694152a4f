import { buildTree as buildScopeTree, childrenIndex, isHot, type SortKey, type TreeRow, withAncestors } from '../shared/format/scope-tree.js';
import type { FeedScope } from '../shared/protocol/operator.js';

type Scopes = Readonly<Record<string, FeedScope>>;

export type { TreeRow } from '../shared/format/scope-tree.js';

export interface TreeView {
  readonly collapsed: ReadonlySet<string>;
  /** Scope names containing this (case-insensitive) are shown, with their ancestors and subtrees. */
  readonly filter: string;
  readonly sort: SortKey;
  /** Only scopes that need the operator (isHot, or waiting on a prompt), with their ancestors. */
  readonly hotOnly: boolean;
}

function nameMatches(scopes: Scopes, filter: string): Set<string> | null {
  const needle = filter.trim().toLowerCase();
  if (needle === '') return null;
  const matches = Object.keys(scopes).filter((id) => id.toLowerCase().includes(needle));
  const keep = withAncestors(scopes, matches);
  const { children } = childrenIndex(scopes);
  const stack = matches.flatMap((id) => children.get(id) ?? []);
  for (let c = stack.pop(); c !== undefined; c = stack.pop()) {
    keep.add(c);
    stack.push(...(children.get(c) ?? []));
  }
  return keep;
}

function hotScopes(scopes: Scopes): Set<string> {
  return withAncestors(
    scopes,
    Object.entries(scopes)
      .filter(([, s]) => isHot(s) || s.state === 'waiting')
      .map(([id]) => id),
  );
}

/** The tree's visible rows, depth first. While filtering, matches are shown even under collapsed scopes. */
export function buildTree(scopes: Scopes, view: TreeView): TreeRow[] {
  const byName = nameMatches(scopes, view.filter);
  const hot = view.hotOnly ? hotScopes(scopes) : null;
  const keep = byName && hot ? new Set([...byName].filter((id) => hot.has(id))) : (byName ?? hot);
  return buildScopeTree(scopes, { sort: view.sort, collapsed: view.collapsed, keep });
}

let cache: { basis: object; view: TreeView; rows: TreeRow[] } | null = null;

/**
 * `buildTree` for the reducer and the screen together. In name order with no "hot" filter the
 * rows change only with the tree's shape (`structure`), so they are not rebuilt on every frame;
 * sorted by a figure or filtered by heat, they follow the figures.
 */
export function treeRows(scopes: Scopes, structure: object, view: TreeView): TreeRow[] {
  const basis = view.sort === 'name' && !view.hotOnly ? structure : scopes;
  if (cache && cache.basis === basis && sameView(cache.view, view)) return cache.rows;
  const rows = buildTree(scopes, view);
  // Only the view's own fields: the state passed as the view would keep a whole old screen alive.
  cache = { basis, view: { collapsed: view.collapsed, filter: view.filter, sort: view.sort, hotOnly: view.hotOnly }, rows };
  return rows;
}

function sameView(a: TreeView, b: TreeView): boolean {
  return a.collapsed === b.collapsed && a.filter === b.filter && a.sort === b.sort && a.hotOnly === b.hotOnly;
}

/** True when `ancestor` is `id` or above it. */
export function isUnder(scopes: Scopes, id: string, ancestor: string): boolean {
  for (let p: string | null = id; p !== null; p = scopes[p]?.parent ?? null) if (p === ancestor) return true;
  return false;
}

/** The scope whose kill stops `id`: itself or the nearest killed ancestor. */
export function killerOf(scopes: Scopes, id: string): string | null {
  for (let p: string | null = id; p !== null; p = scopes[p]?.parent ?? null) if (scopes[p]?.killed) return p;
  return null;
}

export interface BlastRadius {
  /** Connected agents the kill reaches. */
  readonly agents: number;
  /** What those agents have spent so far (a delegated child's spend is inside its parent's). */
  readonly agents_spent_usd: number;
  /** Everything spent under the target. */
  readonly scope_spent_usd: number;
}

function costOf(scope: FeedScope | undefined): number {
  const v = scope?.spent.cost_usd;
  return typeof v === 'number' ? v : 0;
}

/** A connected agent above `id` and within the kill, whose spend already includes this one's. */
function insideConnectedAgent(scopes: Scopes, id: string, target: string | null): boolean {
  if (id === target) return false;
  for (let p = scopes[id]?.parent ?? null; p !== null; p = scopes[p]?.parent ?? null) {
    const scope = scopes[p];
    if (scope?.kind !== 'agent') return false;
    if (scope.agents > 0) return true;
    if (p === target) return false;
  }
  return false;
}

/** What killing `target` (`null`: kill all) would stop, from the live feed. */
export function blastRadius(scopes: Scopes, target: string | null): BlastRadius {
  let agents = 0;
  let spent = 0;
  for (const [id, scope] of Object.entries(scopes)) {
    if (scope.kind !== 'agent' || scope.agents === 0 || (target !== null && !isUnder(scopes, id, target))) continue;
    agents += 1;
    if (!insideConnectedAgent(scopes, id, target)) spent += costOf(scope);
  }
  return { agents, agents_spent_usd: spent, scope_spent_usd: costOf(scopes[target ?? 'global']) };
}

/** Descendants of `id` by kind, for the details view. */
export function descendantCounts(scopes: Scopes, id: string): Record<FeedScope['kind'], number> {
  const counts = { global: 0, user: 0, session: 0, task: 0, agent: 0 };
  for (const [other, scope] of Object.entries(scopes)) if (other !== id && isUnder(scopes, other, id)) counts[scope.kind] += 1;
  return counts;
}
