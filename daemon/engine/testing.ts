import type { AgentRequest, DaemonFrame, Hello } from '../../shared/protocol/agent.js';
import { ledgerKeyFor, namespacedKey } from './settlement.js';
import type { OperatorFrame, OperatorResult } from '../../shared/protocol/operator.js';
import { ConfigSchema, type Config } from '../config/schema.js';
import { Engine, type RestoredState } from './engine.js';
import type { ActionRow, Effect, UsageRow } from './events.js';
import type { ScopeState } from './state.js';

/**
 * A driver for the engine in tests and simulations: plays the shell's part (idempotency-key
 * lookups, the ledger as a list of rows, an injected clock) without sockets or SQLite.
 */
export class EngineDriver {
  readonly engine: Engine;
  readonly ledger: UsageRow[] = [];
  readonly actions: ActionRow[] = [];
  readonly keys = new Set<string>();
  readonly inbox = new Map<number, Array<DaemonFrame | OperatorResult>>();
  now: number;
  private nextConn = 1;

  constructor(config: unknown, opts: { now?: number; epoch?: number; restored?: RestoredState } = {}) {
    this.now = opts.now ?? Date.UTC(2026, 10, 24, 12, 0, 0);
    this.engine = new Engine({ config: ConfigSchema.parse(config) as Config, epoch: opts.epoch ?? 1, now: this.now, ...(opts.restored ? { restored: opts.restored } : {}) });
  }

  private apply(effects: Effect[]): Effect[] {
    for (const e of effects) {
      if (e.type === 'usage') {
        const key = namespacedKey(e.row.ns, e.row.key);
        if (this.keys.has(key)) throw new Error(`duplicate ledger key ${e.row.key} in ${e.row.ns}`);
        this.keys.add(key);
        this.ledger.push(e.row);
      } else if (e.type === 'action') {
        this.actions.push(e.row);
      } else if (e.type === 'send') {
        let list = this.inbox.get(e.conn);
        if (!list) this.inbox.set(e.conn, (list = []));
        list.push(e.frame);
      }
    }
    return effects;
  }

  /** `key`: the label of a key the connection authenticated with (the shell checked its secret). */
  connect(hello: Omit<Hello, 'type' | 'v' | 'user'> & { user?: string }, key?: string): number {
    const conn = this.nextConn++;
    this.apply(this.engine.handle({ type: 'open', conn, ...(key === undefined ? {} : { key }) }, this.now));
    this.apply(this.engine.handle({ type: 'hello', conn, frame: { type: 'hello', v: 1, user: 'default', ...hello } }, this.now));
    return conn;
  }

  send(conn: number, frame: AgentRequest): Array<DaemonFrame | OperatorResult> {
    const key = ledgerKeyFor(this.engine.view, conn, frame);
    const before = this.inbox.get(conn)?.length ?? 0;
    this.apply(this.engine.handle({ type: 'agent', conn, frame, key_known: key !== undefined && this.keys.has(key) }, this.now));
    return (this.inbox.get(conn) ?? []).slice(before);
  }

  /** The single reply to a request. */
  request(conn: number, frame: AgentRequest): DaemonFrame | OperatorResult {
    const replies = this.send(conn, frame);
    const reply = replies.find((r) => 'id' in r && r.id === (frame as { id?: string }).id);
    if (!reply) throw new Error(`no reply to ${JSON.stringify(frame)}: ${JSON.stringify(replies)}`);
    return reply;
  }

  operator(frame: OperatorFrame, secret?: string): Effect[] {
    const conn = 0;
    this.engine.handle({ type: 'open', conn }, this.now);
    // As the server does: the frame's own actor, else 'operator'.
    return this.apply(this.engine.handle({ type: 'operator', conn, frame, actor: frame.actor ?? 'operator', ...(secret === undefined ? {} : { secret }) }, this.now));
  }

  /** The live connection's first error reply to its hello, if it was refused. */
  refusal(conn: number): string | undefined {
    const e = this.frames(conn).find((f) => f.type === 'error');
    return e && 'message' in e ? e.message : undefined;
  }

  disconnect(conn: number): void {
    this.apply(this.engine.handle({ type: 'disconnect', conn }, this.now));
  }

  advance(ms: number): Effect[] {
    this.now += ms;
    return this.apply(this.engine.handle({ type: 'tick' }, this.now));
  }

  /** The chain of a live connection, root first (empty before or without a hello). */
  chainOf(conn: number): readonly ScopeState[] {
    const c = this.engine.conns.get(conn);
    return c?.state === 'live' ? c.chain : [];
  }

  frames(conn: number): Array<DaemonFrame | OperatorResult> {
    return this.inbox.get(conn) ?? [];
  }

  ledgerCostNano(scope: string): number {
    return this.ledger.filter((r) => r.chain.includes(scope)).reduce((a, r) => a + r.cost_nano, 0);
  }
}
