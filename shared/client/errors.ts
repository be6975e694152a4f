import type { Deny, DenyCode, ErrorCode, KillFrame } from '../protocol/agent.js';

/** Base class, so callers can tell spendguard's refusals from their provider's failures. */
export class SpendguardError extends Error {
  override name = 'SpendguardError';
}

/** The daemon refused the request (SPEC §4 `deny`). Never retried by `guard()`. */
export class SpendguardDeniedError extends SpendguardError {
  override name = 'SpendguardDeniedError';
  readonly code: DenyCode;
  readonly scope: string;
  readonly retry_after_ms: number | undefined;
  readonly deny: Deny;

  constructor(deny: Deny) {
    super(`${deny.code} on ${deny.scope}: ${deny.message}`);
    this.code = deny.code;
    this.scope = deny.scope;
    this.retry_after_ms = deny.retry_after_ms;
    this.deny = deny;
  }
}

/**
 * The daemon cannot be reached and the fail mode refuses the call: `closed` after the short
 * reconnect wait, `open` once the local emergency allowance is used up.
 */
export class SpendguardUnavailableError extends SpendguardError {
  override name = 'SpendguardUnavailableError';
  /** True when the request had already been parked for operator approval (`pending`). */
  readonly whilePending: boolean;
  /** HTTP status of a refused upgrade (401 for a bad token), when that is why. */
  readonly status: number | undefined;

  constructor(message: string, opts: { whilePending?: boolean; status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.whilePending = opts.whilePending ?? false;
    this.status = opts.status;
  }
}

/**
 * No reply within the request timeout. For commit, spend and release the frame stays in the
 * outbox and is still delivered (and resent after reconnects); only the caller stopped waiting.
 */
export class SpendguardTimeoutError extends SpendguardError {
  override name = 'SpendguardTimeoutError';
  constructor(
    message: string,
    readonly stillQueued: boolean,
  ) {
    super(message);
  }
}

/** The outbox of frames awaiting a reply is at its bound; the new call was not accepted. */
export class SpendguardOutboxFullError extends SpendguardError {
  override name = 'SpendguardOutboxFullError';
}

/** `close()` was called; the client accepts no more calls. */
export class SpendguardClosedError extends SpendguardError {
  override name = 'SpendguardClosedError';
}

/** The daemon answered with `error`, or with a reply that does not fit the request. */
export class SpendguardProtocolError extends SpendguardError {
  override name = 'SpendguardProtocolError';
  constructor(
    readonly code: ErrorCode | 'UNEXPECTED_REPLY',
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Reason given to `client.killSignal` when the daemon pushes `kill`. */
export class SpendguardKilledError extends SpendguardError {
  override name = 'SpendguardKilledError';
  readonly scope: string;
  readonly reason: string;
  constructor(frame: KillFrame) {
    super(`killed by operator on ${frame.scope}: ${frame.reason}`);
    this.scope = frame.scope;
    this.reason = frame.reason;
  }
}

/**
 * The provider call succeeded but its accounting did not: the clamped max_tokens did not reach
 * the provider (`CAP_BYPASSED`) or the daemon rejected the commit (`COMMIT_REJECTED`). The
 * call's result is attached, because the money was spent either way.
 */
export class SpendguardAccountingError<T = unknown> extends SpendguardError {
  override name = 'SpendguardAccountingError';
  constructor(
    readonly code: 'CAP_BYPASSED' | 'COMMIT_REJECTED',
    message: string,
    readonly result: T,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}
