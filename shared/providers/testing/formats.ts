/** Usage a fake provider reports, in the protocol's non-overlapping terms; each format encodes it its own way. */
export interface FakeUsage {
  /** Uncached input. */
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
}

export interface FakeReply {
  /** The provider's response id (`chatcmpl-…`, `msg_…`); repeat it to simulate a replayed response. */
  id: string;
  text: string;
  usage: FakeUsage;
  /** Non-stream replies: this usage object verbatim, in the provider's own format, instead of one built from `usage`. */
  rawUsage?: Record<string, unknown>;
  /** Answer with this HTTP status and an error body instead. */
  status?: number;
  /** Streams: close the connection after this many text deltas, before any usage is sent. */
  cutAfterDeltas?: number;
  /** Streams: send no usage at all (a provider ignoring `include_usage`). */
  omitUsage?: boolean;
  /** Wait for this before the body (non-stream) or after the first delta (stream). */
  hold?: Promise<void>;
}

/** A stream as SSE frames: before the text, one frame per text delta, after the text. */
export interface SseScript {
  head: string[];
  deltas: string[];
  tail: string[];
}

export function sse(data: unknown, event?: string): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** Word-sized pieces, spaces kept, so the received prefix of a cut stream is real text. */
export function splitText(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

const CREATED_S = 1_700_000_000;

export const openaiFormat = {
  usage(u: FakeUsage): Record<string, unknown> {
    const cached = u.cacheRead ?? 0;
    const written = u.cacheWrite ?? 0;
    const prompt = u.input + cached + written;
    return {
      prompt_tokens: prompt,
      completion_tokens: u.output,
      total_tokens: prompt + u.output,
      prompt_tokens_details: { cached_tokens: cached, ...(written > 0 ? { cache_write_tokens: written } : {}) },
      completion_tokens_details: { reasoning_tokens: 0 },
    };
  },

  json(r: FakeReply, model: string): Record<string, unknown> {
    return {
      id: r.id,
      object: 'chat.completion',
      created: CREATED_S,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: r.text, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: r.rawUsage ?? openaiFormat.usage(r.usage),
    };
  },

  stream(r: FakeReply, model: string, includeUsage: boolean): SseScript {
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
      sse({ id: r.id, object: 'chat.completion.chunk', created: CREATED_S, model, choices, ...extra });
    const choice = (delta: Record<string, unknown>, finish: string | null = null): unknown => ({ index: 0, delta, finish_reason: finish, logprobs: null });
    const tail = [chunk([choice({}, 'stop')])];
    if (includeUsage && !r.omitUsage) tail.push(chunk([], { usage: openaiFormat.usage(r.usage) }));
    tail.push(sse('[DONE]'));
    return {
      head: [chunk([choice({ role: 'assistant', content: '' })])],
      deltas: splitText(r.text).map((piece) => chunk([choice({ content: piece })])),
      tail,
    };
  },

  error(status: number): Record<string, unknown> {
    return { error: { message: `fake provider error ${status}`, type: 'server_error', code: null } };
  },
};

export const anthropicFormat = {
  usage(u: FakeUsage, output: number): Record<string, unknown> {
    return {
      input_tokens: u.input,
      output_tokens: output,
      cache_read_input_tokens: u.cacheRead ?? 0,
      cache_creation_input_tokens: u.cacheWrite ?? 0,
    };
  },

  message(r: FakeReply, model: string, content: unknown[], output: number, stop: string | null): Record<string, unknown> {
    return {
      id: r.id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stop,
      stop_sequence: null,
      usage: anthropicFormat.usage(r.usage, output),
    };
  },

  json(r: FakeReply, model: string): Record<string, unknown> {
    const message = anthropicFormat.message(r, model, [{ type: 'text', text: r.text, citations: null }], r.usage.output, 'end_turn');
    return r.rawUsage ? { ...message, usage: r.rawUsage } : message;
  },

  stream(r: FakeReply, model: string): SseScript {
    const ev = (type: string, body: Record<string, unknown>): string => sse({ type, ...body }, type);
    // Like the real API: message_start reports the input side and a token or so of output.
    const tail = [ev('content_block_stop', { index: 0 })];
    if (!r.omitUsage) {
      tail.push(ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: r.usage.output } }));
    }
    tail.push(ev('message_stop', {}));
    return {
      head: [
        ev('message_start', { message: anthropicFormat.message(r, model, [], 1, null) }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: '', citations: null } }),
        ev('ping', {}),
      ],
      deltas: splitText(r.text).map((text) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
      tail,
    };
  },

  error(status: number): Record<string, unknown> {
    return { type: 'error', error: { type: 'api_error', message: `fake provider error ${status}` } };
  },
};
