import type { Prompt } from './feed.js';
import type { RowKey, State } from './state.js';
import { treeRows, type TreeRow } from './tree.js';

/** Derived views of the state, shared by the reducer and the screen so both see the same rows. */

const sortedCache = new WeakMap<readonly Prompt[], readonly Prompt[]>();

/** Oldest first: the one to answer next, and the one a/o/d act on when no prompt is highlighted. */
export function sortedPrompts(state: State): readonly Prompt[] {
  const prompts = state.data?.prompts ?? [];
  let sorted = sortedCache.get(prompts);
  if (!sorted) {
    sorted = [...prompts].sort((a, b) => b.age_ms - a.age_ms || (a.id < b.id ? -1 : 1));
    sortedCache.set(prompts, sorted);
  }
  return sorted;
}

const NO_SCOPES = {};
const NO_STRUCTURE = {};

export function visibleTree(state: State): TreeRow[] {
  return treeRows(state.data?.scopes ?? NO_SCOPES, state.data?.structure ?? NO_STRUCTURE, state);
}

const rowsCache = new WeakMap<readonly Prompt[], WeakMap<TreeRow[], readonly RowKey[]>>();

/** Every selectable row in screen order: the approvals panel first, then the tree. */
export function selectableRows(state: State): readonly RowKey[] {
  const prompts = sortedPrompts(state);
  const tree = visibleTree(state);
  let byTree = rowsCache.get(prompts);
  if (!byTree) rowsCache.set(prompts, (byTree = new WeakMap()));
  let rows = byTree.get(tree);
  if (!rows) {
    rows = [...prompts.map((p): RowKey => `prompt:${p.id}`), ...tree.map((r): RowKey => `scope:${r.id}`)];
    byTree.set(tree, rows);
  }
  return rows;
}

/** The highlighted row's index; when its row went away, the row now at the same place. */
export function selectedIndex(state: State): number | null {
  if (state.selection === null) return null;
  const rows = selectableRows(state);
  if (rows.length === 0) return null;
  const found = rows.indexOf(state.selection.key);
  return found >= 0 ? found : Math.min(state.selection.index, rows.length - 1);
}

export function selectedKey(state: State): RowKey | null {
  const index = selectedIndex(state);
  return index === null ? null : (selectableRows(state)[index] ?? null);
}

export function promptOf(state: State, key: RowKey | null): Prompt | null {
  if (key === null || !key.startsWith('prompt:')) return null;
  const id = key.slice('prompt:'.length);
  return sortedPrompts(state).find((p) => p.id === id) ?? null;
}

/** a / o / d act on the highlighted prompt, or the oldest when none is highlighted (SPEC §5). */
export function targetPrompt(state: State): Prompt | null {
  return promptOf(state, selectedKey(state)) ?? sortedPrompts(state)[0] ?? null;
}

/** The scope x / r act on for a row: the scope itself, or the agent of a prompt; null once it left the feed. */
export function scopeOfRow(state: State, key: RowKey | null): string | null {
  if (key === null) return null;
  const id = key.startsWith('scope:') ? key.slice('scope:'.length) : (promptOf(state, key)?.agent ?? null);
  return id !== null && state.data?.scopes[id] !== undefined ? id : null;
}

/** The scope x / r / g act on: the highlighted scope, or the agent of the highlighted prompt. */
export function selectedScope(state: State): string | null {
  return scopeOfRow(state, selectedKey(state));
}

/** Feed figures are as of the frame; ages and countdowns move on with the local clock between frames. */
export function sinceFrame(state: State): number {
  return state.received_ms === null ? 0 : Math.max(0, state.now_ms - state.received_ms);
}

export function promptExpiresIn(state: State, prompt: Prompt): number {
  return Math.max(0, prompt.expires_in_ms - sinceFrame(state));
}

export function promptAge(state: State, prompt: Prompt): number {
  return prompt.age_ms + sinceFrame(state);
}

/** Data is stale whenever the feed is not live; the screen dims it and says how old it is. */
export function isStale(state: State): boolean {
  return state.data !== null && state.connection.kind !== 'live';
}
