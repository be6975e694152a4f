import { z } from 'zod';
import { Name, RequestId, ShortText, Tokens, Usd } from './fields.js';

/** Protocol v1 agent frames (SPEC §4). Each schema is both the TypeScript type and its validation. */

export const PROTOCOL_VERSION = 1;

export const Hello = z.strictObject({
  type: z.literal('hello'),
  v: z.literal(PROTOCOL_VERSION),
  agent: Name,
  session: Name,
  task: Name,
  user: Name.default('default'),
  parent: Name.optional(),
  labels: z.record(z.string().max(64), z.string().max(256)).optional(),
});

export const Reserve = z.strictObject({
  type: z.literal('reserve'),
  id: RequestId,
  model: ShortText.optional(),
  input_tokens: Tokens.optional(),
  max_output_tokens: Tokens.optional(),
  cost_usd: Usd.optional(),
  tool: ShortText.optional(),
  args_hash: ShortText.optional(),
  op: ShortText.optional(),
  critical: z.boolean().optional(),
});

const CacheTokens = {
  cache_read_tokens: Tokens.optional(),
  /** 5-minute cache writes. */
  cache_write_tokens: Tokens.optional(),
  /** 1-hour cache writes, billed higher: never also counted in cache_write_tokens. */
  cache_write_1h_tokens: Tokens.optional(),
};

export const Commit = z.strictObject({
  type: z.literal('commit'),
  id: RequestId,
  reservation: RequestId,
  key: RequestId.optional(),
  model: ShortText.optional(),
  input_tokens: Tokens,
  output_tokens: Tokens,
  ...CacheTokens,
  cost_usd: Usd.optional(),
});

export const Release = z.strictObject({
  type: z.literal('release'),
  id: RequestId,
  reservation: RequestId,
});

export const Spend = z.strictObject({
  type: z.literal('spend'),
  id: RequestId,
  key: RequestId,
  model: ShortText.optional(),
  input_tokens: Tokens.optional(),
  output_tokens: Tokens.optional(),
  ...CacheTokens,
  cost_usd: Usd.optional(),
  tool: ShortText.optional(),
  op: ShortText.optional(),
});

export const DelegateLimits = z
  .strictObject({ cost_usd: Usd.optional(), tokens: Tokens.optional() })
  .refine((l) => l.cost_usd !== undefined || l.tokens !== undefined, 'must give cost_usd or tokens');

export const Delegate = z.strictObject({
  type: z.literal('delegate'),
  id: RequestId,
  child: Name,
  limits: DelegateLimits,
});

export const Bye = z.strictObject({ type: z.literal('bye'), id: RequestId.optional() });
export const Ping = z.strictObject({ type: z.literal('ping'), id: RequestId });

export const AgentFrame = z.discriminatedUnion('type', [Hello, Reserve, Commit, Release, Spend, Delegate, Bye, Ping]);

export type Hello = z.infer<typeof Hello>;
export type Reserve = z.infer<typeof Reserve>;
export type Commit = z.infer<typeof Commit>;
export type Release = z.infer<typeof Release>;
export type Spend = z.infer<typeof Spend>;
export type Delegate = z.infer<typeof Delegate>;
export type AgentFrame = z.infer<typeof AgentFrame>;
export type AgentRequest = Exclude<AgentFrame, Hello>;

/** The ledger key a request records under (SPEC §4: a commit without `key` uses its reservation id); undefined for requests that record nothing. */
export function idempotencyKey(frame: AgentRequest): string | undefined {
  return frame.type === 'commit' ? (frame.key ?? frame.reservation) : frame.type === 'spend' ? frame.key : undefined;
}

// ---- daemon → agent ----

export const DENY_CODES = [
  'BUDGET_EXCEEDED',
  'KILLED',
  'CIRCUIT_OPEN',
  'RATE_LIMITED',
  'TOOL_DENIED',
  'APPROVAL_DENIED',
  'APPROVAL_TIMEOUT',
  'ALIASED',
  'LOOP_DETECTED',
  'FANOUT_LIMIT',
  /** The ledger cannot be written (a full disk, an I/O error): the daemon fails closed until it can. */
  'UNAVAILABLE',
] as const;
export const DenyCode = z.enum(DENY_CODES);
export type DenyCode = z.infer<typeof DenyCode>;

/**
 * Operator frames only: NOT_FOUND (kill/resume/grant of a scope the daemon has never seen,
 * a grant to a prompt no longer pending),
 * CONFIRM_REQUIRED (a grant above the confirmation size sent without `confirmed`).
 */
export const ERROR_CODES = ['INVALID', 'TOO_LARGE', 'UNKNOWN_RESERVATION', 'UNSUPPORTED_VERSION', 'UNAUTHORIZED', 'NOT_FOUND', 'CONFIRM_REQUIRED'] as const;
export const ErrorCode = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const Pressure = z.enum(['ok', 'warning', 'critical', 'exceeded']);
export type Pressure = z.infer<typeof Pressure>;

const Amounts = z.record(z.string(), z.number());

export const ScopeBudget = z.object({
  limit: Amounts,
  spent: Amounts,
  reserved: Amounts,
  pressure: Pressure,
});

export const Welcome = z.object({
  type: z.literal('welcome'),
  v: z.number(),
  scopes: z.array(z.string()),
  budgets: z.record(z.string(), ScopeBudget),
});

export const Grant = z.object({
  type: z.literal('grant'),
  id: z.string(),
  reservation: z.string(),
  max_output_tokens: z.number(),
  cost_usd: z.number(),
  delay_ms: z.number(),
  pressure: Pressure,
  expires_ms: z.number(),
  warnings: z.array(z.string()),
  suggested_model: z.string().optional(),
});

export const Deny = z.object({
  type: z.literal('deny'),
  id: z.string(),
  code: DenyCode,
  scope: z.string(),
  message: z.string(),
  retry_after_ms: z.number().optional(),
});

export const Pending = z.object({ type: z.literal('pending'), id: z.string(), prompt: z.string() });

export const Ack = z.object({
  type: z.literal('ack'),
  id: z.string(),
  cost_usd: z.number().optional(),
  duplicate: z.boolean().optional(),
  over: z.boolean().optional(),
  /** e.g. an unknown model priced at the default price */
  warnings: z.array(z.string()).optional(),
});

export const Delegated = z.object({
  type: z.literal('delegated'),
  id: z.string(),
  child: z.string(),
  limits: z.object({ cost_usd: z.number().optional(), tokens: z.number().optional() }),
});

export const Pong = z.object({ type: z.literal('pong'), id: z.string() });
export const KillFrame = z.object({ type: z.literal('kill'), scope: z.string(), reason: z.string() });
export const Shutdown = z.object({ type: z.literal('shutdown') });
export const ErrorFrame = z.object({
  type: z.literal('error'),
  id: z.string().optional(),
  code: ErrorCode,
  message: z.string(),
});

export const DaemonFrame = z.discriminatedUnion('type', [
  Welcome,
  Grant,
  Deny,
  Pending,
  Ack,
  Delegated,
  Pong,
  KillFrame,
  Shutdown,
  ErrorFrame,
]);

export type Welcome = z.infer<typeof Welcome>;
export type Grant = z.infer<typeof Grant>;
export type Deny = z.infer<typeof Deny>;
export type Pending = z.infer<typeof Pending>;
export type Ack = z.infer<typeof Ack>;
export type Delegated = z.infer<typeof Delegated>;
export type KillFrame = z.infer<typeof KillFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type DaemonFrame = z.infer<typeof DaemonFrame>;
export type ScopeBudget = z.infer<typeof ScopeBudget>;
