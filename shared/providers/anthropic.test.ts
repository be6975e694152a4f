import Anthropic from '@anthropic-ai/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpendguardDeniedError, SpendguardKilledError } from '../client/errors.js';
import { waitUntil } from '../client/test-support/event-log.js';
import { wrapAnthropic, type GuardedAnthropic } from './anthropic.js';
import type { WrapperOptions } from './options.js';
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

function wrapped(over: WrapperOptions = {}): GuardedAnthropic {
  return wrapAnthropic(new Anthropic({ apiKey: 'test', baseURL: h.provider.anthropicBaseURL }), h.client, { ...h.opts, ...over });
}

const body = { model: 'claude-test', max_tokens: 2000, system: 'You are terse.', messages: [{ role: 'user' as const, content: 'Status of the nightly batch?' }] };
const TEXT = 'Nightly batch finished: 12 tasks, $3.40, no overshoot.';

async function drain(stream: AsyncIterable<Anthropic.RawMessageStreamEvent>, received: string[] = []): Promise<string> {
  for await (const event of stream) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') received.push(event.delta.text);
  }
  return received.join('');
}

describe('wrapAnthropic', () => {
  it('non-streaming: sends the granted max_tokens and commits input, output, cache reads and writes as reported', async () => {
    h.daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 256 });
    h.provider.reply = () => ({ id: 'msg_a', text: TEXT, usage: { input: 21, output: 17, cacheRead: 900, cacheWrite: 300 } });
    const msg = await wrapped().messages.create(body);
    expect(msg.content).toEqual([expect.objectContaining({ type: 'text', text: TEXT })]);
    expect(h.provider.requests[0]?.body).toMatchObject({ model: 'claude-test', max_tokens: 256 });
    expect(h.daemon.framesOf('reserve')[0]).toMatchObject({ model: 'claude-test', max_output_tokens: 2000 });
    expect(h.daemon.framesOf('commit')).toEqual([
      expect.objectContaining({ key: 'resp-msg_a', input_tokens: 21, output_tokens: 17, cache_read_tokens: 900, cache_write_tokens: 300 }),
    ]);
  });

  it('streaming: usage from message_start (input, cache) and message_delta (output)', async () => {
    h.provider.reply = () => ({ id: 'msg_s', text: TEXT, usage: { input: 21, output: 17, cacheRead: 40 } });
    const stream = await wrapped().messages.create({ ...body, stream: true });
    expect(await drain(stream)).toBe(TEXT);
    expect(h.provider.requests[0]?.body).toMatchObject({ stream: true, max_tokens: 2000 });
    expect(h.daemon.framesOf('commit')).toEqual([expect.objectContaining({ key: 'resp-msg_s', input_tokens: 21, output_tokens: 17, cache_read_tokens: 40 })]);
  });

  it('a stream cut before message_delta keeps the reported input and counts the received output', async () => {
    h.provider.reply = () => ({ id: 'msg_cut', text: TEXT, usage: { input: 21, output: 17, cacheWrite: 50 }, cutAfterDeltas: 3 });
    const stream = await wrapped().messages.create({ ...body, stream: true });
    const received: string[] = [];
    await expect(drain(stream, received)).rejects.toThrow();
    const text = received.join('');
    expect(text.length).toBeGreaterThan(0);
    expect(h.daemon.framesOf('commit')).toEqual([
      expect.objectContaining({ key: 'resp-msg_cut', input_tokens: 21, cache_write_tokens: 50, output_tokens: o200kTokenizer.count(text) }),
    ]);
    expect(eventsOf(h.events, 'committed')[0]?.usage_source).toBe('tokenizer');
  });

  it('a kill mid-stream aborts the request, commits what was received and throws SpendguardKilledError', async () => {
    h.provider.reply = () => ({ id: 'msg_k', text: TEXT, usage: { input: 21, output: 17 }, hold: held.promise });
    const stream = await wrapped().messages.create({ ...body, stream: true });
    const received: string[] = [];
    const done = drain(stream, received).catch((e: unknown) => e);
    await waitUntil(() => received.length > 0);
    h.daemon.kill('session:s-1', 'operator');
    expect(await done).toBeInstanceOf(SpendguardKilledError);
    await waitUntil(() => h.provider.requests[0]?.closedEarly === true);
    expect(h.daemon.framesOf('commit')).toEqual([expect.objectContaining({ input_tokens: 21, output_tokens: o200kTokenizer.count(received.join('')) })]);
  });

  it('a denied call never reaches the provider', async () => {
    h.daemon.onReserve = () => ({ kind: 'deny', code: 'KILLED' });
    await expect(wrapped().messages.create(body)).rejects.toBeInstanceOf(SpendguardDeniedError);
    expect(h.provider.requests).toHaveLength(0);
  });

  it('a replayed message id is committed as a duplicate, counted once', async () => {
    h.provider.reply = () => ({ id: 'msg_same', text: TEXT, usage: { input: 21, output: 17 } });
    const anthropic = wrapped();
    await anthropic.messages.create(body);
    await drain(await anthropic.messages.create({ ...body, stream: true }));
    expect(eventsOf(h.events, 'committed').map((e) => e.ack.duplicate)).toEqual([false, true]);
    expect(new Set(h.daemon.framesOf('commit').map((c) => c.key))).toEqual(new Set(['resp-msg_same']));
  });
});
