export {
  SpendguardClient,
  type ClientGrant,
  type ClientState,
  type CommitRequest,
  type DelegateOutcome,
  type DelegateRequest,
  type FailMode,
  type HelloFields,
  type ReleaseRequest,
  type ReserveOutcome,
  type ReserveRequest,
  type SpendguardClientOptions,
  type SpendRequest,
} from './agent-client.js';
export {
  guard,
  MAX_GUARD_RETRIES,
  responseKey,
  type GuardCallParams,
  type GuardCallResult,
  type GuardClient,
  type GuardOptions,
  type GuardUsage,
} from './guard.js';
export {
  SpendguardAccountingError,
  SpendguardClosedError,
  SpendguardDeniedError,
  SpendguardError,
  SpendguardKilledError,
  SpendguardOutboxFullError,
  SpendguardProtocolError,
  SpendguardTimeoutError,
  SpendguardUnavailableError,
} from './errors.js';
export type { ClientEvent } from './events.js';
export { classifyFailure, retryAfterMsOf, type FailureClass } from './transient.js';
export { backoffDelayMs, type BackoffPolicy } from './backoff.js';
