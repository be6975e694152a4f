import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import type { z } from 'zod';
import { nanoToUsd, usdToNano, type Nanousd } from '../money/money.js';
import { costOf, PriceBook, priceFromUsd } from '../money/pricing.js';
import {
  Commit,
  Delegate,
  Hello,
  PROTOCOL_VERSION,
  Release,
  Reserve,
  Spend,
  type Ack,
  type AgentRequest,
  type DaemonFrame,
  type Delegated,
  type Deny,
  type ErrorFrame,
  type Grant,
  type KillFrame,
  type Pending,
  type Pressure,
  type Welcome,
} from '../protocol/agent.js';
import { describeIssue } from '../protocol/parse.js';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';
import { agentEndpoint, dial } from './connection.js';
import {
  SpendguardClosedError,
  SpendguardKilledError,
  SpendguardOutboxFullError,
  SpendguardProtocolError,
  SpendguardUnavailableError,
} from './errors.js';
import type { ClientEvent } from './events.js';
import { EmergencyAllowance, planLocalGrant } from './local-allowance.js';
import { Outbox, type OutboxEntry, type Reply } from './outbox.js';

export type FailMode = 'closed' | 'open';
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

export type HelloFields = Omit<z.input<typeof Hello>, 'type' | 'v'>;
type WithId<T> = Omit<T, 'type' | 'id'> & { id?: string };
export type ReserveRequest = WithId<z.input<typeof Reserve>>;
/** `key` defaults to the reservation id, so a resent commit is counted once. */
export type CommitRequest = WithId<z.input<typeof Commit>>;
export type ReleaseRequest = WithId<z.input<typeof Release>>;
export type SpendRequest = WithId<z.input<typeof Spend>>;
export type DelegateRequest = WithId<z.input<typeof Delegate>>;

/** Every grant says where it came from: the daemon, or the fail-open emergency allowance. */
export type ClientGrant = Grant & { readonly local: boolean };
export type ReserveOutcome = { kind: 'grant'; grant: ClientGrant } | { kind: 'deny'; deny: Deny };
export type DelegateOutcome = { kind: 'delegated'; delegated: Delegated } | { kind: 'deny'; deny: Deny };

export interface SpendguardClientOptions {
  /** Daemon address, e.g. `ws://127.0.0.1:7878`; `/v1/agent` is appended. */
  url: string;
  token: string;
  hello: HelloFields;
  /** While the daemon is unreachable: `closed` refuses new reserves, `open` grants from a local allowance. */
  failMode?: FailMode;
  /** Fail-open budget for spending the daemon has not seen. Default $0.50. */
  emergencyAllowanceUsd?: number;
  /** Wait for a reply; a `pending` reply switches to `approvalTimeoutMs`. Default 30 s. */
  requestTimeoutMs?: number;
  /** Wait for the operator after `pending` (the daemon times prompts out at 120 s by default). Default 10 min. */
  approvalTimeoutMs?: number;
  /** How long a reserve made while disconnected waits for the reconnect before the fail mode applies. Default 2 s. */
  unavailableWaitMs?: number;
  reconnect?: Partial<BackoffPolicy>;
  /** Bound on requests awaiting a reply (including usage queued while disconnected). Default 10,000. */
  outboxLimit?: number;
  /** `close()` waits this long for unacknowledged commits and spends before `bye`. Default 5 s. */
  closeDrainMs?: number;
  /** Prefix of generated request ids. Default `sg-<random hex>`. */
  idPrefix?: string;
  /** Prices used to size fail-open local grants. Default: the catalog, unknown models at $1 / $4 per Mtok. */
  prices?: PriceBook;
  onKill?(frame: KillFrame): void;
  onEvent?(event: ClientEvent): void;
  random?: () => number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_APPROVAL_TIMEOUT_MS = 600_000;
const DEFAULT_UNAVAILABLE_WAIT_MS = 2_000;
const DEFAULT_OUTBOX_LIMIT = 10_000;
const DEFAULT_CLOSE_DRAIN_MS = 5_000;
const DEFAULT_RECONNECT: BackoffPolicy = { initialMs: 100, maxMs: 5_000 };
const CLOSE_HANDSHAKE_MS = 1_000;
/** WebSocket close code 1013: the daemon refused usage it could not hold (its ledger is failing); resend later. */
const TRY_AGAIN_LATER = 1013;
/** What a local grant reports as its lease; nothing expires it locally. */
const LOCAL_LEASE_MS = 300_000;

/** Which daemon frames may answer which request (`error` may answer any). */
const REPLIES: Record<AgentRequest['type'], readonly Reply['type'][]> = {
  reserve: ['grant', 'deny'],
  commit: ['ack'],
  release: ['ack'],
  spend: ['ack'],
  delegate: ['delegated', 'deny'],
  ping: ['pong'],
  bye: [],
};

function outgoing<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new TypeError(`invalid request: ${describeIssue(r.error)}`);
  return r.data;
}

function localPressure(usedNano: Nanousd, limitNano: Nanousd): Pressure {
  if (limitNano === 0 || usedNano >= limitNano) return 'exceeded';
  const ratio = usedNano / limitNano;
  return ratio >= 0.9 ? 'critical' : ratio >= 0.7 ? 'warning' : 'ok';
}

/**
 * The agent side of protocol v1 (SPEC §4, §7): one WebSocket to the daemon, reconnected with
 * backoff, every commit/spend/release kept until acknowledged and resent with its key after a
 * reconnect, and a fail mode for the time the daemon is unreachable.
 */
export class SpendguardClient {
  readonly endpoint: string;
  private readonly hello: Hello;
  private readonly failMode: FailMode;
  private readonly requestTimeoutMs: number;
  private readonly approvalTimeoutMs: number;
  private readonly unavailableWaitMs: number;
  private readonly closeDrainMs: number;
  private readonly reconnectPolicy: BackoffPolicy;
  private readonly idPrefix: string;
  private readonly prices: PriceBook;
  private readonly random: () => number;
  private readonly outbox: Outbox;
  private readonly allowance: EmergencyAllowance;

  private status: ClientState = 'idle';
  private socket: WebSocket | undefined;
  private lastWelcome: Welcome | undefined;
  private connecting: Promise<Welcome> | undefined;
  private closing: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  /**
   * Closes in a row with 1013 (try again later: the daemon's ledger backlog is full). The welcome
   * that precedes each would reset the backoff; this keeps it growing until an ack shows the
   * daemon takes usage again, so a fleet does not redial and resend every 100 ms.
   */
  private tryLaterCloses = 0;
  private readonly openWaiters = new Set<(open: boolean) => void>();
  private killController = new AbortController();
  private killFrame: KillFrame | undefined;
  private seq = 0;
  private readonly localNonce = randomBytes(8).toString('hex');

  constructor(private readonly options: SpendguardClientOptions) {
    this.endpoint = agentEndpoint(options.url);
    this.hello = outgoing(Hello, { ...options.hello, type: 'hello', v: PROTOCOL_VERSION });
    this.failMode = options.failMode ?? 'closed';
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.approvalTimeoutMs = options.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
    this.unavailableWaitMs = options.unavailableWaitMs ?? DEFAULT_UNAVAILABLE_WAIT_MS;
    this.closeDrainMs = options.closeDrainMs ?? DEFAULT_CLOSE_DRAIN_MS;
    this.reconnectPolicy = { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.idPrefix = options.idPrefix ?? `sg-${randomBytes(4).toString('hex')}`;
    this.prices = options.prices ?? new PriceBook(priceFromUsd({ input: 1, output: 4 }), new Map());
    this.random = options.random ?? Math.random;
    const limit = options.outboxLimit ?? DEFAULT_OUTBOX_LIMIT;
    this.outbox = new Outbox(limit, (entry, stillQueued) =>
      this.emit({ type: 'request_timeout', id: entry.frame.id, request: entry.frame.type, still_queued: stillQueued }),
    );
    this.allowance = new EmergencyAllowance(usdToNano(options.emergencyAllowanceUsd ?? 0.5), limit);
  }

  get state(): ClientState {
    return this.status;
  }

  get welcome(): Welcome | undefined {
    return this.lastWelcome;
  }

  /** Aborted when the daemon pushes `kill`; replaced by a fresh signal once a daemon grant arrives again (resume). */
  get killSignal(): AbortSignal {
    return this.killController.signal;
  }

  get killed(): KillFrame | undefined {
    return this.killFrame;
  }

  /** Commits, spends and releases not yet acknowledged by the daemon. */
  get unacked(): number {
    return this.outbox.unacked;
  }

  get emergencyAllowance(): { limit_usd: number; used_usd: number } {
    return { limit_usd: nanoToUsd(this.allowance.limitNano), used_usd: nanoToUsd(this.allowance.used) };
  }

  /** Reports to the `onEvent` hook; `guard()` uses it too. */
  emit(event: ClientEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A failing logger must not break budget enforcement.
    }
  }

  connect(): Promise<Welcome> {
    if (this.closing) return Promise.reject(new SpendguardClosedError('client is closed'));
    if (this.status === 'open' && this.lastWelcome) return Promise.resolve(this.lastWelcome);
    if (this.status === 'reconnecting') {
      return this.waitForOpen(this.requestTimeoutMs).then((open) => {
        if (open && this.lastWelcome) return this.lastWelcome;
        throw new SpendguardUnavailableError(`spendguard daemon at ${this.endpoint} is unreachable`);
      });
    }
    if (!this.connecting) {
      this.status = 'connecting';
      this.connecting = this.startDial().finally(() => {
        this.connecting = undefined;
      });
      this.connecting.catch(() => {
        if (this.status === 'connecting') this.status = 'idle';
        this.notifyOpenWaiters(false);
      });
    }
    return this.connecting;
  }

  async reserve(req: ReserveRequest): Promise<ReserveOutcome> {
    const frame = outgoing(Reserve, { ...req, type: 'reserve', id: req.id ?? this.nextId() });
    this.assertCapacity();
    let reply: Reply;
    try {
      if (!(await this.waitForOpen(this.unavailableWaitMs))) {
        throw new SpendguardUnavailableError(`spendguard daemon at ${this.endpoint} is unreachable`);
      }
      reply = await this.request(frame, false);
    } catch (err) {
      if (this.closing) throw new SpendguardClosedError('client is closed', { cause: err });
      if (err instanceof SpendguardUnavailableError) return this.reserveWhileDown(frame, err);
      throw err;
    }
    if (reply.type === 'grant') return { kind: 'grant', grant: { ...reply, local: false } };
    if (reply.type === 'deny') return { kind: 'deny', deny: reply };
    throw unexpected(frame, reply);
  }

  /**
   * Invalid input throws synchronously (a programmer error); everything else — closed client,
   * full outbox, timeout, daemon error — is a rejection. Resolves with the daemon's ack.
   */
  commit(req: CommitRequest): Promise<Ack> {
    const id = req.id ?? this.nextId();
    if (this.allowance.has(req.reservation)) return this.commitLocal(id, req);
    const frame = outgoing(Commit, { ...req, type: 'commit', id, key: req.key ?? req.reservation });
    return this.request(frame, true).then((reply) => expectAck(frame, reply));
  }

  release(req: ReleaseRequest): Promise<Ack> {
    const frame = outgoing(Release, { ...req, type: 'release', id: req.id ?? this.nextId() });
    if (this.allowance.has(frame.reservation)) {
      if (this.closing) return Promise.reject(new SpendguardClosedError('client is closed'));
      this.allowance.free(frame.reservation);
      return Promise.resolve({ type: 'ack', id: frame.id, duplicate: false });
    }
    return this.request(frame, true).then((reply) => expectAck(frame, reply));
  }

  spend(req: SpendRequest): Promise<Ack> {
    const frame = outgoing(Spend, { ...req, type: 'spend', id: req.id ?? this.nextId() });
    return this.request(frame, true).then((reply) => expectAck(frame, reply));
  }

  async delegate(req: DelegateRequest): Promise<DelegateOutcome> {
    const frame = outgoing(Delegate, { ...req, type: 'delegate', id: req.id ?? this.nextId() });
    this.assertCapacity();
    if (!(await this.waitForOpen(this.unavailableWaitMs))) {
      throw new SpendguardUnavailableError(`spendguard daemon at ${this.endpoint} is unreachable: cannot delegate`);
    }
    const reply = await this.request(frame, false);
    if (reply.type === 'delegated') return { kind: 'delegated', delegated: reply };
    if (reply.type === 'deny') return { kind: 'deny', deny: reply };
    throw unexpected(frame, reply);
  }

  /** Round trip to the daemon, in milliseconds. */
  async ping(id?: string): Promise<number> {
    const frame = { type: 'ping' as const, id: id ?? this.nextId() };
    const started = performance.now();
    this.assertCapacity();
    if (this.status !== 'open') throw new SpendguardUnavailableError(`spendguard daemon at ${this.endpoint} is not connected`);
    const reply = await this.request(frame, false);
    if (reply.type !== 'pong') throw unexpected(frame, reply);
    return performance.now() - started;
  }

  /**
   * Waits (bounded by `closeDrainMs`) for unacknowledged commits and spends, sends `bye` and
   * closes. No reconnect happens afterwards; requests still open are rejected.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const live = this.status === 'open' || this.status === 'reconnecting' || this.status === 'connecting';
    if (live && this.outbox.unacked > 0) await this.outbox.drained(this.closeDrainMs);
    this.status = 'closing';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await closeSocket(socket);
    this.status = 'closed';
    const unacked = this.outbox.unacked;
    for (const entry of this.outbox.values()) {
      this.outbox.reject(entry.frame.id, new SpendguardClosedError(`client closed before the reply to ${entry.frame.type} ${entry.frame.id}`));
    }
    this.notifyOpenWaiters(false);
    this.allowance.clear();
    this.emit({ type: 'closed', unacked });
  }

  // ---- connection lifecycle ----

  private startDial(): Promise<Welcome> {
    const d = dial(
      { endpoint: this.endpoint, token: this.options.token, hello: this.hello, timeoutMs: this.requestTimeoutMs },
      {
        onWelcome: (socket, welcome) => this.onWelcome(socket, welcome),
        onFrame: (socket, frame) => {
          if (socket === this.socket) this.onFrame(frame);
        },
        onInvalid: (message) => this.emit({ type: 'invalid_frame', message }),
        onClose: (socket, code, reason) => this.onSocketClosed(socket, code, reason),
      },
    );
    this.socket = d.socket;
    return d.ready;
  }

  private onWelcome(socket: WebSocket, welcome: Welcome): void {
    if (socket !== this.socket || this.status === 'closing' || this.status === 'closed') return;
    const reconnect = this.lastWelcome !== undefined;
    this.status = 'open';
    this.lastWelcome = welcome;
    this.reconnectAttempt = 0;
    let resent = 0;
    for (const entry of this.outbox.values()) {
      if (entry.sent) continue;
      this.transmit(entry);
      resent++;
    }
    this.emit({ type: 'connected', reconnect, resent });
    this.notifyOpenWaiters(true);
  }

  private onSocketClosed(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (this.status === 'closing' || this.status === 'closed') return;
    this.status = 'reconnecting';
    let failed = 0;
    let queued = 0;
    for (const entry of this.outbox.values()) {
      if (entry.resend) {
        entry.sent = false;
        queued++;
        continue;
      }
      failed++;
      const { type, id } = entry.frame;
      this.outbox.reject(
        id,
        new SpendguardUnavailableError(`connection to the daemon lost before the reply to ${type} ${id}`, {
          whilePending: entry.pending,
        }),
      );
    }
    this.emit({ type: 'disconnected', code, reason, failed, queued });
    if (code === TRY_AGAIN_LATER) {
      this.tryLaterCloses += 1;
      this.reconnectAttempt = Math.max(this.reconnectAttempt, this.tryLaterCloses);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.status !== 'reconnecting' || this.reconnectTimer) return;
    const attempt = this.reconnectAttempt++;
    const delay_ms = backoffDelayMs(this.reconnectPolicy, attempt, this.random);
    this.emit({ type: 'reconnect_scheduled', attempt: attempt + 1, delay_ms });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.status !== 'reconnecting') return;
      this.startDial().catch((err: unknown) => {
        if (this.status !== 'reconnecting') return;
        this.emit({ type: 'reconnect_failed', attempt: attempt + 1, message: err instanceof Error ? err.message : String(err) });
        this.scheduleReconnect();
      });
    }, delay_ms);
    // An agent that finished without close() should still be able to exit.
    this.reconnectTimer.unref();
  }

  private waitForOpen(ms: number): Promise<boolean> {
    if (this.closing) return Promise.reject(new SpendguardClosedError('client is closed'));
    if (this.status === 'open') return Promise.resolve(true);
    if (ms <= 0 || (this.status !== 'reconnecting' && this.status !== 'connecting')) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (open: boolean): void => {
        clearTimeout(timer);
        this.openWaiters.delete(done);
        resolve(open);
      };
      const timer = setTimeout(() => done(false), ms);
      this.openWaiters.add(done);
    });
  }

  private notifyOpenWaiters(open: boolean): void {
    for (const done of [...this.openWaiters]) done(open);
  }

  // ---- requests and replies ----

  private nextId(): string {
    return `${this.idPrefix}-${++this.seq}`;
  }

  private assertUsable(): void {
    if (this.closing) throw new SpendguardClosedError('client is closed');
  }

  /** Callers parked waiting for a reconnect count against the outbox bound too. */
  private assertCapacity(): void {
    this.assertUsable();
    if (this.outbox.size + this.openWaiters.size >= this.outbox.limit) {
      throw new SpendguardOutboxFullError(
        `outbox full: ${this.outbox.limit} requests already await the daemon; new requests are refused until replies arrive`,
      );
    }
  }

  /**
   * Sends now when connected. Resendable usage is queued while disconnected; anything else
   * fails at once, since only the fail mode may answer it.
   */
  private request(
    frame: AgentRequest & { id: string },
    resend: boolean,
    localReservation?: string,
  ): Promise<Reply> {
    try {
      this.assertUsable();
      if (!resend && this.status !== 'open') {
        throw new SpendguardUnavailableError(`spendguard daemon at ${this.endpoint} is not connected`);
      }
      const { entry, reply } = this.outbox.add(frame, { resend, timeoutMs: this.requestTimeoutMs, localReservation });
      if (this.status === 'open') this.transmit(entry);
      return reply;
    } catch (err) {
      // Operational refusals (closed, outbox full) arrive as rejections; only invalid input throws.
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private transmit(entry: OutboxEntry): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== socket.OPEN) return;
    entry.sent = true;
    // A failed write surfaces as the socket's close, which requeues or fails the entry.
    socket.send(JSON.stringify(entry.frame), () => undefined);
  }

  private onFrame(frame: DaemonFrame): void {
    switch (frame.type) {
      case 'welcome':
        return;
      case 'grant':
        if (this.killFrame) this.clearKill();
        this.onReply(frame);
        return;
      case 'ack':
        this.tryLaterCloses = 0;
        this.onReply(frame);
        return;
      case 'deny':
      case 'delegated':
      case 'pong':
        this.onReply(frame);
        return;
      case 'pending':
        this.onPending(frame);
        return;
      case 'kill':
        this.onKill(frame);
        return;
      case 'shutdown':
        // The socket closes next; the reconnect loop takes it from there.
        this.emit({ type: 'shutdown' });
        return;
      case 'error':
        this.onError(frame);
        return;
      default:
        frame satisfies never;
    }
  }

  private onReply(frame: Reply): void {
    const entry = this.outbox.get(frame.id);
    if (!entry) {
      if (frame.type === 'grant') this.releaseLateGrant(frame);
      else this.emit({ type: 'late_reply', id: frame.id, frame: frame.type });
      return;
    }
    if (!REPLIES[entry.frame.type].includes(frame.type)) {
      this.outbox.reject(frame.id, unexpected(entry.frame, frame));
      return;
    }
    if (!entry.waiter) this.emit({ type: 'late_reply', id: frame.id, frame: frame.type });
    this.outbox.resolve(frame.id, frame);
    if (entry.localReservation !== undefined) this.allowance.free(entry.localReservation);
  }

  private onPending(frame: Pending): void {
    const entry = this.outbox.get(frame.id);
    if (!entry || entry.frame.type !== 'reserve') return;
    entry.pending = true;
    this.outbox.arm(entry, this.approvalTimeoutMs);
    this.emit({ type: 'pending', id: frame.id, prompt: frame.prompt });
  }

  private onError(frame: ErrorFrame): void {
    this.emit({ type: 'daemon_error', code: frame.code, message: frame.message, id: frame.id });
    if (frame.id !== undefined) this.outbox.reject(frame.id, new SpendguardProtocolError(frame.code, frame.message));
  }

  /** A grant whose caller already gave up holds budget for nobody: hand it back. */
  private releaseLateGrant(grant: Grant): void {
    this.emit({ type: 'late_grant_released', id: grant.id, reservation: grant.reservation });
    this.release({ reservation: grant.reservation }).catch(() => undefined);
  }

  private onKill(frame: KillFrame): void {
    this.killFrame = frame;
    if (!this.killController.signal.aborted) this.killController.abort(new SpendguardKilledError(frame));
    this.emit({ type: 'kill', scope: frame.scope, reason: frame.reason });
    try {
      this.options.onKill?.(frame);
    } catch {
      // The kill already took effect (signal aborted); a throwing callback cannot undo it.
    }
  }

  private clearKill(): void {
    this.killFrame = undefined;
    this.killController = new AbortController();
  }

  // ---- fail mode ----

  private reserveWhileDown(frame: Reserve, cause: SpendguardUnavailableError): ReserveOutcome {
    // A request parked for approval was over an approval limit: granting it locally would bypass the operator.
    if (this.failMode === 'closed' || cause.whilePending) throw cause;
    const plan = planLocalGrant(frame, this.allowance.left, this.prices);
    const reservation = `local-${this.localNonce}-${++this.seq}`;
    if (!plan.ok || !this.allowance.hold(reservation, plan.holdNano, frame.model)) {
      const reason = plan.ok ? 'too many local reservations' : plan.reason;
      this.emit({ type: 'local_refused', id: frame.id, reason });
      throw new SpendguardUnavailableError(
        `spendguard daemon unreachable and ${reason} (allowance $${nanoToUsd(this.allowance.limitNano)})`,
        { cause },
      );
    }
    this.emit({
      type: 'local_grant',
      id: frame.id,
      reservation,
      cost_usd: nanoToUsd(plan.holdNano),
      allowance_left_usd: nanoToUsd(this.allowance.left),
    });
    return {
      kind: 'grant',
      grant: {
        type: 'grant',
        id: frame.id,
        reservation,
        max_output_tokens: plan.maxOutputTokens,
        cost_usd: nanoToUsd(plan.holdNano),
        delay_ms: 0,
        pressure: localPressure(this.allowance.used, this.allowance.limitNano),
        expires_ms: LOCAL_LEASE_MS,
        warnings: ['spendguard daemon unreachable: granted locally from the emergency allowance'],
        local: true,
      },
    };
  }

  /** The daemon never issued a local reservation, so its usage reaches the ledger as a keyed `spend`. */
  private commitLocal(id: string, req: CommitRequest): Promise<Ack> {
    const model = req.model ?? this.allowance.modelOf(req.reservation);
    const frame = outgoing(Spend, {
      type: 'spend',
      id,
      key: req.key ?? req.reservation,
      model,
      input_tokens: req.input_tokens,
      output_tokens: req.output_tokens,
      cache_read_tokens: req.cache_read_tokens,
      cache_write_tokens: req.cache_write_tokens,
      cache_write_1h_tokens: req.cache_write_1h_tokens,
      cost_usd: req.cost_usd,
    });
    const actualNano =
      frame.cost_usd !== undefined
        ? usdToNano(frame.cost_usd)
        : costOf(this.prices.resolve(model).price, {
            input_tokens: frame.input_tokens ?? 0,
            output_tokens: frame.output_tokens ?? 0,
            cache_read_tokens: frame.cache_read_tokens ?? 0,
            cache_write_tokens: frame.cache_write_tokens ?? 0,
            cache_write_1h_tokens: frame.cache_write_1h_tokens ?? 0,
          });
    this.allowance.settle(req.reservation, actualNano);
    return this.request(frame, true, req.reservation).then((reply) => expectAck(frame, reply));
  }
}

function unexpected(request: { type: string; id: string }, reply: { type: string }): SpendguardProtocolError {
  return new SpendguardProtocolError('UNEXPECTED_REPLY', `${reply.type} is not a reply to ${request.type} ${request.id}`);
}

function expectAck(frame: { type: string; id: string }, reply: Reply): Ack {
  if (reply.type !== 'ack') throw unexpected(frame, reply);
  return reply;
}

function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === socket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, CLOSE_HANDSHAKE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (socket.readyState === socket.OPEN) {
      socket.send(JSON.stringify({ type: 'bye' }));
      socket.close(1000, 'bye');
    } else {
      socket.terminate();
    }
  });
}
