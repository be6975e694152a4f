import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema, type Config } from '../config/schema.js';
import { Engine } from '../engine/engine.js';
import { Ledger } from '../ledger/ledger.js';
import { Supervisor } from './supervisor.js';
import type { AgentRequest, Hello } from '../../shared/protocol/agent.js';
import type { OperatorFrame } from '../../shared/protocol/operator.js';

// Replies are asserted field by field in tests: loosely typed on purpose.
type Frame = Record<string, any>;

/**
 * The real shell (Supervisor + a real SQLite Ledger) driven synchronously with a fake clock: for
 * tests that need eviction, reloading from the ledger and restarts, without sockets or sleeps.
 */
export class Shell {
  now = Date.UTC(2026, 10, 24, 12, 0, 0);
  readonly frames = new Map<number, Frame[]>();
  readonly ledger: Ledger;
  engine: Engine;
  sup: Supervisor;
  readonly path: string;
  private next = 1;
  fatal: Error | null = null;
  constructor(readonly config: unknown, path?: string) {
    this.path = path ?? join(mkdtempSync(join(tmpdir(), 'sg-')), 'ledger.db');
    this.ledger = new Ledger(this.path);
    const cfg = ConfigSchema.parse(config) as Config;
    const epoch = this.ledger.nextEpoch();
    this.engine = new Engine({ config: cfg, epoch, now: this.now, restored: this.ledger.restore() });
    const transport = { send: (c: number, d: string) => { let l = this.frames.get(c); if (!l) this.frames.set(c, (l = [])); l.push(JSON.parse(d)); }, close: () => {} };
    this.sup = new Supervisor(this.engine, this.ledger, transport, () => {}, () => this.now);
    this.sup.onFatal = (e) => { this.fatal = e; };
  }
  flush(): void { this.sup.flushAll(); }
  connect(h: Omit<Hello, 'type' | 'v' | 'user'> & { user?: string }): number {
    const conn = this.next++;
    this.sup.dispatch({ type: 'open', conn });
    this.sup.dispatch({ type: 'hello', conn, frame: { type: 'hello', v: 1, user: 'default', ...h } as Hello });
    this.flush();
    return conn;
  }
  request(conn: number, frame: AgentRequest): Frame {
    const before = this.frames.get(conn)?.length ?? 0;
    this.sup.agentFrame(conn, frame);
    this.flush();
    const got = (this.frames.get(conn) ?? []).slice(before);
    return got.find((f) => f.id === ('id' in frame ? frame.id : undefined)) ?? { type: 'none', got };
  }
  operator(frame: OperatorFrame): Frame[] {
    this.sup.dispatch({ type: 'open', conn: 0 });
    const before = this.frames.get(0)?.length ?? 0;
    this.sup.operatorFrame(0, frame, 'op');
    this.flush();
    return (this.frames.get(0) ?? []).slice(before);
  }
  disconnect(conn: number): void { this.sup.dispatch({ type: 'disconnect', conn }); this.flush(); }
  advance(ms: number, step = 10_000): void {
    for (let t = 0; t < ms; t += step) { this.now += Math.min(step, ms - t); this.sup.dispatch({ type: 'tick' }); this.flush(); }
  }
  costUnder(scope: string): number {
    const db = new Database(this.path, { readonly: true });
    try {
      const rows = db.prepare('SELECT chain, cost_nano FROM usage').all() as Array<{ chain: string; cost_nano: number }>;
      return rows.filter((r) => (JSON.parse(r.chain) as string[]).includes(scope)).reduce((a, r) => a + r.cost_nano, 0) / 1e9;
    } finally {
      db.close();
    }
  }
  has(id: string): boolean { return this.engine.scopes.has(id as never); }
}
