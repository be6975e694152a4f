import type { AgentRequest, DaemonFrame, Hello } from '../../shared/protocol/agent.js';
import type { OperatorFrame, OperatorResult } from '../../shared/protocol/operator.js';
import type { Config } from '../config/schema.js';
import type { ActionRow } from './actions.js';
import type { LoadedScope } from './memory.js';
import type { ScopeId } from './scope.js';
import type { ConnId } from './state.js';

export type EngineEvent =
  /** A socket was accepted: errors can be sent to it before its hello. */
  | { readonly type: 'open'; readonly conn: ConnId; readonly key?: string }
  | { readonly type: 'hello'; readonly conn: ConnId; readonly frame: Hello }
  /** `key_known`: the shell found the frame's idempotency key in the ledger or the unflushed batch. */
  | { readonly type: 'agent'; readonly conn: ConnId; readonly frame: AgentRequest; readonly key_known: boolean }
  | { readonly type: 'disconnect'; readonly conn: ConnId }
  /** `secret`: the shell's random key for a `key_create` (the engine makes no randomness). */
  | { readonly type: 'operator'; readonly conn: ConnId; readonly frame: OperatorFrame; readonly actor: string; readonly secret?: string }
  | { readonly type: 'tick' }
  | { readonly type: 'config'; readonly config: Config; readonly path: string | null }
  | { readonly type: 'config_error'; readonly error: string }
  /** The shell's ledger writes failed (`writable: false`, with why) or succeed again: fail closed meanwhile. */
  | { readonly type: 'ledger'; readonly writable: boolean; readonly error: string | null }
  /** Scopes the shell read back from the ledger because the next event names them and they had left memory. */
  | { readonly type: 'load'; readonly scopes: readonly LoadedScope[] }
  /** The ledger confirmed a snapshot of these scopes' counters as of engine version `version`. */
  | { readonly type: 'persisted'; readonly scopes: readonly ScopeId[]; readonly version: number };

export interface UsageRow {
  readonly key: string;
  /** The key's namespace (`namespaceOf`): the ledger keeps a key unique within it. */
  readonly ns: string;
  readonly ts: number;
  readonly kind: 'commit' | 'spend';
  readonly user: string;
  readonly session: string;
  readonly task: string;
  readonly agent: string;
  readonly chain: readonly string[];
  readonly model: string | null;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_tokens: number;
  readonly cache_write_tokens: number;
  readonly cost_nano: number;
  readonly tool: string | null;
  readonly op: string | null;
  readonly overshoot: boolean;
}

export type { ActionRow } from './actions.js';

export type AlertLevel = 'info' | 'warning' | 'critical';

export interface Alert {
  readonly seq: number;
  readonly at_ms: number;
  readonly level: AlertLevel;
  readonly kind: 'threshold' | 'kill' | 'resume' | 'overshoot' | 'prompt' | 'grant' | 'config' | 'pricing' | 'breaker' | 'loop' | 'amplification' | 'fanout' | 'rate' | 'tool' | 'wall_time' | 'ledger' | 'key';
  readonly scope: string;
  readonly message: string;
}

export type Effect =
  | { readonly type: 'send'; readonly conn: ConnId; readonly frame: DaemonFrame | OperatorResult }
  | { readonly type: 'close'; readonly conn: ConnId }
  | { readonly type: 'usage'; readonly row: UsageRow }
  | { readonly type: 'action'; readonly row: ActionRow }
  | { readonly type: 'alert'; readonly alert: Alert };
