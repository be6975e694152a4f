import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DaemonFrame } from '../../shared/protocol/agent.js';
import type { UsageRow } from './events.js';
import type { ReservationId } from './state.js';
import { feedFrame, type FeedCursor } from './feed.js';
import { statusJson } from './status.js';
import { COST, TOKENS, CALLS, type Deltas } from './deltas.js';
import { EngineDriver } from './testing.js';

/**
 * Random interleavings of reserve / commit / release / spend / delegate / expiry / kill / grant
 * across many agents, checked after every step against a small reference model: the ledger rows.
 */

const CONFIG = {
  limits: {
    global: { cost_usd: 4, mode: 'hard' },
    session: { cost_usd: 2.5, tokens: 400_000, mode: 'hard' },
    task: { cost_usd: 1, mode: 'hard' },
  },
  pricing: { models: { m: { input: 2, output: 8 } } },
  reservations: { lease: '60s' },
};

const PARENTS = [
  { agent: 'p0', session: 's0', task: 't0' },
  { agent: 'p1', session: 's0', task: 't0' },
  { agent: 'p2', session: 's0', task: 't1' },
  { agent: 'p3', session: 's1', task: 't2' },
];
const CHILDREN = ['c0', 'c1', 'c2'];

type Op =
  | { op: 'reserveCost'; who: number; usd: number; critical: boolean }
  | { op: 'reserveModel'; who: number; input: number; output: number }
  | { op: 'commit'; who: number; pick: number; fraction: number; resend: boolean }
  | { op: 'release'; who: number; pick: number }
  | { op: 'spend'; who: number; usd: number; reuseKey: boolean }
  | { op: 'delegate'; who: number; child: number; usd: number }
  | { op: 'childUp'; child: number; parent: number }
  | { op: 'childElsewhere'; child: number; task: number }
  | { op: 'childBye'; child: number }
  | { op: 'childDrop'; child: number }
  | { op: 'advance'; ms: number }
  | { op: 'kill'; target: number }
  | { op: 'resume' }
  | { op: 'grant'; target: number; usd: number }
  | { op: 'subscribe'; slot: number }
  | { op: 'feedTick' };

const who = fc.integer({ min: 0, max: PARENTS.length + CHILDREN.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('reserveCost' as const), who, usd: fc.integer({ min: 1, max: 600 }).map((c) => c / 1000), critical: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('reserveModel' as const), who, input: fc.integer({ min: 0, max: 50_000 }), output: fc.integer({ min: 1, max: 100_000 }) }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('commit' as const), who, pick: fc.nat(), fraction: fc.double({ min: 0, max: 1, noNaN: true }), resend: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), who, pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('spend' as const), who, usd: fc.integer({ min: 0, max: 300 }).map((c) => c / 1000), reuseKey: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delegate' as const), who: fc.integer({ min: 0, max: PARENTS.length + CHILDREN.length - 1 }), child: fc.integer({ min: 0, max: CHILDREN.length - 1 }), usd: fc.integer({ min: 1, max: 500 }).map((c) => c / 1000) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('childUp' as const), child: fc.integer({ min: 0, max: CHILDREN.length - 1 }), parent: fc.integer({ min: 0, max: PARENTS.length + CHILDREN.length - 1 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('childElsewhere' as const), child: fc.integer({ min: 0, max: CHILDREN.length - 1 }), task: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('childBye' as const), child: fc.integer({ min: 0, max: CHILDREN.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('childDrop' as const), child: fc.integer({ min: 0, max: CHILDREN.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1_000, max: 90_000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('kill' as const), target: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('resume' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('grant' as const), target: fc.integer({ min: 0, max: 3 }), usd: fc.integer({ min: 1, max: 100 }).map((c) => c / 100) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('subscribe' as const), slot: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('feedTick' as const) }) },
);

/** An operator's copy of the live feed: full frames replace it, deltas merge into it. */
interface Subscriber {
  cursor: FeedCursor;
  readonly scopes: Map<string, { spent: number; reserved: number }>;
}

interface OpenGrant {
  readonly reservation: string;
  readonly model: boolean;
  readonly input: number;
  readonly output: number;
  readonly cost: number;
}

class World {
  readonly d = new EngineDriver(CONFIG);
  readonly conns: Array<number | null>;
  readonly grants: OpenGrant[][];
  readonly commitKeys: string[] = [];
  readonly spendKeys: string[] = [];
  /** Spend keys acknowledged, as `session\nkey`: the reference model of idempotency (per session). */
  readonly sessionKeys = new Set<string>();
  /** The reference's own record of open delegations: child → its delegator's chain and the amount moved. */
  readonly delegations = new Map<string, { chain: string[]; amount: number; spentBefore: number }>();
  private actionsSeen = 0;
  readonly subscribers: Subscriber[] = [];
  seq = 0;

  /** One feed frame for subscriber `i` from its own cursor; then its copy must agree with status. */
  private feed(i: number, subscribe: boolean): void {
    const sub = this.subscribers[i];
    if (!sub) return;
    const { frame, cursor } = feedFrame(this.d.engine.view, subscribe ? null : sub.cursor);
    sub.cursor = cursor;
    if (frame.full) sub.scopes.clear();
    for (const [id, f] of Object.entries(frame.scopes)) sub.scopes.set(id, { spent: f.spent.cost_usd as number, reserved: f.reserved.cost_usd as number });
    const status = statusJson(this.d.engine.view);
    for (const [id, st] of Object.entries(status.scopes)) {
      expect(sub.scopes.get(id), `subscriber ${i}'s copy of ${id}`).toEqual({ spent: st.spent.cost_usd, reserved: st.reserved.cost_usd });
    }
  }

  private rowsOf(agent: string): UsageRow[] {
    return this.d.ledger.filter((r) => r.agent === agent);
  }

  constructor() {
    this.conns = [...PARENTS.map((p) => this.d.connect(p)), ...CHILDREN.map(() => null)];
    this.grants = this.conns.map(() => []);
  }

  private id(prefix: string): string {
    this.seq += 1;
    return `${prefix}${this.seq}`;
  }

  private reply(conn: number, id: string): DaemonFrame | undefined {
    return this.d.frames(conn).findLast((f) => 'id' in f && f.id === id && f.type !== 'pending') as DaemonFrame | undefined;
  }

  apply(o: Op): void {
    const d = this.d;
    switch (o.op) {
      case 'reserveCost':
      case 'reserveModel': {
        const conn = this.conns[o.who];
        if (conn == null) return;
        const id = this.id('r');
        const frame =
          o.op === 'reserveCost'
            ? ({ type: 'reserve', id, cost_usd: o.usd, ...(o.critical ? { critical: true } : {}) } as const)
            : ({ type: 'reserve', id, model: 'm', input_tokens: o.input, max_output_tokens: o.output } as const);
        const headroom = o.op === 'reserveCost' ? this.costHeadroom(conn) : undefined;
        d.send(conn, frame);
        const r = this.reply(conn, id);
        if (headroom !== undefined && o.op === 'reserveCost') {
          // Exact reference for a fixed-cost request: granted iff it fits every hard cost limit
          // of its chain (spends included), refused BUDGET_EXCEEDED iff it does not.
          const ask = Math.round(o.usd * 1e9);
          if (r?.type === 'grant') expect(ask, `granted ${ask} with headroom ${headroom}`).toBeLessThanOrEqual(headroom);
          if (r?.type === 'deny' && r.code === 'BUDGET_EXCEEDED') expect(ask, `refused ${ask} with headroom ${headroom}: a false refusal`).toBeGreaterThan(headroom);
        }
        if (r?.type === 'grant') {
          this.grants[o.who]?.push({
            reservation: r.reservation,
            model: o.op === 'reserveModel',
            input: o.op === 'reserveModel' ? o.input : 0,
            output: r.max_output_tokens,
            cost: Math.round(r.cost_usd * 1e9),
          });
        }
        return;
      }
      case 'commit': {
        const conn = this.conns[o.who];
        const list = this.grants[o.who];
        if (conn == null || !list || list.length === 0) return;
        const g = list.splice(o.pick % list.length, 1)[0] as OpenGrant;
        const id = this.id('c');
        // An honest agent: never more than it was granted.
        const frame = g.model
          ? ({ type: 'commit', id, reservation: g.reservation, model: 'm', input_tokens: g.input, output_tokens: Math.floor(g.output * o.fraction) } as const)
          : ({ type: 'commit', id, reservation: g.reservation, input_tokens: 0, output_tokens: 0, cost_usd: Math.floor(g.cost * o.fraction) / 1e9 } as const);
        d.send(conn, frame);
        if (o.resend) d.send(conn, { ...frame, id: this.id('c') });
        return;
      }
      case 'release': {
        const conn = this.conns[o.who];
        const list = this.grants[o.who];
        if (conn == null || !list || list.length === 0) return;
        const g = list.splice(o.pick % list.length, 1)[0] as OpenGrant;
        d.send(conn, { type: 'release', id: this.id('l'), reservation: g.reservation });
        return;
      }
      case 'spend': {
        const conn = this.conns[o.who];
        if (conn == null) return;
        const key = o.reuseKey && this.spendKeys.length > 0 ? (this.spendKeys[this.seq % this.spendKeys.length] as string) : this.id('k');
        this.spendKeys.push(key);
        const id = this.id('s');
        d.send(conn, { type: 'spend', id, key, cost_usd: o.usd });
        // Keys count once per session: the same key in another session is another spend.
        const session = d.chainOf(conn).find((s) => s.id.startsWith('session:'))?.id ?? '';
        const reply = this.reply(conn, id);
        if (reply?.type === 'ack') expect(reply.duplicate, `spend key ${key} in ${session}`).toBe(this.sessionKeys.has(`${session}\n${key}`));
        if (reply?.type === 'ack') this.sessionKeys.add(`${session}\n${key}`);
        return;
      }
      case 'delegate': {
        const conn = this.conns[o.who];
        if (conn == null) return;
        const id = this.id('d');
        const child = CHILDREN[o.child] as string;
        d.send(conn, { type: 'delegate', id, child, limits: { cost_usd: o.usd } });
        if (this.reply(conn, id)?.type === 'delegated') {
          const parentChain = d.chainOf(conn).map((s) => s.id);
          const open = this.delegations.get(child);
          this.delegations.set(child, { chain: parentChain, amount: (open?.amount ?? 0) + Math.round(o.usd * 1e9), spentBefore: open?.spentBefore ?? this.rowsOf(child).length });
        }
        return;
      }
      case 'childUp': {
        const idx = PARENTS.length + o.child;
        if (this.conns[idx] != null || o.parent === idx) return;
        const parentName = o.parent < PARENTS.length ? PARENTS[o.parent]?.agent : CHILDREN[o.parent - PARENTS.length];
        const base = PARENTS[o.parent < PARENTS.length ? o.parent : 0] as (typeof PARENTS)[number];
        const conn = d.connect({ agent: CHILDREN[o.child] as string, session: base.session, task: base.task, parent: parentName as string });
        const welcome = d.frames(conn).find((f) => f.type === 'welcome');
        if (welcome) {
          this.conns[idx] = conn;
          this.grants[idx] = [];
        }
        return;
      }
      case 'childElsewhere': {
        // A child that joins without naming its parent, under any task: hole 1 of the trust core.
        const idx = PARENTS.length + o.child;
        if (this.conns[idx] != null) return;
        const conn = d.connect({ agent: CHILDREN[o.child] as string, session: `s${o.task % 2}`, task: `t${o.task}` });
        if (d.frames(conn).some((f) => f.type === 'welcome')) {
          this.conns[idx] = conn;
          this.grants[idx] = [];
        }
        return;
      }
      case 'childBye':
      case 'childDrop': {
        const idx = PARENTS.length + o.child;
        const conn = this.conns[idx];
        if (conn == null) return;
        if (o.op === 'childBye') d.send(conn, { type: 'bye' });
        d.disconnect(conn);
        this.conns[idx] = null;
        this.grants[idx] = [];
        return;
      }
      case 'advance': {
        d.advance(o.ms);
        // Reservations past their lease are gone; the agent forgets them (a late commit would be a spend).
        for (const list of this.grants) {
          if (!list) continue;
          for (let i = list.length - 1; i >= 0; i--) if (!d.engine.reservations.has((list[i] as OpenGrant).reservation as ReservationId)) list.splice(i, 1);
        }
        return;
      }
      case 'kill':
        d.operator({ type: 'kill', id: this.id('o'), scope: (['task:t0', 'session:s0', 'agent:p1', 'task:t2'] as const)[o.target] });
        return;
      case 'resume':
        d.operator({ type: 'resume', id: this.id('o'), all: true });
        return;
      case 'subscribe': {
        this.subscribers[o.slot] = { cursor: { version: 0, alert_seq: 0 }, scopes: new Map() };
        this.feed(o.slot, true);
        return;
      }
      case 'feedTick':
        this.subscribers.forEach((_, i) => this.feed(i, false));
        return;
      case 'grant':
        d.operator({ type: 'grant', id: this.id('o'), target: (['task:t0', 'session:s0', 'global', 'task:t1'] as const)[o.target] ?? 'global', add_usd: o.usd, create: true });
        return;
      default:
        o satisfies never;
    }
  }

  /**
   * The smallest cost headroom (limit − everything spent, spends included − reserved) over the
   * hard cost limits a request of `conn` is checked against: scopes from the nearest delegated
   * child down (the hold on its parent already pays for it above).
   */
  private costHeadroom(conn: number): number {
    const e = this.d.engine;
    const chain = this.d.chainOf(conn);
    let from = 0;
    chain.forEach((s, i) => {
      if (s.cap?.[COST] !== undefined) from = i;
    });
    let headroom = Number.POSITIVE_INFINITY;
    for (const s of chain.slice(from)) {
      for (const c of e.limitsOf(s).checks) {
        if (c.dim !== COST || c.window !== 'life' || c.mode !== 'hard') continue;
        headroom = Math.min(headroom, c.limit - (s.counters.life[COST] ?? 0) - (s.reserved[COST] ?? 0));
      }
    }
    return headroom;
  }

  /**
   * The reference's delegations: while one is open, every row of the child is charged to its
   * delegator's chain (wherever the child said it was), and its spend from honest commits stays
   * within the amounts moved to it.
   */
  private checkDelegations(): void {
    for (const a of this.d.actions.slice(this.actionsSeen)) {
      if (a.kind === 'delegation_end') this.delegations.delete(a.scope.slice('agent:'.length));
    }
    this.actionsSeen = this.d.actions.length;
    for (const [child, del] of this.delegations) {
      const rows = this.rowsOf(child).slice(del.spentBefore);
      for (const r of rows) expect(r.chain.slice(0, del.chain.length), `${child}'s row ${r.key} is charged to its delegator's chain`).toEqual(del.chain);
      const committed = rows.filter((r) => r.kind === 'commit').reduce((a, r) => a + r.cost_nano, 0);
      expect(committed, `${child} committed within what was delegated to it`).toBeLessThanOrEqual(del.amount);
    }
  }

  /** Invariants of the engine against the ledger rows (the reference model). */
  check(): void {
    this.checkDelegations();
    const e = this.d.engine;
    const rows = this.d.ledger;
    // No key twice in the ledger (the driver throws on a duplicate insert), and every ack of a resent key says duplicate.
    for (const s of e.scopes.values()) {
      const mine = rows.filter((r) => r.chain.includes(s.id));
      // Counters equal the sum of ledger rows.
      expect(s.counters.life[COST] ?? 0).toBe(mine.reduce((a, r) => a + r.cost_nano, 0));
      expect(s.counters.life[TOKENS] ?? 0).toBe(mine.reduce((a, r) => a + r.input_tokens + r.output_tokens, 0));
      expect(s.counters.life[CALLS] ?? 0).toBe(mine.length);
      // Reserved equals the placements of live reservations and holds, and is never negative.
      const placed: Deltas = {};
      for (const r of e.reservations.values()) for (const p of r.placements) if (p.scope === s) for (const k in p.deltas) placed[k] = (placed[k] ?? 0) + (p.deltas[k] ?? 0);
      for (const dim of new Set([...Object.keys(placed), ...Object.keys(s.reserved)])) {
        expect(s.reserved[dim] ?? 0, `${s.id} reserved ${dim}`).toBe(placed[dim] ?? 0);
        expect(s.reserved[dim] ?? 0, `${s.id} reserved ${dim}`).toBeGreaterThanOrEqual(0);
      }
      // Hard caps: commits of honest reservations plus what is still reserved never pass the limit;
      // only spend events (which always record) can push a scope over.
      const committed = mine.filter((r) => r.kind === 'commit').reduce((a, r) => a + r.cost_nano, 0);
      // Reference for what must be held against this scope, computed from the reservations
      // themselves: each live call reservation of an agent below it that no delegated child
      // between them funds, plus what every delegation hold below it has not yet paid out.
      let mustHold = 0;
      for (const r of e.reservations.values()) {
        const at = r.chain.indexOf(s);
        if (at < 0) continue;
        if (r.kind === 'hold') {
          const between = r.chain.slice(at + 1);
          if (!between.some((x) => x.cap && x.cap[COST] !== undefined)) mustHold += r.remaining?.[COST] ?? 0;
        } else {
          const between = r.chain.slice(at + 1);
          if (!between.some((x) => x.cap && x.cap[COST] !== undefined)) mustHold += r.cost_nano;
        }
      }
      for (const c of e.limitsOf(s).checks) {
        if (c.dim !== COST || c.window !== 'life') continue;
        expect(committed + mustHold, `${s.id} reference`).toBeLessThanOrEqual(c.limit);
        const limit = c.limit;
        expect(committed + (s.reserved[COST] ?? 0), `${s.id} ${c.source} limit ${limit}`).toBeLessThanOrEqual(limit);
      }
    }
  }
}

describe('engine properties', () => {
  it('caps hold, counters match the ledger, keys count once, delegated budget is never spent twice', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => {
        const w = new World();
        for (const o of ops) {
          w.apply(o);
          w.check();
        }
        // Every resent commit or reused spend key was acknowledged as a duplicate, never recorded twice.
        const keys = w.d.ledger.map((r) => `${r.session}\n${r.key}`);
        expect(new Set(keys).size).toBe(keys.length);
      }),
      { numRuns: 500 },
    );
  });

  it('a killed scope never gets a grant', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => {
        const w = new World();
        for (const o of ops) {
          const killedBefore = new Set([...w.d.engine.scopes.values()].filter((s) => s.killed).map((s) => s.id));
          const counts = w.conns.map((c) => (c == null ? 0 : w.d.frames(c).length));
          w.apply(o);
          if (o.op === 'resume' || killedBefore.size === 0) continue;
          w.conns.forEach((c, i) => {
            if (c == null) return;
            const fresh = w.d.frames(c).slice(counts[i] ?? 0);
            const chain = w.d.chainOf(c);
            if (chain.some((s) => killedBefore.has(s.id))) expect(fresh.filter((f) => f.type === 'grant' || f.type === 'delegated')).toEqual([]);
          });
        }
      }),
      { numRuns: 200 },
    );
  });
});
