import { SpendguardKilledError } from '../client/errors.js';
import type { GuardCallParams, GuardClient, GuardUsage } from '../client/guard.js';
import { guardedCall, type Settled } from './guarded-call.js';
import type { CallSpec, WrapperOptions } from './options.js';

export type StreamUsage = Omit<Settled<void>, 'value' | 'sentMaxTokens'>;

/**
 * How every stream meter settles: the provider's own usage when the stream reported it, else
 * the input estimate and a tokenizer count of the text that arrived — never $0.
 */
export function settledUsage(reported: GuardUsage | undefined, responseId: string | undefined, inputEstimate: number, outputTokens: () => number): StreamUsage {
  if (reported) return { usage: reported, usageSource: 'provider', responseId };
  return { usage: { input_tokens: inputEstimate, output_tokens: outputTokens() }, usageSource: 'tokenizer', responseId };
}

/** Reads usage off a provider's stream chunks as they pass. */
export interface StreamMeter<C> {
  observe(chunk: C): void;
  /** The provider's reported usage when the stream completed; else a tokenizer count of what was received. */
  settle(): StreamUsage;
}

export interface OpenedStream<C> {
  source: AsyncIterable<C>;
  sentMaxTokens: number;
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (reason: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A provider stream under a reservation: chunks pass through unchanged; when iteration ends —
 * completed, cut, broken out of, aborted or killed — the usage is committed before the loop
 * returns, so a caller who finished iterating knows the ledger has it. Iterable once, like the
 * SDKs' own streams. A stream nobody iterates holds its reservation until the lease expires.
 */
export class GuardedStream<C> implements AsyncIterable<C> {
  private started = false;
  private readonly ended = deferred<StreamUsage>();
  private isEnded = false;

  constructor(
    private readonly source: AsyncIterable<C>,
    private readonly meter: StreamMeter<C>,
    /** Aborting it stops the provider request; what was received is committed. */
    readonly controller: AbortController,
    private readonly callSignal: AbortSignal,
    private readonly settled: () => Promise<unknown>,
  ) {
    // Killed or aborted before anyone iterated: settle now rather than wait for the lease.
    if (callSignal.aborted) this.end();
    else callSignal.addEventListener('abort', () => this.started || this.end(), { once: true });
  }

  /** Resolves with the usage to commit once iteration is over. */
  get usage(): Promise<StreamUsage> {
    return this.ended.promise;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<C, void, undefined> {
    if (this.started) throw new Error('a guarded stream can be iterated only once');
    this.started = true;
    let failure: { error: unknown } | undefined;
    try {
      if (!this.isEnded) {
        for await (const chunk of this.source) {
          this.meter.observe(chunk);
          yield chunk;
        }
      }
    } catch (error) {
      failure = { error };
    } finally {
      this.end();
      await this.settled();
    }
    // The SDKs end a stream silently when its signal aborts; a kill must reach the agent as one.
    const reason: unknown = this.callSignal.reason;
    if (this.callSignal.aborted && reason instanceof SpendguardKilledError) throw reason;
    if (failure) throw failure.error;
  }

  private end(): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.ended.resolve(this.meter.settle());
  }
}

/**
 * Reserves, waits `delay_ms`, opens the provider stream with the clamped `max_tokens`, and
 * resolves with the stream as soon as it is open; the commit follows at the end of iteration.
 * Failures before the stream opens are retried by `guard()` like any call.
 */
export function guardedStream<C>(
  client: GuardClient,
  spec: CallSpec,
  opts: WrapperOptions,
  open: (p: GuardCallParams) => Promise<OpenedStream<C>>,
  newMeter: () => StreamMeter<C>,
): Promise<GuardedStream<C>> {
  const controller = new AbortController();
  const signal = spec.signal ? AbortSignal.any([spec.signal, controller.signal]) : controller.signal;
  const handoff = deferred<GuardedStream<C>>();
  const settled: Promise<void> = guardedCall(client, { ...spec, signal }, opts, async (p) => {
    const opened = await open(p);
    const stream = new GuardedStream(opened.source, newMeter(), controller, p.signal, () => settled);
    handoff.resolve(stream);
    const end = await stream.usage;
    return { value: undefined, ...end, sentMaxTokens: opened.sentMaxTokens };
  });
  // Before the handoff this is the caller's error; after it, the iterator rethrows it at the end.
  settled.catch((err: unknown) => handoff.reject(err));
  return handoff.promise;
}
