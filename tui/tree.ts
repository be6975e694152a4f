import type { FeedScope } from '../shared/protocol/operator.js';

type Scopes = Readonly<Record<string, FeedScope>>;

/** One visible line of the scope tree: its place only; figures are read from the feed when drawn. */
export interface TreeRow {
  readonly id: string;
  readonly parent: string | null;
  readonly depth: number;
  readonly hasChildren: boolean;
  readonly collapsed: boolean;
}

const KIND_RANK = { global: 0, user: 1, session: 2, task: 3, agent: 4 } as const satisfies Record<FeedScope['kind'], number>;

/**
 * Rows stay in a stable order (kind, then name) rather than by spend: a live list that
 * reorders itself ten times a second moves the row under the operator's cursor.
 */
function byKindThenName(scopes: Scopes): (a: string, b: string) => number {
  return (a, b) => {
    const ka = scopes[a]?.kind ?? 'agent';
    const kb = scopes[b]?.kind ?? 'agent';
    return KIND_RANK[ka] - KIND_RANK[kb] || (a < b ? -1 : a > b ? 1 : 0);
  };
}

function childrenIndex(scopes: Scopes): { roots: string[]; children: Map<string, string[]> } {
  const children = new Map<string, string[]>();
  const roots: string[] = [];
  for (const [id, scope] of Object.entries(scopes)) {
    // A parent the feed has not sent yet: show the scope at the top rather than lose it.
    if (scope.parent === null || scopes[scope.parent] === undefined) roots.push(id);
    else {
      const list = children.get(scope.parent);
      if (list) list.push(id);
      else children.set(scope.parent, [id]);
    }
  }
  const order = byKindThenName(scopes);
  roots.sort(order);
  for (const list of children.values()) list.sort(order);
  return { roots, children };
}

/** Scopes whose name contains `filter`, with their ancestors (to place them) and their subtrees. */
function filterKeep(scopes: Scopes, children: Map<string, string[]>, filter: string): Set<string> | null {
  const needle = filter.trim().toLowerCase();
  if (needle === '') return null;
  const keep = new Set<string>();
  for (const id of Object.keys(scopes)) {
    if (!id.toLowerCase().includes(needle)) continue;
    for (let p: string | null = id; p !== null && !keep.has(p); p = scopes[p]?.parent ?? null) keep.add(p);
    const stack = [...(children.get(id) ?? [])];
    for (let c = stack.pop(); c !== undefined; c = stack.pop()) {
      keep.add(c);
      stack.push(...(children.get(c) ?? []));
    }
  }
  return keep;
}

/** The tree's visible rows, depth first. While filtering, matches are shown even under collapsed scopes. */
export function buildTree(scopes: Scopes, collapsed: ReadonlySet<string>, filter: string): TreeRow[] {
  const { roots, children } = childrenIndex(scopes);
  const keep = filterKeep(scopes, children, filter);
  const rows: TreeRow[] = [];
  // Iterative: delegation chains can be deep, and the call stack is not a bound we state.
  const stack: Array<{ id: string; depth: number }> = roots.map((id) => ({ id, depth: 0 })).reverse();
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const scope = scopes[item.id];
    if (!scope || (keep && !keep.has(item.id))) continue;
    const kids = (children.get(item.id) ?? []).filter((c) => !keep || keep.has(c));
    const isCollapsed = keep === null && collapsed.has(item.id);
    rows.push({ id: item.id, parent: scope.parent, depth: item.depth, hasChildren: kids.length > 0, collapsed: isCollapsed && kids.length > 0 });
    if (!isCollapsed) for (let i = kids.length - 1; i >= 0; i--) stack.push({ id: kids[i] as string, depth: item.depth + 1 });
  }
  return rows;
}

let cache: { structure: object; collapsed: ReadonlySet<string>; filter: string; rows: TreeRow[] } | null = null;

/**
 * `buildTree` for the reducer and the screen together, rebuilt only when the tree's shape
 * (`structure`), the collapsed set or the filter changes — not on every frame.
 */
export function treeRows(scopes: Scopes, structure: object, collapsed: ReadonlySet<string>, filter: string): TreeRow[] {
  if (cache && cache.structure === structure && cache.collapsed === collapsed && cache.filter === filter) return cache.rows;
  const rows = buildTree(scopes, collapsed, filter);
  cache = { structure, collapsed, filter, rows };
  return rows;
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
