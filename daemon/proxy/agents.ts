import { randomBytes } from 'node:crypto';
import type { AgentRequest } from '../../shared/protocol/agent.js';
import { laneOf } from '../server/auth.js';
import { HttpSession, type OutFrame } from '../server/http-session.js';
import type { SpendguardServer } from '../server/server.js';
import type { Supervisor } from '../server/supervisor.js';
import type { ProxyHello } from './identity.js';

/**
 * The engine's view of proxied callers: one virtual agent connection per credential and place,
 * opened on first use and closed when idle (its reservations keep their lease, as for a dropped
 * socket). Replies are matched to calls by id; a `kill` aborts every call in flight at once.
 */

const HELLO_TIMEOUT_MS = 10_000;
/** The engine answers on the next durable batch; approvals wait in the engine, not here. */
const REPLY_TIMEOUT_MS = 30_000;
const IDLE_MS = 60_000;
/** Agents kept at once; past it the longest-idle one without calls in flight is closed. */
const MAX_AGENTS = 10_000;

export interface ProxyAgent {
  readonly session: HttpSession;
  readonly inflight: Set<AbortController>;
  nextId: number;
  lastUsedMs: number;
}

export type Opened = { ok: true; agent: ProxyAgent } | { ok: false; frame: OutFrame | undefined };

type ServerPart = Pick<SpendguardServer, 'openVirtual' | 'closeVirtual' | 'enqueue'>;
type SupervisorPart = Pick<Supervisor, 'dispatch' | 'agentFrame'>;

export class ProxyAgents {
  private readonly agents = new Map<string, ProxyAgent>();
  private readonly opening = new Map<string, Promise<Opened>>();

  constructor(
    private readonly server: ServerPart,
    private readonly supervisor: SupervisorPart,
  ) {}

  /** The agent for this credential and place, saying hello first if it is new. */
  async open(credential: string, key: string | undefined, hello: ProxyHello): Promise<Opened> {
    const id = `${credential}|${hello.user}|${hello.session}|${hello.task}|${hello.agent}|${hello.parent ?? ''}`;
    const known = this.agents.get(id);
    if (known && !known.session.closed) {
      known.lastUsedMs = Date.now();
      return { ok: true, agent: known };
    }
    const pending = this.opening.get(id);
    if (pending) return pending;
    const opened = this.hello(id, credential, key, hello).finally(() => this.opening.delete(id));
    this.opening.set(id, opened);
    return opened;
  }

  private async hello(id: string, credential: string, key: string | undefined, hello: ProxyHello): Promise<Opened> {
    this.makeRoom();
    const session = new HttpSession(randomBytes(12).toString('base64url'), credential, Date.now(), () => undefined);
    const agent: ProxyAgent = { session, inflight: new Set(), nextId: 1, lastUsedMs: Date.now() };
    session.onKill = () => {
      for (const c of agent.inflight) c.abort(new Error('killed'));
    };
    session.conn = this.server.openVirtual(
      {
        deliver: (data) => session.deliver(data),
        close: () => this.forget(id, agent),
      },
      key,
    );
    const reply = session.expectHello(HELLO_TIMEOUT_MS);
    this.supervisor.dispatch({ type: 'hello', conn: session.conn, frame: { type: 'hello', v: 1, ...hello, labels: { client: 'proxy' } } });
    const outcome = await reply;
    if (typeof outcome === 'object' && outcome.frame.type === 'welcome') {
      this.agents.set(id, agent);
      return { ok: true, agent };
    }
    this.server.closeVirtual(session.conn);
    session.close();
    return { ok: false, frame: typeof outcome === 'object' ? outcome.frame : undefined };
  }

  /** One request to the engine and its final reply (a `pending` waits for the operator's answer). */
  async request(agent: ProxyAgent, frame: AgentRequest & { id: string }, approvalMs: number): Promise<OutFrame | 'closed' | 'timeout'> {
    const reply = agent.session.expectReply(frame.id, REPLY_TIMEOUT_MS);
    this.server.enqueue(laneOf(agent.session.credential, agent.session.id), () => this.supervisor.agentFrame(agent.session.conn, frame));
    const first = await reply;
    if (typeof first !== 'object') return first;
    if (first.frame.type !== 'pending') return first.frame;
    const final = agent.session.poll(frame.id, approvalMs + REPLY_TIMEOUT_MS);
    if (!final) return 'closed';
    const outcome = await final.promise;
    return typeof outcome === 'object' ? outcome.frame : outcome;
  }

  nextId(agent: ProxyAgent): string {
    return `px-${agent.nextId++}`;
  }

  private forget(id: string, agent: ProxyAgent): void {
    if (this.agents.get(id) === agent) this.agents.delete(id);
    agent.session.close();
  }

  private drop(id: string, agent: ProxyAgent): void {
    this.forget(id, agent);
    this.server.closeVirtual(agent.session.conn);
  }

  private makeRoom(): void {
    if (this.agents.size < MAX_AGENTS) return;
    let oldest: [string, ProxyAgent] | undefined;
    for (const entry of this.agents) if (entry[1].inflight.size === 0 && (!oldest || entry[1].lastUsedMs < oldest[1].lastUsedMs)) oldest = entry;
    if (oldest) this.drop(...oldest);
  }

  /** Closes agents with no call in flight for a minute. */
  sweep(now: number = Date.now()): void {
    for (const [id, agent] of [...this.agents]) if (agent.inflight.size === 0 && now - agent.lastUsedMs > IDLE_MS) this.drop(id, agent);
  }

  stop(): void {
    for (const [id, agent] of [...this.agents]) {
      for (const c of agent.inflight) c.abort(new Error('daemon stopping'));
      this.drop(id, agent);
    }
  }
}
