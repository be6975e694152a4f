import type { FeedFrame } from '../shared/protocol/operator.js';
import { parseAmount } from './amount.js';
import { applyFrame, mergeAlerts } from './feed.js';
import { usd } from './format.js';
import { Command, KEY_TABLE, type KeyPress, resolveKey } from './keys.js';
import { promptOf, selectableRows, selectedIndex, selectedKey, selectedScope, targetPrompt, visibleTree } from './select.js';
import { type Connection, type Flash, type GrantTarget, keyContext, type Outgoing, type State, TICK_MS } from './state.js';
import { killerOf } from './tree.js';

export type Action =
  /** Frames that arrived since the last flush, merged (at most ~10 a second). */
  | { readonly type: 'feed'; readonly frame: FeedFrame; readonly now_ms: number }
  | { readonly type: 'connection'; readonly connection: Connection; readonly now_ms: number }
  | { readonly type: 'tick'; readonly now_ms: number }
  | { readonly type: 'key'; readonly press: KeyPress; readonly now_ms: number }
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

export function reducer(state: State, action: Action): State {
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

function onKey(state: State, press: KeyPress): State {
  const context = keyContext(state.mode);
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
      return move(state, -1);
    case Command.Down:
      return move(state, 1);
    case Command.PageUp:
      return move(state, -PAGE_ROWS);
    case Command.PageDown:
      return move(state, PAGE_ROWS);
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
      const scope = selectedScope(state);
      return scope === null ? flash(state, 'info', 'select a scope to kill first (↑↓), or X to kill all') : { ...state, mode: { kind: 'confirm-kill', target: scope } };
    }
    case Command.KillAll:
      return { ...state, mode: { kind: 'confirm-kill', target: null } };
    case Command.Resume:
      return resume(state);
    case Command.Filter:
      return { ...state, mode: { kind: 'filter', draft: state.filter } };
    case Command.Help:
      return { ...state, mode: { kind: 'help' } };
    case Command.ClearSelection:
      return state.filter !== '' ? { ...state, filter: '' } : { ...state, selection: null };
    case Command.Quit:
      return { ...state, quit: true };
    case Command.Confirm:
      return confirmKill(state);
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

function answerPrompt(state: State, command: typeof Command.Approve | typeof Command.AllowOnce | typeof Command.Deny): State {
  const prompt = targetPrompt(state);
  if (prompt === null) return flash(state, 'info', 'no pending prompts');
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
  const key = selectedKey(state);
  const prompt = promptOf(state, key);
  let target: GrantTarget | null = null;
  if (prompt) target = { kind: 'prompt', prompt: prompt.id, scope: prompt.scope };
  else if (key !== null) target = { kind: 'scope', scope: key.slice('scope:'.length) };
  if (target === null) return flash(state, 'info', 'select a scope or prompt to grant to first (↑↓)');
  return { ...state, mode: { kind: 'grant', target, draft: '', error: null } };
}

function resume(state: State): State {
  const scope = selectedScope(state);
  if (scope === null) return flash(state, 'info', 'select a killed scope first (↑↓)');
  const scopes = state.data?.scopes ?? {};
  const killer = killerOf(scopes, scope);
  if (killer === null) return flash(state, 'info', `${scope} is not killed`);
  if (killer !== scope) return flash(state, 'warning', `${scope} is stopped by the kill of ${killer}: select ${killer} and press r`);
  return send(state, (id) => ({ type: 'resume', id, scope }), `resume ${scope}`);
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
    case 'filter':
      return { ...state, filter: '', mode: { kind: 'main' } };
    case 'grant':
      return flash({ ...state, mode: { kind: 'main' } }, 'info', 'grant cancelled: nothing was sent');
    case 'main':
    case 'help':
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
  const target = mode.target.kind === 'prompt' ? mode.target.prompt : mode.target.scope;
  const what = 'add_usd' in amount ? `+${usd(amount.add_usd)}` : `+${amount.add_tokens} tokens`;
  return send({ ...state, mode: { kind: 'main' } }, (id) => ({ type: 'grant', id, target, ...amount }), `grant ${what} to ${target}`);
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

function flash(state: State, level: Flash['level'], text: string): State {
  return { ...state, flash: { level, text, at_ms: state.now_ms } };
}
