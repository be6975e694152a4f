import { z } from 'zod';
import { Pressure } from './agent.js';
import { RequestId, ScopeIdSchema, ShortText, Tokens, Usd } from './fields.js';

/** Operator frames on `/v1/operator` (TUI and CLI). Same rules as agent frames: one schema each. */

export const StatusRequest = z.strictObject({ type: z.literal('status'), id: RequestId });
export const PromptsRequest = z.strictObject({ type: z.literal('prompts'), id: RequestId });

export const KillRequest = z
  .strictObject({
    type: z.literal('kill'),
    id: RequestId,
    scope: ScopeIdSchema.optional(),
    all: z.literal(true).optional(),
    reason: ShortText.optional(),
  })
  .refine((k) => (k.scope === undefined) !== (k.all === undefined), 'give exactly one of scope or all');

export const ResumeRequest = z
  .strictObject({
    type: z.literal('resume'),
    id: RequestId,
    scope: ScopeIdSchema.optional(),
    all: z.literal(true).optional(),
  })
  .refine((k) => (k.scope === undefined) !== (k.all === undefined), 'give exactly one of scope or all');

/** `target` is a prompt id (`p…`) or a scope id. */
export const GrantRequest = z.strictObject({
  type: z.literal('grant'),
  id: RequestId,
  target: z.string().min(1).max(300),
  add_usd: Usd.optional(),
  add_tokens: Tokens.optional(),
  once: z.boolean().optional(),
});

export const DenyRequest = z.strictObject({ type: z.literal('deny'), id: RequestId, prompt: z.string().min(1).max(128) });

export const OperatorFrame = z.discriminatedUnion('type', [
  StatusRequest,
  PromptsRequest,
  KillRequest,
  ResumeRequest,
  GrantRequest,
  DenyRequest,
]);
export type OperatorFrame = z.infer<typeof OperatorFrame>;
export type KillRequest = z.infer<typeof KillRequest>;
export type ResumeRequest = z.infer<typeof ResumeRequest>;
export type GrantRequest = z.infer<typeof GrantRequest>;

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
  killed: z.boolean(),
  breaker: Breaker,
  mode: z.enum(['hard', 'soft', 'approval']),
  agents: z.number(),
  burn_usd_per_min_1m: z.number().nullable(),
  burn_usd_per_min_10m: z.number().nullable(),
  exhaustion_ms: z.number().nullable(),
});

export const StatusJson = z.object({
  agents: z.number(),
  scopes: z.record(z.string(), ScopeStatus),
  prompts: z.number(),
  config: z.object({ path: z.string().nullable(), loaded_at: z.number(), error: z.string().nullable() }),
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
});

export const OperatorResult = z.object({
  type: z.literal('result'),
  id: z.string(),
  ok: z.literal(true),
  message: z.string(),
  status: StatusJson.optional(),
  prompts: z.array(PromptJson).optional(),
});

export type ScopeStatus = z.infer<typeof ScopeStatus>;
export type StatusJson = z.infer<typeof StatusJson>;
export type PromptJson = z.infer<typeof PromptJson>;
export type OperatorResult = z.infer<typeof OperatorResult>;
export type Breaker = z.infer<typeof Breaker>;
