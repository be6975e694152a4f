import { z } from 'zod';

/**
 * Action rows of the ledger (kills, resumes, grants, prompts and their answers, delegations,
 * limit changes): one schema per kind, the single source of the type the engine writes and of
 * the validation `Ledger.restore` applies to what it reads back.
 */

const Int = z.number().int();
const base = { ts: Int, scope: z.string().min(1), actor: z.string() };

export const ActionRowSchema = z.discriminatedUnion('kind', [
  z.object({ ...base, kind: z.literal('kill'), data: z.object({ reason: z.string() }) }),
  z.object({ ...base, kind: z.literal('resume'), data: z.object({}) }),
  z.object({ ...base, kind: z.literal('grant'), data: z.object({ cost_nano: Int, tokens: Int, prompt: z.string().optional() }) }),
  z.object({
    ...base,
    kind: z.literal('prompt'),
    data: z.object({ prompt: z.string(), kind: z.enum(['budget', 'tool']), reason: z.string(), cost_nano: Int, tokens: Int, tool: z.string().nullable() }),
  }),
  z.object({ ...base, kind: z.literal('prompt_answer'), data: z.object({ prompt: z.string(), answer: z.enum(['once', 'grant', 'deny', 'timeout']) }) }),
  z.object({
    ...base,
    kind: z.literal('delegate'),
    // Rows of earlier versions have no cap or chain: such a delegation is not restored.
    data: z.object({ cost_nano: Int.nullable(), tokens: Int.nullable(), cap_cost_nano: Int.nullable().optional(), cap_tokens: Int.nullable().optional(), chain: z.array(z.string()).optional() }),
  }),
  z.object({ ...base, kind: z.literal('delegation_end'), data: z.object({ why: z.enum(['bye', 'expired']), returned_cost_nano: Int, returned_tokens: Int }) }),
  z.object({ ...base, kind: z.literal('limits'), data: z.object({ limits: z.unknown(), scopes: z.unknown() }) }),
  // A key bound to `scope`: its SHA-256, never the key.
  z.object({ ...base, kind: z.literal('key_create'), data: z.object({ label: z.string(), hash: z.string().regex(/^[0-9a-f]{64}$/), agent: z.string().nullable(), expires_ms: Int.nullable(), pinned: z.array(z.string()).default([]) }) }),
  z.object({ ...base, kind: z.literal('key_revoke'), data: z.object({ label: z.string() }) }),
]);

export type ActionRow = z.infer<typeof ActionRowSchema>;
export type ActionKind = ActionRow['kind'];

/** Parses one row read back from the ledger; the error names the row and the field. */
export function parseActionRow(seq: number, row: { ts: number; kind: string; scope: string; actor: string; data: string }): ActionRow {
  let data: unknown;
  try {
    data = JSON.parse(row.data);
  } catch {
    throw new Error(`ledger action row ${seq} (${row.kind}): data is not JSON`);
  }
  const parsed = ActionRowSchema.safeParse({ ...row, data });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`ledger action row ${seq} (${row.kind}): ${issue ? `${issue.path.join('.') || 'row'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}
