import type { SortKey } from '../shared/format/scope-tree.js';
import type { AlertJson, OperatorFrame } from '../shared/protocol/operator.js';
import type { Amount } from './amount.js';
import type { FeedData } from './feed.js';
import type { Context } from './keys.js';
import { isTooSmall, type Size } from './layout.js';

/** Where the feed stands. `attempt` counts connection attempts since the last live feed. */
export type Connection =
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'live'; readonly since_ms: number }
  | {
      readonly kind: 'reconnecting' | 'down';
      readonly attempt: number;
      /** When the next attempt starts; null while it is under way. */
      readonly next_at_ms: number | null;
      readonly since_ms: number;
      readonly reason: string;
    };

/** A selectable row: a pending prompt or a scope of the tree. */
export type RowKey = `prompt:${string}` | `scope:${string}`;

export type GrantTarget = { readonly kind: 'prompt'; readonly prompt: string; readonly scope: string } | { readonly kind: 'scope'; readonly scope: string };

/** What has the keys: the main screen, or one dialog or overlay over it. */
export type Mode =
  | { readonly kind: 'main' }
  | { readonly kind: 'help' }
  /** The whole alert log, newest first, each alert wrapped in full; ↑↓ PgUp PgDn scroll it. */
  | { readonly kind: 'log' }
  | { readonly kind: 'details'; readonly row: RowKey }
  | { readonly kind: 'filter'; readonly draft: string }
  /** `target: null` kills all. */
  | { readonly kind: 'confirm-kill'; readonly target: string | null }
  /** `r` on a scope stopped by an ancestor's kill: resume that ancestor (`null`: the kill-all) after `y`. */
  | { readonly kind: 'confirm-resume'; readonly target: string | null; readonly blocked: string }
  | { readonly kind: 'grant'; readonly target: GrantTarget; readonly draft: string; readonly error: string | null }
  /**
   * A typed grant above the confirmation size (more than the scope's cost limit, or over
   * `confirm_above_usd`): nothing is sent until `y`. Limits are the scope's cost (or token) limit
   * now and after the grant; null: the scope has no such limit of its own.
   */
  | {
      readonly kind: 'confirm-grant';
      readonly target: GrantTarget;
      readonly amount: Amount;
      readonly limit_now: number | null;
      readonly limit_after: number | null;
      /** Why it asks: `over $10`, `more than its $1.00 limit`. */
      readonly why: string;
    };

/**
 * A grant the operator confirmed with `y` carries `confirmed: true`, so the daemon's own size
 * check (approvals.confirm_above_usd) lets it through.
 */
export type GrantFrame = Extract<OperatorFrame, { type: 'grant' }>;

/** Commands the screen sends; ids are the reducer's, so results match without the socket's help. */
export type Outgoing = Extract<OperatorFrame, { type: 'kill' | 'resume' | 'deny' }> | GrantFrame;

export interface Flash {
  readonly level: 'info' | 'warning' | 'error';
  readonly text: string;
  readonly at_ms: number;
}

export interface State {
  readonly readonly: boolean;
  /**
   * The terminal's size, as the key dispatch sees it: below the minimum only quitting and
   * resizing act, whatever is drawn (one source for the screen and the keys).
   */
  readonly size: Size;
  /** The injected clock's time as of the last action: ages and countdowns count from it. */
  readonly now_ms: number;
  readonly connection: Connection;
  /** null until the first frame: nothing is drawn as zero before the daemon said so. */
  readonly data: FeedData | null;
  /** Local time the last frame arrived: how stale `data` is. */
  readonly received_ms: number | null;
  readonly alerts: readonly AlertJson[];
  /**
   * Follows the row's id. When the row disappears (prompt answered, scope removed, filter) the
   * reducer moves it to the nearest remaining sibling or child, never to a wider scope.
   */
  readonly selection: { readonly key: RowKey; readonly index: number } | null;
  readonly collapsed: ReadonlySet<string>;
  readonly filter: string;
  /** Order of siblings in the tree (`s` cycles it). */
  readonly sort: SortKey;
  /** Only scopes that need the operator, with their ancestors (`h`). */
  readonly hotOnly: boolean;
  /** First line of the alert log overlay, counted from the newest. */
  readonly logScroll: number;
  readonly mode: Mode;
  /** Commands decided but not yet handed to the socket. */
  readonly outbox: readonly Outgoing[];
  /** Commands sent and not yet answered: id → what they do. */
  readonly inflight: ReadonlyMap<string, string>;
  readonly flash: Flash | null;
  readonly next_request: number;
  readonly quit: boolean;
}

/** What a terminal that does not say its size is taken to be: the minimum the dashboard is designed for. */
export const DEFAULT_SIZE: Size = { columns: 80, rows: 24 };

export function initialState(options: { readonly: boolean; now_ms: number; size?: Size }): State {
  return {
    readonly: options.readonly,
    size: options.size ?? DEFAULT_SIZE,
    now_ms: options.now_ms,
    connection: { kind: 'connecting', attempt: 1 },
    data: null,
    received_ms: null,
    alerts: [],
    selection: null,
    collapsed: new Set(),
    filter: '',
    sort: 'name',
    hotOnly: false,
    logScroll: 0,
    mode: { kind: 'main' },
    outbox: [],
    inflight: new Map(),
    flash: null,
    next_request: 1,
    quit: false,
  };
}

/**
 * Focus priority: a terminal too small to show anything takes the keys first (only quitting
 * acts there); then an open dialog or overlay, before the screen behind it.
 */
export function keyContext(state: Pick<State, 'mode' | 'size'>): Exclude<Context, 'global'> {
  if (isTooSmall(state.size)) return 'too-small';
  const mode = state.mode;
  switch (mode.kind) {
    case 'main':
      return 'main';
    case 'confirm-kill':
    case 'confirm-resume':
    case 'confirm-grant':
      return 'confirm';
    case 'filter':
    case 'grant':
      return 'input';
    case 'help':
      return 'overlay';
    case 'log':
      return 'log';
    case 'details':
      return mode.row.startsWith('prompt:') ? 'prompt-details' : 'scope-details';
    default:
      return mode satisfies never;
  }
}

/** Countdowns, ages and the reconnect timer move once a second even when no frame arrives. */
export const TICK_MS = 1_000;
