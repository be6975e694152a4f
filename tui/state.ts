import type { AlertJson, OperatorFrame } from '../shared/protocol/operator.js';
import type { FeedData } from './feed.js';
import type { Context } from './keys.js';

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
  | { readonly kind: 'details'; readonly row: RowKey }
  | { readonly kind: 'filter'; readonly draft: string }
  /** `target: null` kills all. */
  | { readonly kind: 'confirm-kill'; readonly target: string | null }
  | { readonly kind: 'grant'; readonly target: GrantTarget; readonly draft: string; readonly error: string | null };

/** Commands the screen sends; ids are the reducer's, so results match without the socket's help. */
export type Outgoing = Extract<OperatorFrame, { type: 'kill' | 'resume' | 'grant' | 'deny' }>;

export interface Flash {
  readonly level: 'info' | 'warning' | 'error';
  readonly text: string;
  readonly at_ms: number;
}

export interface State {
  readonly readonly: boolean;
  /** The injected clock's time as of the last action: ages and countdowns count from it. */
  readonly now_ms: number;
  readonly connection: Connection;
  /** null until the first frame: nothing is drawn as zero before the daemon said so. */
  readonly data: FeedData | null;
  /** Local time the last frame arrived: how stale `data` is. */
  readonly received_ms: number | null;
  readonly alerts: readonly AlertJson[];
  /** `index` places the cursor when its row disappears (prompt answered, filter changed). */
  readonly selection: { readonly key: RowKey; readonly index: number } | null;
  readonly collapsed: ReadonlySet<string>;
  readonly filter: string;
  readonly mode: Mode;
  /** Commands decided but not yet handed to the socket. */
  readonly outbox: readonly Outgoing[];
  /** Commands sent and not yet answered: id → what they do. */
  readonly inflight: ReadonlyMap<string, string>;
  readonly flash: Flash | null;
  readonly next_request: number;
  readonly quit: boolean;
}

export function initialState(options: { readonly: boolean; now_ms: number }): State {
  return {
    readonly: options.readonly,
    now_ms: options.now_ms,
    connection: { kind: 'connecting', attempt: 1 },
    data: null,
    received_ms: null,
    alerts: [],
    selection: null,
    collapsed: new Set(),
    filter: '',
    mode: { kind: 'main' },
    outbox: [],
    inflight: new Map(),
    flash: null,
    next_request: 1,
    quit: false,
  };
}

/** Focus priority: an open dialog or overlay takes the keys before the screen behind it. */
export function keyContext(mode: Mode): Exclude<Context, 'global'> {
  switch (mode.kind) {
    case 'main':
      return 'main';
    case 'confirm-kill':
      return 'confirm';
    case 'filter':
    case 'grant':
      return 'input';
    case 'help':
    case 'details':
      return 'overlay';
    default:
      return mode satisfies never;
  }
}

/** Countdowns, ages and the reconnect timer move once a second even when no frame arrives. */
export const TICK_MS = 1_000;
