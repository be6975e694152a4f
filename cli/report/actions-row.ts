import { z } from 'zod';

/**
 * `report --actions`: the operator's audit trail, one row per action of the ledger's `actions`
 * table that someone (or something acting for the operator) took on the budget.
 *
 * Included: `kill`, `resume`, `grant`, `prompt_answer` (once / grant / deny by an operator, and
 * `timeout` by the daemon when nobody answered), `key_create`, `key_revoke`, and `limits` (limits
 * changed by a config reload, the file as the actor). Left out: what agents originate —
 * `prompt` (an agent asking), `delegate` and `delegation_end` (an agent lending budget to a child).
 */
export const AUDIT_KINDS = ['kill', 'resume', 'grant', 'prompt_answer', 'key_create', 'key_revoke', 'limits'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** One row of `spendguard report --actions --format json` (the output is an array of these, oldest first). */
export const ActionReportRow = z.object({
  /** The ledger's sequence number of the action: increasing, unique, stable. */
  seq: z.number().int(),
  /** When, as an ISO 8601 UTC timestamp. */
  at: z.string(),
  kind: z.enum(AUDIT_KINDS),
  /** The scope acted on (`global`, `task:t-7`, …). */
  scope: z.string(),
  /** Who acted, as the client named itself: `cli:alice@host`, `top:bob@host`, `operator` (an unnamed client), `daemon`, `config:/path`. */
  actor: z.string(),
  /** What `report --actions` prints: `+$5.00`, `+1,000 tokens for p3-1`, the kill reason, `deny p3-1`, a key's label, a config path. */
  detail: z.string(),
  /** The action's details as the ledger holds them (amounts in nano-dollars, `cost_nano`); `{}` when unreadable. */
  data: z.record(z.string(), z.unknown()),
});
export type ActionReportRow = z.infer<typeof ActionReportRow>;
