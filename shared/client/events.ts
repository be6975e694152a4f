import type { AgentRequest, ErrorCode } from '../protocol/agent.js';

/** What the client and `guard()` report to the optional `onEvent` hook (logging, metrics). */
export type ClientEvent =
  | { type: 'connected'; reconnect: boolean; resent: number }
  | { type: 'disconnected'; code: number; reason: string; failed: number; queued: number }
  | { type: 'reconnect_scheduled'; attempt: number; delay_ms: number }
  | { type: 'reconnect_failed'; attempt: number; message: string }
  | { type: 'pending'; id: string; prompt: string }
  | { type: 'kill'; scope: string; reason: string }
  | { type: 'shutdown' }
  | { type: 'local_grant'; id: string; reservation: string; cost_usd: number; allowance_left_usd: number }
  | { type: 'local_refused'; id: string; reason: string }
  | { type: 'request_timeout'; id: string; request: AgentRequest['type']; still_queued: boolean }
  /** A reply whose caller had already stopped waiting (timeout) — delivery still completed. */
  | { type: 'late_reply'; id: string; frame: string }
  /** A grant for a reserve that had timed out: released at once so it holds no budget. */
  | { type: 'late_grant_released'; id: string; reservation: string }
  | { type: 'invalid_frame'; message: string }
  | { type: 'daemon_error'; code: ErrorCode; message: string; id?: string | undefined }
  | { type: 'closed'; unacked: number }
  | { type: 'retry'; attempt: number; delay_ms: number; reason: string }
  | {
      type: 'overshoot';
      reservation: string;
      reserved_usd: number;
      cost_usd: number | undefined;
      output_tokens: number;
      granted_output_tokens: number;
    }
  | { type: 'cap_bypassed'; reservation: string; granted_max_tokens: number; sent_max_tokens: number }
  | { type: 'commit_queued'; reservation: string; message: string }
  | { type: 'commit_failed'; reservation: string; message: string }
  | { type: 'release_failed'; reservation: string; message: string };
