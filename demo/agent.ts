import {
  guard,
  SpendguardClient,
  SpendguardDeniedError,
  SpendguardKilledError,
  SpendguardTimeoutError,
  SpendguardUnavailableError,
  type ClientEvent,
  type ClientGrant,
  type DelegateOutcome,
  type GuardClient,
} from '../shared/client/index.js';
import type { Deny, KillFrame } from '../shared/protocol/agent.js';
import type { FakeProvider, FakeResponse } from './fake-provider.js';
import { nameList, type DemoLog } from './log.js';
import type { Pace } from './pace.js';
import type { DemoStats } from './stats.js';

/** A simulated agent: the real client SDK over a real socket, calling the fake provider through `guard()`. */

export interface AgentHello {
  readonly agent: string;
  readonly session: string;
  readonly task: string;
  /** Set for a sub-agent running on budget its parent delegated. */
  readonly parent?: string;
}

export interface AgentEnv {
  readonly url: string;
  readonly token: string;
  readonly user: string;
  readonly pace: Pace;
  readonly provider: FakeProvider;
  readonly log: DemoLog;
  readonly stats: DemoStats;
  /** Aborted when the demo stops. */
  readonly signal: AbortSignal;
  /** Agents with an open connection, so the demo can close them all when it stops. */
  readonly open: Set<DemoAgent>;
}

export interface CallSpec {
  readonly model: string;
  /** Uncached input tokens, counted before the call. */
  readonly inputTokens: number;
  /** The most output the agent asks for; the grant may clamp it. */
  readonly maxOutputTokens: number;
  /** How long the model's answer would be without a cap. */
  readonly naturalOutputTokens: number;
  readonly tool?: string;
  readonly argsHash?: string;
  readonly applySuggestedModel?: boolean;
}

export type CallResult = { kind: 'ok'; response: FakeResponse; grant: ClientGrant } | { kind: 'denied'; deny: Deny };

/** While killed, an agent asks again this often (demo time); the first grant after `resume` lets it continue. */
const KILL_PROBE_MS = 2_000;
const UNAVAILABLE_RETRY_MS = 2_000;
/** A child drains its unacknowledged commits this long before `bye`; the daemon is local. */
const CLOSE_DRAIN_MS = 2_000;

export class DemoAgent {
  private killed = false;
  private prompt: string | undefined;
  private unavailable = false;
  private lastGrant: ClientGrant | undefined;
  private closing: Promise<void> | undefined;
  private readonly observed: GuardClient;

  private constructor(
    readonly hello: AgentHello,
    /** Which scenario the agent belongs to: the source of its log lines. */
    readonly source: string,
    private readonly client: SpendguardClient,
    private readonly env: AgentEnv,
  ) {
    // guard() sees the client through this view, which notes each grant for the scenario to read.
    this.observed = {
      reserve: async (req) => {
        const outcome = await client.reserve(req);
        if (outcome.kind === 'grant') this.lastGrant = outcome.grant;
        return outcome;
      },
      commit: (req) => client.commit(req),
      release: (req) => client.release(req),
      emit: (event) => client.emit(event),
      get killSignal() {
        return client.killSignal;
      },
      get state() {
        return client.state;
      },
    };
  }

  static async connect(env: AgentEnv, source: string, hello: AgentHello): Promise<DemoAgent> {
    env.signal.throwIfAborted();
    const handlers: { agent?: DemoAgent } = {};
    const client = new SpendguardClient({
      url: env.url,
      token: env.token,
      hello: { agent: hello.agent, session: hello.session, task: hello.task, user: env.user, ...(hello.parent === undefined ? {} : { parent: hello.parent }) },
      closeDrainMs: CLOSE_DRAIN_MS,
      onKill: (frame) => handlers.agent?.onKill(frame),
      onEvent: (event) => handlers.agent?.onEvent(event),
    });
    const agent = new DemoAgent(hello, source, client, env);
    handlers.agent = agent;
    env.open.add(agent);
    try {
      await client.connect();
    } catch (err) {
      await agent.close();
      throw err;
    }
    env.stats.agents += 1;
    return agent;
  }

  get name(): string {
    return this.hello.agent;
  }

  /**
   * One guarded provider call. Returns the daemon's denial when it refuses; waits out a kill
   * (asking again every few seconds until `resume`) and a lost daemon; rejects only when the
   * demo stops.
   */
  async call(spec: CallSpec): Promise<CallResult> {
    for (;;) {
      this.env.signal.throwIfAborted();
      this.lastGrant = undefined;
      try {
        const response = await guard(
          this.observed,
          {
            model: spec.model,
            inputTokens: spec.inputTokens,
            maxOutputTokens: spec.maxOutputTokens,
            signal: this.env.signal,
            ...(spec.tool === undefined ? {} : { tool: spec.tool }),
            ...(spec.argsHash === undefined ? {} : { argsHash: spec.argsHash }),
            ...(spec.applySuggestedModel === undefined ? {} : { applySuggestedModel: spec.applySuggestedModel }),
          },
          async (p) => {
            const r = await this.env.provider.complete({
              model: p.model,
              inputTokens: spec.inputTokens,
              maxTokens: p.maxTokens,
              naturalOutputTokens: spec.naturalOutputTokens,
              signal: p.signal,
            });
            return { result: r, usage: r.usage, sentMaxTokens: r.sentMaxTokens, responseId: r.id };
          },
        );
        const grant = this.lastGrant;
        if (!grant) throw new Error(`guard() returned for ${this.name} without a grant`);
        this.env.stats.calls += 1;
        this.continued();
        return { kind: 'ok', response, grant };
      } catch (err) {
        if (!(await this.survive(err))) {
          if (err instanceof SpendguardDeniedError) {
            this.prompt = undefined;
            this.env.stats.denied(err.code);
            return { kind: 'denied', deny: err.deny };
          }
          throw err;
        }
      }
    }
  }

  /** Moves `usd` of this agent's budget to `child` (who then connects with `parent`). */
  async delegate(child: string, usd: number): Promise<DelegateOutcome> {
    for (;;) {
      this.env.signal.throwIfAborted();
      try {
        const outcome = await this.client.delegate({ child, limits: { cost_usd: usd } });
        if (outcome.kind === 'deny' && outcome.deny.code === 'KILLED') throw new SpendguardDeniedError(outcome.deny);
        if (outcome.kind === 'deny') this.env.stats.denied(outcome.deny.code);
        return outcome;
      } catch (err) {
        if (!(await this.survive(err))) throw err;
      }
    }
  }

  /** Says `bye` (a delegated child's remainder returns to its parent) and closes. */
  close(): Promise<void> {
    this.closing ??= this.client.close().finally(() => this.env.open.delete(this));
    return this.closing;
  }

  /** Waits out what an agent should outlast — a kill, an unreachable daemon — and says whether to try again. */
  private async survive(err: unknown): Promise<boolean> {
    if (this.env.signal.aborted) throw this.env.signal.reason;
    if (err instanceof SpendguardKilledError || (err instanceof SpendguardDeniedError && err.code === 'KILLED')) {
      this.prompt = undefined;
      this.killed = true;
      await this.env.pace.sleep(KILL_PROBE_MS, this.env.signal);
      return true;
    }
    if (err instanceof SpendguardUnavailableError || err instanceof SpendguardTimeoutError) {
      if (!this.unavailable) this.env.log.line(this.source, `${this.name}: ${err.message}; retrying`);
      this.unavailable = true;
      await this.env.pace.sleep(UNAVAILABLE_RETRY_MS, this.env.signal);
      return true;
    }
    return false;
  }

  /** A call went through: whatever held the agent (kill, prompt, lost daemon) is over. */
  private continued(): void {
    this.unavailable = false;
    if (this.killed) {
      this.killed = false;
      this.env.log.group('resume', 'operator', this.name, (names) => `resumed: ${agents(names.length, 'continues', 'continue')} (${nameList(names)})`);
    }
    if (this.prompt !== undefined) {
      this.env.log.line(this.source, `${this.name}: prompt ${this.prompt} answered; it continues`);
      this.prompt = undefined;
    }
  }

  private onKill(frame: KillFrame): void {
    this.killed = true;
    this.env.log.group(`kill ${frame.scope} ${frame.reason}`, 'operator', this.name, (names) => `kill on ${frame.scope} (${frame.reason}): ${agents(names.length, 'stops', 'stop')} (${nameList(names)})`);
  }

  private onEvent(event: ClientEvent): void {
    if (event.type !== 'pending') return;
    this.prompt = event.prompt;
    this.env.log.line(this.source, `${this.name} waits for the operator: prompt ${event.prompt} (press a in the TUI, or \`spendguard grant ${event.prompt}\`)`);
  }
}

/** `1 agent stops`, `4 agents stop`. */
function agents(n: number, one: string, many: string): string {
  return n === 1 ? `1 agent ${one}` : `${n} agents ${many}`;
}
