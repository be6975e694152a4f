import type { GuardUsage } from '../../shared/client/guard.js';
import { settledUsage, type StreamMeter, type StreamUsage } from '../../shared/providers/guarded-stream.js';
import { AnthropicStreamMeter, fromAnthropicUsage } from '../../shared/providers/anthropic-usage.js';
import { fromOpenAIUsage, OpenAIStreamMeter } from '../../shared/providers/openai-usage.js';
import { estimateTokens, MESSAGE_OVERHEAD_TOKENS, o200kTokenizer, type Tokenizer } from '../../shared/providers/tokens.js';

/**
 * What the proxy needs to know of each provider API it meters: which paths cost money, how big
 * a request is, where its output bound goes, and how its response reports usage (JSON or SSE).
 * The usage mappers and stream meters are the wrappers' own, so every path prices alike.
 */

export type Format = 'openai' | 'anthropic';
export type Endpoint = 'chat' | 'responses' | 'embeddings' | 'messages';
type Json = Record<string, unknown>;

/** The metered endpoint a path (after `/proxy/<name>`) names, or null for a passed-through one. */
export function endpointOf(format: Format, path: string): Endpoint | null {
  const p = path.split('?')[0] ?? '';
  if (format === 'anthropic') return /\/v1\/messages\/?$/.test(p) ? 'messages' : null;
  if (/\/chat\/completions\/?$/.test(p)) return 'chat';
  if (/\/responses\/?$/.test(p)) return 'responses';
  if (/\/embeddings\/?$/.test(p)) return 'embeddings';
  return null;
}

export interface CallShape {
  readonly model: string | undefined;
  /** Tokenizer count of everything the model reads, rounded up (never under). */
  readonly inputTokens: number;
  /** The request's own output bound, if it set one. */
  readonly maxOutput: number | undefined;
  readonly stream: boolean;
  /** An OpenAI chat stream whose client asked for the usage chunk itself. */
  readonly clientWantsUsage: boolean;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

export function shapeOf(endpoint: Endpoint, body: Json, tokenizer: Tokenizer = o200kTokenizer): CallShape {
  const model = str(body.model);
  const stream = body.stream === true;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  switch (endpoint) {
    case 'chat':
      return {
        model,
        inputTokens: estimateTokens([body.messages, body.tools, body.functions, body.response_format, body.prediction], tokenizer) + MESSAGE_OVERHEAD_TOKENS * (messages.length + 1),
        maxOutput: num(body.max_completion_tokens) ?? num(body.max_tokens),
        stream,
        clientWantsUsage: obj(body.stream_options)?.include_usage === true,
      };
    case 'responses':
      return { model, inputTokens: estimateTokens([body.input, body.instructions, body.tools, body.text], tokenizer) + MESSAGE_OVERHEAD_TOKENS, maxOutput: num(body.max_output_tokens), stream, clientWantsUsage: false };
    case 'embeddings':
      return { model, inputTokens: estimateTokens(body.input, tokenizer), maxOutput: 0, stream: false, clientWantsUsage: false };
    case 'messages':
      return {
        model,
        inputTokens: estimateTokens([body.messages, body.system, body.tools], tokenizer) + MESSAGE_OVERHEAD_TOKENS * (messages.length + 1),
        maxOutput: num(body.max_tokens),
        stream,
        clientWantsUsage: false,
      };
  }
}

/** The request as forwarded: the granted output bound written in, and an OpenAI stream asked for its usage. */
export function clampedBody(endpoint: Endpoint, body: Json, maxTokens: number): Json {
  switch (endpoint) {
    case 'chat': {
      // Whichever field the client used; neither: the one every current model accepts.
      const field = body.max_tokens !== undefined && body.max_completion_tokens === undefined ? 'max_tokens' : 'max_completion_tokens';
      const n = num(body.n) ?? 1;
      const out: Json = { ...body, [field]: Math.max(1, Math.floor(maxTokens / Math.max(1, n))) };
      if (body.stream === true) out.stream_options = { ...obj(body.stream_options), include_usage: true };
      return out;
    }
    case 'responses':
      return { ...body, max_output_tokens: Math.max(16, maxTokens) };
    case 'embeddings':
      return body;
    case 'messages':
      return { ...body, max_tokens: Math.max(1, maxTokens) };
  }
}

/** OpenAI's Responses API: `input_tokens` includes cached ones, `output_tokens` includes reasoning. */
export function fromResponsesUsage(u: Json): GuardUsage {
  const input = num(u.input_tokens) ?? 0;
  const cached = num(obj(u.input_tokens_details)?.cached_tokens) ?? 0;
  return { input_tokens: Math.max(0, input - cached), output_tokens: num(u.output_tokens) ?? 0, ...(cached > 0 ? { cache_read_tokens: cached } : {}) };
}

/** Usage and response id of a complete JSON response; undefined when it reported none. */
export function usageOfJson(endpoint: Endpoint, res: Json): { usage: GuardUsage; id: string | undefined } | undefined {
  const u = obj(res.usage);
  if (!u) return undefined;
  const id = str(res.id);
  switch (endpoint) {
    case 'chat':
      return { usage: fromOpenAIUsage(u as never), id };
    case 'responses':
      return { usage: fromResponsesUsage(u), id };
    case 'embeddings':
      return { usage: { input_tokens: num(u.prompt_tokens) ?? 0, output_tokens: 0 }, id };
    case 'messages':
      return { usage: fromAnthropicUsage(u as never), id };
  }
}

/** The output text of a complete JSON response, for a tokenizer count when it reported no usage. */
export function outputTextOf(res: Json): string {
  return JSON.stringify(res.choices ?? res.content ?? res.output ?? '');
}

/** Responses API stream: `response.completed` carries the usage, text deltas before it. */
class ResponsesStreamMeter implements StreamMeter<Json> {
  private id: string | undefined;
  private final: GuardUsage | undefined;
  private text = '';

  constructor(
    private readonly inputEstimate: number,
    private readonly tokenizer: Tokenizer,
  ) {}

  observe(event: Json): void {
    const response = obj(event.response);
    this.id ??= str(response?.id);
    if (typeof event.delta === 'string') this.text += event.delta;
    const usage = obj(response?.usage);
    if (usage && (event.type === 'response.completed' || event.type === 'response.incomplete')) this.final = fromResponsesUsage(usage);
  }

  settle(): StreamUsage {
    return settledUsage(this.final, this.id, this.inputEstimate, () => this.tokenizer.count(this.text));
  }
}

export function streamMeterOf(endpoint: Endpoint, inputEstimate: number, tokenizer: Tokenizer = o200kTokenizer): StreamMeter<Json> {
  switch (endpoint) {
    case 'chat':
      return new OpenAIStreamMeter(inputEstimate, tokenizer) as unknown as StreamMeter<Json>;
    case 'messages':
      return new AnthropicStreamMeter(inputEstimate, tokenizer) as unknown as StreamMeter<Json>;
    case 'responses':
    case 'embeddings':
      return new ResponsesStreamMeter(inputEstimate, tokenizer);
  }
}

/** An OpenAI chat chunk that only carries the usage the proxy asked for (hidden from a client that did not). */
export function isUsageOnlyChunk(event: Json): boolean {
  return Array.isArray(event.choices) && event.choices.length === 0 && obj(event.usage) !== undefined;
}

/** An error body in the provider's own format, so its SDK raises its usual error type. */
export function errorBody(format: Format, status: number, code: string, message: string): Json {
  if (format === 'anthropic') {
    const type = status === 401 ? 'authentication_error' : status === 403 ? 'permission_error' : status === 429 ? 'rate_limit_error' : status === 413 ? 'request_too_large' : status >= 500 ? 'api_error' : 'invalid_request_error';
    return { type: 'error', error: { type, message } };
  }
  const type = status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, code } };
}

/** HTTP status of a spendguard refusal: none an SDK retries blindly, except rate-like ones with `retry-after`. */
export function statusOfDeny(code: string): number {
  if (code === 'BUDGET_EXCEEDED' || code === 'APPROVAL_DENIED' || code === 'APPROVAL_TIMEOUT') return 402;
  if (code === 'KILLED' || code === 'TOOL_DENIED' || code === 'FANOUT_LIMIT' || code === 'ALIASED') return 403;
  if (code === 'RATE_LIMITED' || code === 'CIRCUIT_OPEN' || code === 'LOOP_DETECTED') return 429;
  if (code === 'UNAVAILABLE') return 503;
  return 400;
}
