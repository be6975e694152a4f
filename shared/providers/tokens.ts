import { createRequire } from 'node:module';

type GptTokenizer = typeof import('gpt-tokenizer');

/**
 * o200k's ranks take about 68 MB once loaded: they are loaded on the first count, so a process
 * that never counts (a daemon whose proxy is not used, a CLI command) never pays for them.
 * The package's CommonJS build, so the first count can stay synchronous.
 */
let tokenizer: GptTokenizer | undefined;
function countTokens(text: string, options: Parameters<GptTokenizer['countTokens']>[1]): number {
  tokenizer ??= createRequire(import.meta.url)('gpt-tokenizer') as GptTokenizer;
  return tokenizer.countTokens(text, options);
}

/** Counts tokens of text. The default is OpenAI's o200k_base; other providers' counts are estimates. */
export interface Tokenizer {
  count(text: string): number;
}

// User text may contain `<|endoftext|>` and friends: count them as text, never throw.
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

export const o200kTokenizer: Tokenizer = {
  count: (text) => (text.length === 0 ? 0 : countTokens(text, AS_PLAIN_TEXT)),
};

/**
 * Images, audio and files are priced by the provider from their pixels or pages, not their
 * bytes; tokenizing base64 would over-count by orders of magnitude. About one 1092×1092 image
 * on Anthropic (~1,590) and above OpenAI's 1024×1024 high-detail tile count (765).
 */
export const BINARY_PART_TOKENS = 1_600;
/** Per chat message: role and separators (OpenAI's published count is 3, plus 3 to prime the reply). */
export const MESSAGE_OVERHEAD_TOKENS = 3;
const MAX_DEPTH = 32;

const BINARY_PART_TYPES = new Set(['image', 'image_url', 'input_image', 'input_audio', 'file', 'document']);
/** Keys whose values are structure or settings, never text the model reads. */
const SKIPPED_KEYS = new Set(['type', 'cache_control', 'providerOptions', 'providerMetadata', 'mediaType', 'media_type']);

/**
 * An estimate of the prompt tokens in a provider request fragment (messages, system, tools):
 * every string leaf is tokenized, binary parts count as {@link BINARY_PART_TOKENS}.
 */
export function estimateTokens(value: unknown, tokenizer: Tokenizer = o200kTokenizer): number {
  return walk(value, tokenizer, 0);
}

function walk(value: unknown, tokenizer: Tokenizer, depth: number): number {
  if (typeof value === 'string') return tokenizer.count(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return 1;
  if (typeof value !== 'object' || value === null) return 0;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof URL) return BINARY_PART_TOKENS;
  if (depth >= MAX_DEPTH) return roughCount(value);
  if (Array.isArray(value)) {
    let sum = 0;
    for (const item of value) sum += walk(item, tokenizer, depth + 1);
    return sum;
  }
  const record = value as Record<string, unknown>;
  if (typeof record.type === 'string' && BINARY_PART_TYPES.has(record.type)) return BINARY_PART_TOKENS;
  let sum = 0;
  for (const [key, v] of Object.entries(record)) {
    if (!SKIPPED_KEYS.has(key)) sum += walk(v, tokenizer, depth + 1);
  }
  return sum;
}

/** Past the depth bound: about four characters a token, so deep input is still counted, never free. */
function roughCount(value: object): number {
  try {
    return Math.ceil((JSON.stringify(value)?.length ?? 0) / 4);
  } catch {
    return 0;
  }
}
