import { z } from 'zod';
import { Pressure } from './agent.js';
import { Name, RequestId, ScopeIdSchema, ShortText, Tokens, Usd } from './fields.js';

/** Operator frames on `/v1/operator` (TUI and CLI). Same rules as agent frames: one schema each. */

/**
 * Who acts, as the client names itself (`top:alice@host`, `cli:alice@host`, `hook`): recorded
 * with every grant, kill, resume and denial so two operators can be told apart. Any holder of
 * the operator token may write anything here — it attributes, it does not authenticate.
 */
export const Actor = z.string().regex(/^[A-Za-z0-9._@+=:\/-]{1,64}$/, 'must be 1–64 letters, digits or . _ @ + = : / -');
const actor = Actor.optional();

export const StatusRequest = z.strictObject({ type: z.literal('status'), id: RequestId, actor });
export const PromptsRequest = z.strictObject({ type: z.literal('prompts'), id: RequestId, actor });

export const KillRequest = z
  .strictObject({
    type: z.literal('kill'),
    id: RequestId,
    scope: ScopeIdSchema.optional(),
    all: z.literal(true).optional(),
    reason: ShortText.optional(),
    /** Kill a scope the daemon has never seen (a pre-emptive kill); without it an unknown scope is refused. */
    create: z.literal(true).optional(),
    actor,
  })
  .refine((k) => (k.scope === undefined) !== (k.all === undefined), 'give exactly one of scope or all');

export const ResumeRequest = z
  .strictObject({
    type: z.literal('resume'),
    id: RequestId,
    scope: ScopeIdSchema.optional(),
    all: z.literal(true).optional(),
    actor,
  })
  .refine((k) => (k.scope === undefined) !== (k.all === undefined), 'give exactly one of scope or all');

/** A grant adds something: zero or a negative amount is a typo, never an intent. */
const AddUsd = Usd.refine((v) => v > 0, 'must be above 0');
const AddTokens = Tokens.refine((v) => v > 0, 'must be above 0');

/** `target` is a prompt id (`p…`) or a scope id. */
export const GrantRequest = z.strictObject({
  type: z.literal('grant'),
  id: RequestId,
  target: z.string().min(1).max(300),
  add_usd: AddUsd.optional(),
  add_tokens: AddTokens.optional(),
  once: z.boolean().optional(),
  /**
   * The operator saw the new limit and said yes. A grant above `approvals.confirm_above_usd`, or
   * more than the scope's current limit in a dimension, is refused without it.
   */
  confirmed: z.literal(true).optional(),
  /** Grant to a scope the daemon has never seen (ahead of its first agent); without it an unknown scope is refused. */
  create: z.literal(true).optional(),
  actor,
});

export const DenyRequest = z.strictObject({ type: z.literal('deny'), id: RequestId, prompt: z.string().min(1).max(128), actor });

/** A key's label: how `keys list` and `keys revoke` name it (the key itself is shown once). */
export const KeyLabel = z.string().regex(/^[A-Za-z0-9._@+=-]{1,64}$/, 'must be 1–64 letters, digits or . _ @ + = -');

/** A key bound to `scope` (and to one agent name when given); the daemon answers with the key, once. */
export const KeyCreateRequest = z.strictObject({
  type: z.literal('key_create'),
  id: RequestId,
  scope: ScopeIdSchema,
  /** Where `scope` belongs when it is not in use yet (its parent: a user for a session, …). */
  in: ScopeIdSchema.optional(),
  agent: Name.optional(),
  name: KeyLabel.optional(),
  /** Lifetime from now; none: until revoked. */
  expires_ms: z.number().int('must be a whole number').positive('must be above 0').max(10 * 365 * 86_400_000, 'must be at most 10 years').optional(),
  actor,
});
export const KeyListRequest = z.strictObject({ type: z.literal('key_list'), id: RequestId, actor });
/** `target`: a key's label, or the key itself. */
export const KeyRevokeRequest = z.strictObject({ type: z.literal('key_revoke'), id: RequestId, target: z.string().min(1).max(128), actor });

/** Starts the live feed: a full `feed` frame now, then changes at most ~10 times a second. */
export const SubscribeRequest = z.strictObject({ type: z.literal('subscribe'), id: RequestId, actor });

export const OperatorFrame = z.discriminatedUnion('type', [
  SubscribeRequest,
  StatusRequest,
  PromptsRequest,
  KillRequest,
  ResumeRequest,
  GrantRequest,
  DenyRequest,
  KeyCreateRequest,
  KeyListRequest,
  KeyRevokeRequest,
]);
export type OperatorFrame = z.infer<typeof OperatorFrame>;
export type KillRequest = z.infer<typeof KillRequest>;
export type ResumeRequest = z.infer<typeof ResumeRequest>;
export type GrantRequest = z.infer<typeof GrantRequest>;
export type KeyCreateRequest = z.infer<typeof KeyCreateRequest>;

// ---- daemon → operator ----

const Amounts = z.record(z.string(), z.union([z.number(), z.record(z.string(), z.number())]));

export const Breaker = z.enum(['closed', 'open', 'half-open']);

export const ScopeStatus = z.object({
  limit: Amounts,
  spent: Amounts,
  reserved: Amounts,
  pressure: Pressure,
  /** Largest used-or-reserved fraction of any of the scope's own limits; null without limits. */
  ratio: z.number().nullable(),
  /** Its own kill only; see `killed_by` for a kill it inherits. */
  killed: z.boolean(),
  /** The nearest killed scope on its path to global (itself first): what blocks it, and what to resume; null: not blocked. */
  killed_by: z.string().nullable().default(null),
  /** The scope it sits under (null for global): with it, `status --json` is a tree. */
  parent: z.string().nullable().default(null),
  breaker: Breaker,
  mode: z.enum(['hard', 'soft', 'approval']),
  agents: z.number(),
  burn_usd_per_min_1m: z.number().nullable(),
  burn_usd_per_min_10m: z.number().nullable(),
  burn_tokens_per_min_1m: z.number().nullable().default(null),
  burn_tokens_per_min_10m: z.number().nullable().default(null),
  /** Time until the nearest cost or token limit runs out at the 1-minute pace; null: not enough data. */
  exhaustion_ms: z.number().nullable(),
});

export const ScopeKindName = z.enum(['global', 'user', 'session', 'task', 'agent']);

/** A scope as the live feed shows it: its status plus where it sits in the tree. */
export const FeedScope = ScopeStatus.extend({
  kind: ScopeKindName,
  /** Backpressure delay the next grant under this scope would carry. */
  delay_ms: z.number(),
  /** running: a connected agent; waiting: an agent with a pending prompt; idle: no connection. */
  state: z.enum(['running', 'waiting', 'killed', 'idle']),
  limit_source: z.enum(['config', 'delegation', 'max_share', 'none']),
  kill_reason: z.string().nullable(),
  /** Connected agents anywhere under this scope (what a kill here would reach). */
  agents_under: z.number().default(0),
});

export const AlertJson = z.object({
  seq: z.number(),
  at_ms: z.number(),
  level: z.enum(['info', 'warning', 'critical']),
  kind: z.string(),
  scope: z.string(),
  message: z.string(),
});

export const PromptJson = z.object({
  id: z.string(),
  scope: z.string(),
  agent: z.string(),
  reason: z.string(),
  cost_usd: z.number(),
  tokens: z.number(),
  age_ms: z.number(),
  expires_in_ms: z.number(),
  projected_usd: z.number().nullable(),
  /** The cost limit `projected_usd` is measured against: the prompt's binding one, windows included. */
  limit_usd: z.number().nullable().default(null),
});

/** Whether the ledger accepts writes: while it does not, reserve/delegate are denied UNAVAILABLE and no usage is acknowledged. */
export const LedgerHealth = z.object({ writable: z.boolean(), error: z.string().nullable(), since_ms: z.number().nullable() });
const LEDGER_OK = { writable: true, error: null, since_ms: null };

export const FeedFrame = z.object({
  type: z.literal('feed'),
  /** true: `scopes` is the whole tree (replace); false: only scopes that changed (merge). */
  full: z.boolean(),
  at_ms: z.number(),
  agents: z.number(),
  scopes: z.record(z.string(), FeedScope),
  /** Scopes that left the daemon's memory (idle) since the previous frame: drop them. */
  removed: z.array(z.string()).default([]),
  /** Always the whole list: it is bounded and small. */
  prompts: z.array(PromptJson),

  /** New alerts since the previous frame (all recent ones when full). */
  alerts: z.array(AlertJson),
  /** Global spend per 10 s over the last 5 minutes, in USD, oldest first. */
  burn_series_usd: z.array(z.number()),
  config: z.object({ path: z.string().nullable(), loaded_at: z.number(), error: z.string().nullable() }),
  approvals: z.object({ timeout_ms: z.number(), increment_usd: z.number() }),
  ledger: LedgerHealth.default(LEDGER_OK),
});

export const StatusJson = z.object({
  agents: z.number(),
  /** At most a few thousand: global, those that need the operator, then the most recently active. */
  scopes: z.record(z.string(), ScopeStatus),
  /** Every scope the daemon holds in memory, shown or not. */
  scopes_total: z.number().optional(),
  prompts: z.number(),
  config: z.object({ path: z.string().nullable(), loaded_at: z.number(), error: z.string().nullable() }),
  ledger: LedgerHealth.default(LEDGER_OK),
});

/** A key as `keys list` shows it: never the key, never its hash. */
export const KeyJson = z.object({
  label: z.string(),
  scope: z.string(),
  /** The scopes above it, global first: a key never acts under any other. */
  under: z.array(z.string()).default([]),
  agent: z.string().nullable(),
  created_ms: z.number(),
  expires_ms: z.number().nullable(),
  /** Since this daemon started; null: not used since. */
  last_used_ms: z.number().nullable(),
  revoked: z.boolean(),
  /** Connections open with it now. */
  connections: z.number(),
});

export const OperatorResult = z.object({
  type: z.literal('result'),
  id: z.string(),
  ok: z.literal(true),
  message: z.string(),
  status: StatusJson.optional(),
  prompts: z.array(PromptJson).optional(),
  keys: z.array(KeyJson).optional(),
  /** `key_create` only: the new key, shown this once. */
  key: z.string().optional(),
});

export type ScopeStatus = z.infer<typeof ScopeStatus>;
export type FeedScope = z.infer<typeof FeedScope>;
export type FeedFrame = z.infer<typeof FeedFrame>;
export type AlertJson = z.infer<typeof AlertJson>;
export type StatusJson = z.infer<typeof StatusJson>;
export type PromptJson = z.infer<typeof PromptJson>;
export type OperatorResult = z.infer<typeof OperatorResult>;
export type Breaker = z.infer<typeof Breaker>;
export type LedgerHealth = z.infer<typeof LedgerHealth>;
export type KeyJson = z.infer<typeof KeyJson>;
