import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * One line of a Claude Code transcript (`~/.claude/projects/<project>/<session_id>.jsonl`) read
 * as usage. Only assistant lines carry usage; everything else is ignored. The shape is Claude
 * Code's, not ours, so the schema is loose: unknown fields pass, missing counts are zero.
 */

const Count = z.number().int().nonnegative().max(1_000_000_000);

const Usage = z.object({
  input_tokens: Count.nullish(),
  output_tokens: Count.nullish(),
  cache_creation_input_tokens: Count.nullish(),
  cache_read_input_tokens: Count.nullish(),
  cache_creation: z.object({ ephemeral_5m_input_tokens: Count.nullish(), ephemeral_1h_input_tokens: Count.nullish() }).nullish(),
});

const AssistantLine = z.object({
  type: z.literal('assistant'),
  sessionId: z.string().optional(),
  requestId: z.string().optional(),
  timestamp: z.string().optional(),
  isSidechain: z.boolean().optional(),
  agentId: z.string().optional(),
  message: z.object({
    id: z.string().min(1),
    model: z.string().max(256).optional(),
    stop_reason: z.string().nullish(),
    usage: Usage,
  }),
});

/** Token counts in the protocol's non-overlapping fields (SPEC §4). */
export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  /** 5-minute cache writes. */
  cache_write_tokens: number;
  /** 1-hour cache writes, billed higher: never also in cache_write_tokens. */
  cache_write_1h_tokens: number;
}

export interface UsageLine {
  /** `cc:<message.id>:<requestId>`: the ledger's idempotency key. */
  key: string;
  sessionId: string | undefined;
  /** Lines of one stream arrive in order; a new message in it means the previous one is complete. */
  stream: string;
  model: string | undefined;
  usage: TokenCounts;
  /** The line carries the message's stop reason: its usage is the final one. */
  final: boolean;
  timestamp_ms: number | undefined;
}

export type LineResult = { kind: 'usage'; line: UsageLine } | { kind: 'ignored' } | { kind: 'malformed'; reason: string };

const MAX_KEY_CHARS = 128;
/** Claude Code writes `<synthetic>` for messages it made up itself (errors, interruptions): no API call. */
const SYNTHETIC_MODEL = '<synthetic>';

export function parseTranscriptLine(text: string): LineResult {
  // Cheap test first: tool results make user lines megabytes long, and they carry no usage.
  if (!text.includes('"assistant"') || !text.includes('"usage"')) return { kind: 'ignored' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'malformed', reason: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || !('type' in raw) || raw.type !== 'assistant') return { kind: 'ignored' };
  const parsed = AssistantLine.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'malformed', reason: `assistant line with ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'an unexpected shape'}` };
  }
  const line = parsed.data;
  const u = line.message.usage;
  const usage: TokenCounts = {
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens ?? 0,
    cache_read_tokens: u.cache_read_input_tokens ?? 0,
    ...splitWrites(u.cache_creation_input_tokens ?? 0, u.cache_creation?.ephemeral_1h_input_tokens ?? 0),
  };
  if (line.message.model === SYNTHETIC_MODEL || totalTokens(usage) === 0) return { kind: 'ignored' };
  const timestamp_ms = line.timestamp === undefined ? undefined : Date.parse(line.timestamp);
  return {
    kind: 'usage',
    line: {
      key: usageKey(line.message.id, line.requestId),
      sessionId: line.sessionId,
      stream: `${line.sessionId ?? ''}:${line.isSidechain ? `side:${line.agentId ?? ''}` : 'main'}`,
      model: line.message.model,
      usage,
      final: typeof line.message.stop_reason === 'string',
      timestamp_ms: Number.isFinite(timestamp_ms) ? timestamp_ms : undefined,
    },
  };
}

/** Stable across re-reads, restarts and resumed sessions that copy earlier lines. */
export function usageKey(messageId: string, requestId: string | undefined): string {
  const key = requestId === undefined ? `cc:${messageId}` : `cc:${messageId}:${requestId}`;
  return key.length <= MAX_KEY_CHARS ? key : `cc:h:${createHash('sha256').update(key).digest('hex').slice(0, 48)}`;
}

/** Claude Code reports all cache writes in one count and their 1-hour part apart. */
function splitWrites(all: number, oneHour: number): Pick<TokenCounts, 'cache_write_tokens' | 'cache_write_1h_tokens'> {
  const h = Math.min(all, oneHour);
  return { cache_write_tokens: all - h, cache_write_1h_tokens: h };
}

export function totalTokens(u: TokenCounts): number {
  return u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens + u.cache_write_1h_tokens;
}

/** Streamed lines of one message repeat its usage, sometimes with a partial output count: keep the largest. */
export function maxUsage(a: TokenCounts, b: TokenCounts): TokenCounts {
  return {
    input_tokens: Math.max(a.input_tokens, b.input_tokens),
    output_tokens: Math.max(a.output_tokens, b.output_tokens),
    cache_read_tokens: Math.max(a.cache_read_tokens, b.cache_read_tokens),
    cache_write_tokens: Math.max(a.cache_write_tokens, b.cache_write_tokens),
    cache_write_1h_tokens: Math.max(a.cache_write_1h_tokens, b.cache_write_1h_tokens),
  };
}
