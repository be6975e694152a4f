import type { FeedFrame } from '../shared/protocol/operator.js';
import { type Amount, parseAmount } from './amount.js';
import { SORT_KEYS } from '../shared/format/scope-tree.js';
import { alertRows } from './alert-rows.js';
import { applyFrame, mergeAlerts } from './feed.js';
import { usd } from './format.js';
import { Command, KEY_TABLE, type KeyPress, resolveKey } from './keys.js';
import { isTooSmall, type Size } from './layout.js';
import { promptOf, scopeOfRow, selectableRows, selectedIndex, selectedKey, sortedPrompts, targetPrompt, visibleTree } from './select.js';
import { type Connection, type Flash, type GrantTarget, keyContext, type Outgoing, type RowKey, type State, TICK_MS } from './state.js';
import { isUnder, killerOf } from './tree.js';

export type Action =
  /** Frames that arrived since the last flush, merged (at most ~10 a second). */
  | { readonly type: 'feed'; readonly frame: FeedFrame; readonly now_ms: number }
  | { readonly type: 'connection'; readonly connection: Connection; readonly now_ms: number }
  | { readonly type: 'tick'; readonly now_ms: number }
  | { readonly type: 'key'; readonly press: KeyPress; readonly now_ms: number }
  /** The terminal was resized (and once at start): the key dispatch reads the size from here. */
  | { readonly type: 'resize'; readonly size: Size; readonly now_ms: number }
  /** The outbox was handed to the socket. */
  | { readonly type: 'sent'; readonly ids: readonly string[] }
  /** The daemon's answer to one of our commands, or to nothing we sent (`id: null`). */
  | { readonly type: 'result'; readonly id: string | null; readonly ok: boolean; readonly message: string; readonly now_ms: number }
  | { readonly type: 'notice'; readonly level: Flash['level']; readonly message: string; readonly now_ms: number };

const PAGE_ROWS = 10;
const MAX_FILTER_CHARS = 64;
const MAX_AMOUNT_CHARS = 24;
/** Bound on commands waiting for an answer; past it the screen refuses rather than queue. */
const MAX_INFLIGHT = 64;
const KILL_REASON = 'killed from spendguard top';
/** A typed grant over this many dollars asks for `y` (unless the daemon's feed says otherwise). */
export const CONFIRM_ABOVE_USD = 10;

/**
 * The one reducer. Whatever the action, the selection is then re-anchored: it stays on its row,
 * or moves to the nearest remaining sibling or child, never to a wider scope.
 */
export function reducer(state: State, action: Action): State {
  const next = step(state, action);
  return next === state ? state : settleSelection(state, next);
}

function step(state: State, action: Action): State {
  switch (action.type) {
    case 'feed':
      return {
        ...state,
        now_ms: action.now_ms,
        data: applyFrame(state.data, action.frame),
        received_ms: action.now_ms,
        alerts: mergeAlerts(state.alerts, action.frame.alerts),
      };
    case 'connection':
      return { ...state, now_ms: action.now_ms, connection: action.connection };
    case 'tick':
      // While frames keep coming, each one already moved the clock and redrew: a tick would
      // only draw the same screen again (the dashboard's CPU is mostly Ink drawing frames).
      if (state.connection.kind === 'live' && state.received_ms !== null && action.now_ms - state.received_ms < TICK_MS) return state;
      return { ...state, now_ms: action.now_ms };
    case 'key':
      return onKey({ ...state, now_ms: action.now_ms }, action.press);
    case 'resize':
      return onResize(state, action.size, action.now_ms);
    case 'sent':
      return { ...state, outbox: state.outbox.filter((o) => !action.ids.includes(o.id)) };
    case 'result':
      return onResult({ ...state, now_ms: action.now_ms }, action.id, action.ok, action.message);
    case 'notice':
      return flash({ ...state, now_ms: action.now_ms }, action.level, action.message);
    default:
      return action satisfies never;
  }
}

/**
 * A terminal too small to draw the dashboard closes whatever dialog is open: a kill
 * confirmation or a grant that cannot be seen must not be answerable by the next key.
 */
function onResize(state: State, size: Size, now_ms: number): State {
  if (size.columns === state.size.columns && size.rows === state.size.rows) return state;
  const resized = { ...state, size, now_ms };
  if (!isTooSmall(size)) return resized;
  switch (state.mode.kind) {
    case 'main':
      return resized;
    case 'filter':
      // The filter typed so far stays applied; only the typing ends.
      return { ...resized, mode: { kind: 'main' } };
    case 'help':
    case 'log':
    case 'details':
      return { ...resized, mode: { kind: 'main' } };
    case 'confirm-kill':
    case 'confirm-resume':
    case 'confirm-grant':
    case 'grant':
      return flash({ ...resized, mode: { kind: 'main' } }, 'warning', `${state.mode.kind === 'confirm-kill' ? 'kill' : state.mode.kind === 'confirm-resume' ? 'resume' : 'grant'} cancelled: the terminal got too small; nothing was sent`);
    default:
      return state.mode satisfies never;
  }
}

function onKey(state: State, press: KeyPress): State {
  // The too-small screen is a context of its own: there, only quitting is bound.
  const context = keyContext(state);
  // A kill is confirmed by a deliberate key, never by a paste or a burst of held keys.
  if (context === 'confirm' && press.burst && press.name !== 'ctrl+c') return onCommand(state, Command.Cancel);
  const resolved = resolveKey(context, press);
  if (resolved === null) return state;
  if (resolved.kind === 'text') return typeText(state, resolved.text);
  return onCommand(state, resolved.command);
}

function onCommand(state: State, command: Command): State {
  if (state.readonly && KEY_TABLE.some((b) => b.command === command && b.mutates)) {
    return flash(state, 'warning', `read-only: ${command.replace('-', ' ')} is off (top was started with --readonly)`);
  }
  switch (command) {
    case Command.Up:
      return state.mode.kind === 'log' ? scrollLog(state, -1) : move(state, -1);
    case Command.Down:
      return state.mode.kind === 'log' ? scrollLog(state, 1) : move(state, 1);
    case Command.PageUp:
      return state.mode.kind === 'log' ? scrollLog(state, -PAGE_ROWS) : move(state, -PAGE_ROWS);
    case Command.PageDown:
      return state.mode.kind === 'log' ? scrollLog(state, PAGE_ROWS) : move(state, PAGE_ROWS);
    case Command.Collapse:
      return collapse(state);
    case Command.Expand:
      return expand(state);
    case Command.Details: {
      const key = selectedKey(state);
      return key === null ? flash(state, 'info', 'select a row first (↑↓)') : { ...state, mode: { kind: 'details', row: key } };
    }
    case Command.Approve:
    case Command.AllowOnce:
    case Command.Deny:
      return answerPrompt(state, command);
    case Command.Grant:
      return openGrant(state);
    case Command.Kill: {
      const scope = scopeOfRow(state, actingRow(state));
      return scope === null ? flash(state, 'info', 'select a scope to kill first (↑↓), or X to kill all') : { ...state, mode: { kind: 'confirm-kill', target: scope } };
    }
    case Command.KillAll:
      return { ...state, mode: { kind: 'confirm-kill', target: null } };
    case Command.Resume:
      return resume(state);
    case Command.Filter:
      return { ...state, mode: { kind: 'filter', draft: state.filter } };
    case Command.Sort: {
      const sort = SORT_KEYS[(SORT_KEYS.indexOf(state.sort) + 1) % SORT_KEYS.length] ?? 'name';
      return flash({ ...state, sort }, 'info', sort === 'name' ? 'sorted by kind and name (stable)' : `siblings sorted by ${sort}, highest first (s: next order)`);
    }
    case Command.HotOnly:
      return flash({ ...state, hotOnly: !state.hotOnly }, 'info', state.hotOnly ? 'showing every scope' : 'hot only: scopes under pressure, killed, tripped or waiting, with their parents (h: all)');
    case Command.AlertLog:
      return { ...state, mode: { kind: 'log' }, logScroll: 0 };
    case Command.Help:
      return { ...state, mode: { kind: 'help' } };
    case Command.ClearSelection:
      return state.filter !== '' ? { ...state, filter: '' } : { ...state, selection: null };
    case Command.Quit:
      return { ...state, quit: true };
    case Command.Confirm:
      return state.mode.kind === 'confirm-grant' ? confirmGrant(state) : state.mode.kind === 'confirm-resume' ? confirmResume(state) : confirmKill(state);
    case Command.Cancel:
      return cancel(state);
    case Command.Submit:
      return submit(state);
    case Command.Erase:
      return editDraft(state, (draft) => [...draft].slice(0, -1).join(''));
    case Command.Close:
      return { ...state, mode: { kind: 'main' } };
    default:
      return command satisfies never;
  }
}

/** The log scrolls by alert (folded like the panel), newest at the top; it cannot run past the oldest. */
function scrollLog(state: State, delta: number): State {
  const last = Math.max(0, alertRows(state.alerts).length - 1);
  const logScroll = Math.min(last, Math.max(0, state.logScroll + delta));
  return logScroll === state.logScroll ? state : { ...state, logScroll };
}

function move(state: State, delta: number): State {
  const rows = selectableRows(state);
  if (rows.length === 0) return state;
  const current = selectedIndex(state);
  const next = current === null ? 0 : Math.min(rows.length - 1, Math.max(0, current + delta));
  const key = rows[next];
  return key === undefined ? state : { ...state, selection: { key, index: next } };
}

function selectScope(state: State, id: string): State {
  const key = `scope:${id}` as const;
  const index = selectableRows(state).indexOf(key);
  return index < 0 ? state : { ...state, selection: { key, index } };
}

function selectedTreeRow(state: State) {
  const key = selectedKey(state);
  if (key === null || !key.startsWith('scope:')) return null;
  const id = key.slice('scope:'.length);
  return visibleTree(state).find((r) => r.id === id) ?? null;
}

function collapse(state: State): State {
  const row = selectedTreeRow(state);
  if (!row) return state;
  if (row.hasChildren && !row.collapsed) return { ...state, collapsed: new Set([...state.collapsed, row.id]) };
  return row.parent === null ? state : selectScope(state, row.parent);
}

function expand(state: State): State {
  const row = selectedTreeRow(state);
  if (!row || !row.hasChildren) return state;
  if (row.collapsed) {
    const collapsed = new Set(state.collapsed);
    collapsed.delete(row.id);
    return { ...state, collapsed };
  }
  return move(state, 1);
}

/**
 * The row a command acts on: the one whose details are open (never another, even if the cursor
 * moved under the overlay), else the highlighted one.
 */
function actingRow(state: State): RowKey | null {
  return state.mode.kind === 'details' ? state.mode.row : selectedKey(state);
}

function answerPrompt(state: State, command: typeof Command.Approve | typeof Command.AllowOnce | typeof Command.Deny): State {
  const details = state.mode.kind === 'details' ? state.mode.row : null;
  const prompt = details === null ? targetPrompt(state) : promptOf(state, details);
  if (prompt === null) return flash({ ...state, mode: { kind: 'main' } }, 'info', details === null ? 'no pending prompts' : `${details.slice('prompt:'.length)} is answered or gone: nothing was sent`);
  if (details !== null) state = { ...state, mode: { kind: 'main' } };
  const who = `${prompt.id} (${prompt.agent} on ${prompt.scope})`;
  switch (command) {
    case Command.Approve: {
      const increment = state.data?.approvals.increment_usd;
      return send(state, (id) => ({ type: 'grant', id, target: prompt.id }), `approve ${who}${increment === undefined ? '' : ` +${usd(increment)}`}`);
    }
    case Command.AllowOnce:
      return send(state, (id) => ({ type: 'grant', id, target: prompt.id, once: true }), `allow once ${who}`);
    case Command.Deny:
      return send(state, (id) => ({ type: 'deny', id, prompt: prompt.id }), `deny ${who}`);
    default:
      return command satisfies never;
  }
}

function openGrant(state: State): State {
  const key = actingRow(state);
  const prompt = promptOf(state, key);
  let target: GrantTarget | null = null;
  if (prompt) target = { kind: 'prompt', prompt: prompt.id, scope: prompt.scope };
  else if (key !== null) target = { kind: 'scope', scope: key.slice('scope:'.length) };
  if (target === null) return flash(state, 'info', state.mode.kind === 'details' ? 'that prompt is answered or gone: nothing to grant to' : 'select a scope or prompt to grant to first (↑↓)');
  return { ...state, mode: { kind: 'grant', target, draft: '', error: null } };
}

function resume(state: State): State {
  const scope = scopeOfRow(state, actingRow(state));
  if (scope === null) return flash(state, 'info', 'select a killed scope first (↑↓)');
  const scopes = state.data?.scopes ?? {};
  const killer = killerOf(scopes, scope);
  if (killer === null) return flash(state, 'info', `${scope} is not killed`);
  // Stopped from above: resuming the scope itself would change nothing, so r offers the kill that stops it.
  if (killer !== scope) return { ...state, mode: { kind: 'confirm-resume', target: killer === 'global' ? null : killer, blocked: scope } };
  return send({ ...state, mode: { kind: 'main' } }, (id) => ({ type: 'resume', id, scope }), `resume ${scope}`);
}

function confirmResume(state: State): State {
  if (state.mode.kind !== 'confirm-resume') return state;
  const target = state.mode.target;
  const main: State = { ...state, mode: { kind: 'main' } };
  if (target === null) return send(main, (id) => ({ type: 'resume', id, all: true }), 'resume all');
  return send(main, (id) => ({ type: 'resume', id, scope: target }), `resume ${target}`);
}

function confirmKill(state: State): State {
  if (state.mode.kind !== 'confirm-kill') return state;
  const target = state.mode.target;
  const main: State = { ...state, mode: { kind: 'main' } };
  if (target === null) return send(main, (id) => ({ type: 'kill', id, all: true, reason: KILL_REASON }), 'kill all');
  return send(main, (id) => ({ type: 'kill', id, scope: target, reason: KILL_REASON }), `kill ${target}`);
}

function cancel(state: State): State {
  switch (state.mode.kind) {
    case 'confirm-kill':
      return flash({ ...state, mode: { kind: 'main' } }, 'info', 'kill cancelled: nothing was sent');
    case 'confirm-resume':
      return flash({ ...state, mode: { kind: 'main' } }, 'info', 'resume cancelled: nothing was sent');
    case 'filter':
      return { ...state, filter: '', mode: { kind: 'main' } };
    case 'grant':
    case 'confirm-grant':
      return flash({ ...state, mode: { kind: 'main' } }, 'info', 'grant cancelled: nothing was sent');
    case 'main':
    case 'help':
    case 'log':
    case 'details':
      return { ...state, mode: { kind: 'main' } };
    default:
      return state.mode satisfies never;
  }
}

function submit(state: State): State {
  const mode = state.mode;
  if (mode.kind === 'filter') return { ...state, mode: { kind: 'main' } };
  if (mode.kind !== 'grant') return state;
  const amount = parseAmount(mode.draft);
  if ('error' in amount) return { ...state, mode: { ...mode, error: amount.error } };
  const size = grantSize(state, mode.target, amount);
  if (size.why !== null) return { ...state, mode: { kind: 'confirm-grant', target: mode.target, amount, limit_now: size.limit_now, limit_after: size.limit_after, why: size.why } };
  return sendGrant({ ...state, mode: { kind: 'main' } }, mode.target, amount, false);
}

function confirmGrant(state: State): State {
  const mode = state.mode;
  if (mode.kind !== 'confirm-grant') return state;
  return sendGrant({ ...state, mode: { kind: 'main' } }, mode.target, mode.amount, true);
}

function sendGrant(state: State, to: GrantTarget, amount: Amount, confirmed: boolean): State {
  const target = to.kind === 'prompt' ? to.prompt : to.scope;
  const what = 'add_usd' in amount ? `+${usd(amount.add_usd)}` : `+${amount.add_tokens} tokens`;
  return send(state, (id) => ({ type: 'grant', id, target, ...amount, ...(confirmed ? { confirmed: true } : {}) }), `grant ${what} to ${target}`);
}

/** The dollar size above which a typed grant asks first: the daemon's setting when its feed carries one. */
export function confirmAboveUsd(state: State): number {
  // Read by name: a daemon that does not send the setting yet leaves the default.
  const approvals: Readonly<Record<string, unknown>> = state.data?.approvals ?? {};
  const above = approvals.confirm_above_usd;
  return typeof above === 'number' ? above : CONFIRM_ABOVE_USD;
}

/**
 * Whether a typed grant is large enough to ask `y` first: more than the scope's current limit
 * (the one the grant raises: cost for dollars, tokens for tokens), or more than
 * `confirmAboveUsd` dollars. Also the limit now and after, for the question.
 */
export function grantSize(state: State, target: GrantTarget, amount: Amount): { why: string | null; limit_now: number | null; limit_after: number | null } {
  const scope = state.data?.scopes[target.scope];
  if ('add_usd' in amount) {
    const prompt = target.kind === 'prompt' ? sortedPrompts(state).find((p) => p.id === target.prompt) : undefined;
    const own = scope?.limit.cost_usd;
    const limit_now = prompt?.limit_usd ?? (typeof own === 'number' ? own : null);
    const limit_after = limit_now === null ? null : limit_now + amount.add_usd;
    const above = confirmAboveUsd(state);
    const why = amount.add_usd > above ? `over ${usd(above)}` : limit_now !== null && amount.add_usd > limit_now ? `more than its ${usd(limit_now)} limit` : null;
    return { why, limit_now, limit_after };
  }
  const own = scope?.limit.tokens;
  const limit_now = typeof own === 'number' ? own : null;
  const why = limit_now !== null && amount.add_tokens > limit_now ? `more than its ${limit_now} token limit` : null;
  return { why, limit_now, limit_after: limit_now === null ? null : limit_now + amount.add_tokens };
}

function typeText(state: State, text: string): State {
  return editDraft(state, (draft) => draft + text);
}

function editDraft(state: State, edit: (draft: string) => string): State {
  const mode = state.mode;
  if (mode.kind === 'filter') {
    const draft = [...edit(mode.draft)].slice(0, MAX_FILTER_CHARS).join('');
    // The tree follows the filter as it is typed.
    return { ...state, filter: draft, mode: { ...mode, draft } };
  }
  if (mode.kind === 'grant') return { ...state, mode: { ...mode, draft: [...edit(mode.draft)].slice(0, MAX_AMOUNT_CHARS).join(''), error: null } };
  return state;
}

/** Queues a command for the socket; its id is ours so the result finds its way back. */
function send(state: State, build: (id: string) => Outgoing, what: string): State {
  if (state.inflight.size >= MAX_INFLIGHT) return flash(state, 'error', `${MAX_INFLIGHT} commands are still waiting for the daemon; not sent: ${what}`);
  const id = `tui-${state.next_request}`;
  const inflight = new Map(state.inflight);
  inflight.set(id, what);
  return flash({ ...state, next_request: state.next_request + 1, outbox: [...state.outbox, build(id)], inflight }, 'info', `${what}…`);
}

function onResult(state: State, id: string | null, ok: boolean, message: string): State {
  const what = id === null ? undefined : state.inflight.get(id);
  if (what === undefined) return ok ? state : flash(state, 'error', `daemon: ${message}`);
  const inflight = new Map(state.inflight);
  inflight.delete(id as string);
  return flash({ ...state, inflight }, ok ? 'info' : 'error', ok ? message : `${what} failed: ${message}`);
}

/**
 * Keeps the cursor on its row. A row that went away (prompt answered, denied, timed out; scope
 * removed or filtered out) hands the cursor to its nearest remaining sibling, else to something
 * under it — never to a parent or to global, where the next `x` would kill more than the
 * operator was looking at. With nothing suitable left the selection is cleared.
 */
function settleSelection(before: State, after: State): State {
  const selection = after.selection;
  if (selection === null) return after;
  const rows = selectableRows(after);
  const index = rows.indexOf(selection.key);
  if (index >= 0) return index === selection.index ? after : { ...after, selection: { key: selection.key, index } };
  const key = selection.key.startsWith('prompt:') ? promptSuccessor(before, after, selection.key) : scopeSuccessor(before, after, selection.key.slice('scope:'.length));
  return { ...after, selection: key === null ? null : { key, index: rows.indexOf(key) } };
}

/** The nearest prompt that was listed with it and is still pending; else the agent that asked. */
function promptSuccessor(before: State, after: State, gone: RowKey): RowKey | null {
  const old = sortedPrompts(before).map((p): RowKey => `prompt:${p.id}`);
  const rows = new Set(selectableRows(after));
  const nearest = nearestOf(old, old.indexOf(gone), (k) => rows.has(k));
  if (nearest !== null) return nearest;
  const agent = promptOf(before, gone)?.agent;
  const agentRow: RowKey | null = agent === undefined ? null : `scope:${agent}`;
  return agentRow !== null && rows.has(agentRow) ? agentRow : null;
}

/** The nearest remaining sibling (same parent) in the old order; else the first row still under it. */
function scopeSuccessor(before: State, after: State, gone: string): RowKey | null {
  const oldScopes = before.data?.scopes ?? {};
  const newScopes = after.data?.scopes ?? {};
  const parent = oldScopes[gone]?.parent ?? newScopes[gone]?.parent ?? null;
  const visible = new Set(visibleTree(after).map((r) => r.id));
  const siblings = visibleTree(before)
    .map((r) => r.id)
    .filter((id) => id === gone || (oldScopes[id]?.parent ?? null) === parent);
  const sibling = nearestOf(siblings, siblings.indexOf(gone), (id) => id !== gone && visible.has(id) && (newScopes[id]?.parent ?? null) === parent);
  if (sibling !== null) return `scope:${sibling}`;
  const child = visibleTree(after).find((r) => r.id !== gone && isUnder(newScopes, r.id, gone));
  return child === undefined ? null : `scope:${child.id}`;
}

/** The element of `list` closest to `at` that passes `ok`; on a tie the later one (the row that moved up into its place). */
function nearestOf<T>(list: readonly T[], at: number, ok: (item: T) => boolean): T | null {
  if (at < 0) return null;
  for (let d = 1; d < list.length; d++) {
    const later = list[at + d];
    if (later !== undefined && ok(later)) return later;
    const earlier = list[at - d];
    if (earlier !== undefined && ok(earlier)) return earlier;
  }
  return null;
}

function flash(state: State, level: Flash['level'], text: string): State {
  return { ...state, flash: { level, text, at_ms: state.now_ms } };
}
