import type { ScopeStatus } from '../protocol/operator.js';
import { pressureRank } from './pressure.js';

/**
 * The scope tree as rows, for the TUI and `status` alike: one builder, one sibling order, one
 * "hot" rule, so the two views of a fleet never disagree about where a scope sits or what
 * needs looking at.
 */

/** What the tree needs of a scope: its place and the figures it can be sorted by. */
export type TreeScope = Pick<ScopeStatus, 'parent' | 'spent' | 'pressure' | 'ratio' | 'burn_usd_per_min_1m' | 'killed' | 'killed_by' | 'breaker'>;
type Scopes<S> = Readonly<Record<string, S>>;

/** One line of the tree: its place only; figures are read from the scope when drawn. */
export interface TreeRow {
  readonly id: string;
  readonly parent: string | null;
  readonly depth: number;
  readonly hasChildren: boolean;
  readonly collapsed: boolean;
}

/** Orders of siblings, like k9s's column sorts: the hungriest first, or stable by kind and name. */
export const SORT_KEYS = ['name', 'spend', 'burn', 'pressure'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

const KIND_RANK: Readonly<Record<string, number>> = { global: 0, user: 1, session: 2, task: 3, agent: 4 };

function kindRank(id: string): number {
  return KIND_RANK[id.split(':', 1)[0] ?? ''] ?? 5;
}

function byName(a: string, b: string): number {
  return kindRank(a) - kindRank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

function costOf(s: TreeScope | undefined): number {
  const v = s?.spent.cost_usd;
  return typeof v === 'number' ? v : 0;
}

/** Larger first; a figure not known yet (null) sorts after every known one. */
function descending(a: number | null | undefined, b: number | null | undefined): number {
  return (b ?? -Infinity) - (a ?? -Infinity);
}

/** How siblings are ordered under `sort`; ties fall back to kind and name, so the order is total. */
export function siblingOrder<S extends TreeScope>(scopes: Scopes<S>, sort: SortKey): (a: string, b: string) => number {
  switch (sort) {
    case 'name':
      return byName;
    case 'spend':
      return (a, b) => descending(costOf(scopes[a]), costOf(scopes[b])) || byName(a, b);
    case 'burn':
      return (a, b) => descending(scopes[a]?.burn_usd_per_min_1m, scopes[b]?.burn_usd_per_min_1m) || byName(a, b);
    case 'pressure':
      return (a, b) => {
        const sa = scopes[a];
        const sb = scopes[b];
        return descending(sa ? pressureRank(sa.pressure) : null, sb ? pressureRank(sb.pressure) : null) || descending(sa?.ratio, sb?.ratio) || byName(a, b);
      };
    default:
      return sort satisfies never;
  }
}

/** Needs the operator's eye: any pressure above ok, stopped by a kill, or a breaker not closed. */
export function isHot(s: TreeScope): boolean {
  return s.pressure !== 'ok' || s.killed || s.killed_by !== null || s.breaker !== 'closed';
}

/** A parent the view does not hold (not sent yet, or cut by a bound) leaves its child at the top, not lost. */
function parentOf<S extends TreeScope>(scopes: Scopes<S>, id: string): string | null {
  const parent = scopes[id]?.parent ?? null;
  return parent !== null && scopes[parent] !== undefined ? parent : null;
}

export function childrenIndex<S extends TreeScope>(scopes: Scopes<S>): { roots: string[]; children: Map<string, string[]> } {
  const children = new Map<string, string[]>();
  const roots: string[] = [];
  for (const id of Object.keys(scopes)) {
    const parent = parentOf(scopes, id);
    if (parent === null) roots.push(id);
    else {
      const list = children.get(parent);
      if (list) list.push(id);
      else children.set(parent, [id]);
    }
  }
  return { roots, children };
}

/** `ids` and every ancestor of theirs: what a filtered tree keeps so each match stays in its place. */
export function withAncestors<S extends TreeScope>(scopes: Scopes<S>, ids: Iterable<string>, into = new Set<string>()): Set<string> {
  for (const id of ids) for (let p: string | null = id; p !== null && !into.has(p); p = parentOf(scopes, p)) into.add(p);
  return into;
}

export interface TreeOptions {
  readonly sort?: SortKey;
  /** Scopes whose children are hidden (ignored while `keep` filters). */
  readonly collapsed?: ReadonlySet<string>;
  /** Only these rows are shown (null: all). Callers include ancestors, so nothing floats loose. */
  readonly keep?: ReadonlySet<string> | null;
}

/** The tree's visible rows, depth first. */
export function buildTree<S extends TreeScope>(scopes: Scopes<S>, options: TreeOptions = {}): TreeRow[] {
  const { roots, children } = childrenIndex(scopes);
  const order = siblingOrder(scopes, options.sort ?? 'name');
  const keep = options.keep ?? null;
  const collapsed = options.collapsed ?? new Set<string>();
  roots.sort(order);
  for (const list of children.values()) list.sort(order);
  const rows: TreeRow[] = [];
  // Iterative: delegation chains can be deep, and the call stack is not a bound we state.
  const stack: Array<{ id: string; depth: number }> = roots.map((id) => ({ id, depth: 0 })).reverse();
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (scopes[item.id] === undefined || (keep && !keep.has(item.id))) continue;
    const kids = (children.get(item.id) ?? []).filter((c) => !keep || keep.has(c));
    const isCollapsed = keep === null && collapsed.has(item.id) && kids.length > 0;
    rows.push({ id: item.id, parent: parentOf(scopes, item.id), depth: item.depth, hasChildren: kids.length > 0, collapsed: isCollapsed });
    if (!isCollapsed) for (let i = kids.length - 1; i >= 0; i--) stack.push({ id: kids[i] as string, depth: item.depth + 1 });
  }
  return rows;
}
