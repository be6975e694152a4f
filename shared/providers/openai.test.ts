import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpendguardDeniedError, SpendguardKilledError } from '../client/errors.js';
import { waitUntil } from '../client/test-support/event-log.js';
import { wrapOpenAI, type GuardedOpenAI, type OpenAIWrapperOptions } from './openai.js';
import { eventsOf, gate, startHarness, type Harness } from './testing/harness.js';
import { o200kTokenizer } from './tokens.js';

let h: Harness;
let held: ReturnType<typeof gate>;

beforeEach(async () => {
  h = await startHarness();
  held = gate();
});

afterEach(async () => {
  held.open();
  await h.close();
});

function wrapped(over: OpenAIWrapperOptions = {}): GuardedOpenAI {
  return wrapOpenAI(new OpenAI({ apiKey: 'test', baseURL: h.provider.openaiBaseURL }), h.client, { ...h.opts, ...over });
}

const messages = [{ role: 'user' as const, content: 'Summarise the budget report in one line.' }];
const TEXT = 'The budget held: four agents spent under their caps this week.';

async function drain(stream: AsyncIterable<OpenAI.ChatCompletionChunk>, received: string[] = []): Promise<string> {
  for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '');
  return received.join('');
}

describe('wrapOpenAI', () => {
  it('non-streaming: sends the granted max_tokens and commits reported usage, cached tokens subtracted, keyed by the response id', async () => {
    h.daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 120 });
    h.provider.reply = () => ({ id: 'chatcmpl-a', text: TEXT, usage: { input: 40, output: 12, cacheRead: 60 } });
    const res = await wrapped().chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 1000 });
    expect(res.choices[0]?.message.content).toBe(TEXT);
    expect(h.provider.requests[0]?.body).toMatchObject({ model: 'gpt-4o', max_tokens: 120 });
    expect(h.provider.requests[0]?.body).not.toHaveProperty('max_completion_tokens');
    const reserve = h.daemon.framesOf('reserve')[0];
    expect(reserve).toMatchObject({ model: 'gpt-4o', max_output_tokens: 1000 });
    expect(reserve?.input_tokens).toBeGreaterThan(5);
    expect(h.daemon.framesOf('commit')).toEqual([
      expect.objectContaining({ key: 'resp-chatcmpl-a', model: 'gpt-4o', input_tokens: 40, output_tokens: 12, cache_read_tokens: 60 }),
    ]);
    expect(eventsOf(h.events, 'committed')[0]).toMatchObject({ usage_source: 'provider', ack: { duplicate: false } });
  });

  it('clamps max_completion_tokens when the request uses it, split over n choices', async () => {
    h.daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 301 });
    await wrapped().chat.completions.create({ model: 'gpt-4o', messages, max_completion_tokens: 1000, n: 2 });
    expect(h.daemon.framesOf('reserve')[0]?.max_output_tokens).toBe(2000);
    expect(h.provider.requests[0]?.body).toMatchObject({ max_completion_tokens: 150, n: 2 });
    expect(h.provider.requests[0]?.body).not.toHaveProperty('max_tokens');
  });

  it('streaming: forces include_usage, passes chunks through and commits the final usage chunk when iteration ends', async () => {
    h.daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 64 });
    h.provider.reply = () => ({ id: 'chatcmpl-s', text: TEXT, usage: { input: 30, output: 14, cacheRead: 5, cacheWrite: 7 } });
    const stream = await wrapped().chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    expect(await drain(stream)).toBe(TEXT);
    expect(h.provider.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, max_completion_tokens: 64 });
    expect(h.daemon.framesOf('commit')).toEqual([
      expect.objectContaining({ key: 'resp-chatcmpl-s', input_tokens: 30, output_tokens: 14, cache_read_tokens: 5, cache_write_tokens: 7 }),
    ]);
  });

  it('a stream cut mid-way commits a tokenizer count of the received text, then rethrows the cut', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-cut', text: TEXT, usage: { input: 30, output: 14 }, cutAfterDeltas: 4 });
    const stream = await wrapped().chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    const received: string[] = [];
    await expect(drain(stream, received)).rejects.toThrow();
    const text = received.join('');
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(TEXT.length);
    const estimate = eventsOf(h.events, 'reserved')[0]?.input_tokens;
    expect(h.daemon.framesOf('commit')).toEqual([
      expect.objectContaining({ key: 'resp-chatcmpl-cut', input_tokens: estimate, output_tokens: o200kTokenizer.count(text) }),
    ]);
    expect(eventsOf(h.events, 'committed')[0]?.usage_source).toBe('tokenizer');
  });

  it('a provider that ignores include_usage is counted from the text, never $0', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-q', text: TEXT, usage: { input: 30, output: 14 }, omitUsage: true });
    const stream = await wrapped().chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    await drain(stream);
    expect(h.daemon.framesOf('commit')[0]?.output_tokens).toBe(o200kTokenizer.count(TEXT));
  });

  it('breaking out of a stream closes the request and commits what was received before the loop exits', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-b', text: TEXT, usage: { input: 30, output: 14 } });
    const stream = await wrapped().chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (text.length > 0) break;
    }
    expect(h.daemon.framesOf('commit')).toHaveLength(1);
    expect(h.daemon.framesOf('commit')[0]?.output_tokens).toBe(o200kTokenizer.count(text));
  });

  it('a kill mid-stream aborts the provider request, commits what was received and throws SpendguardKilledError', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-k', text: TEXT, usage: { input: 30, output: 14 }, hold: held.promise });
    const stream = await wrapped().chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    const received: string[] = [];
    const done = drain(stream, received).catch((e: unknown) => e);
    await waitUntil(() => received.join('').length > 0);
    h.daemon.kill('task:t-1', 'runaway');
    expect(await done).toBeInstanceOf(SpendguardKilledError);
    await waitUntil(() => h.provider.requests[0]?.closedEarly === true);
    expect(h.daemon.framesOf('commit')[0]?.output_tokens).toBe(o200kTokenizer.count(received.join('')));
  });

  it('a kill during a non-streaming call aborts it and commits the estimated input: the prompt was delivered', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-kn', text: TEXT, usage: { input: 30, output: 14 }, hold: held.promise });
    const call = wrapped()
      .chat.completions.create({ model: 'gpt-4o', messages })
      .catch((e: unknown) => e);
    await h.provider.waitForRequests(1);
    h.daemon.kill('task:t-1', 'runaway');
    expect(await call).toBeInstanceOf(SpendguardKilledError);
    const estimate = eventsOf(h.events, 'reserved')[0]?.input_tokens;
    expect(h.daemon.framesOf('commit')).toEqual([expect.objectContaining({ input_tokens: estimate, output_tokens: 0 })]);
    expect(eventsOf(h.events, 'committed')[0]?.usage_source).toBe('estimate');
  });

  it('a denied call never reaches the provider', async () => {
    h.daemon.onReserve = () => ({ kind: 'deny', code: 'BUDGET_EXCEEDED' });
    await expect(wrapped().chat.completions.create({ model: 'gpt-4o', messages })).rejects.toBeInstanceOf(SpendguardDeniedError);
    await expect(wrapped().chat.completions.create({ model: 'gpt-4o', messages, stream: true })).rejects.toBeInstanceOf(SpendguardDeniedError);
    expect(h.provider.requests).toHaveLength(0);
  });

  it('retries a 503 under a new reservation; the SDK does not retry on its own', async () => {
    let n = 0;
    h.provider.reply = () => (n++ === 0 ? { id: 'x', text: '', usage: { input: 0, output: 0 }, status: 503 } : { id: 'chatcmpl-r', text: TEXT, usage: { input: 9, output: 3 } });
    await wrapped().chat.completions.create({ model: 'gpt-4o', messages, stream: true }).then(drain);
    expect(h.provider.requests).toHaveLength(2);
    expect(h.daemon.framesOf('reserve')).toHaveLength(2);
    await waitUntil(() => h.daemon.framesOf('release').length === 1);
    expect(h.daemon.framesOf('commit').map((c) => c.reservation)).toEqual(['r-2']);
  });

  it('a repeated response id is billed once: the second commit is a duplicate and its hold is released', async () => {
    h.provider.reply = () => ({ id: 'chatcmpl-same', text: TEXT, usage: { input: 9, output: 3 } });
    const openai = wrapped();
    await openai.chat.completions.create({ model: 'gpt-4o', messages });
    await openai.chat.completions.create({ model: 'gpt-4o', messages });
    expect(eventsOf(h.events, 'committed').map((e) => [e.key, e.ack.duplicate])).toEqual([
      ['resp-chatcmpl-same', false],
      ['resp-chatcmpl-same', true],
    ]);
    await waitUntil(() => h.daemon.framesOf('release').length === 1);
    expect(h.daemon.framesOf('release')[0]?.reservation).toBe('r-2');
  });

  it('calls suggested_model only when opted in', async () => {
    h.daemon.onReserve = () => ({ kind: 'grant', suggested_model: 'gpt-4o-mini' });
    await wrapped().chat.completions.create({ model: 'gpt-4o', messages });
    await wrapped({ applySuggestedModel: true }).chat.completions.create({ model: 'gpt-4o', messages });
    expect(h.provider.requests.map((r) => r.body.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(h.daemon.framesOf('commit').map((c) => c.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });
});
