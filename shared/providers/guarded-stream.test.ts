import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../client/test-support/event-log.js';
import { guardedStream, type StreamMeter, type StreamUsage } from './guarded-stream.js';
import type { CallSpec } from './options.js';
import { startHarness, type Harness } from './testing/harness.js';

let h: Harness;

beforeEach(async () => {
  h = await startHarness();
});

afterEach(async () => {
  await h.close();
});

const spec: CallSpec = { provider: 'openai', model: 'm', inputTokens: 50, maxOutputTokens: 100 };

class CountingMeter implements StreamMeter<string> {
  seen = 0;
  observe(): void {
    this.seen++;
  }
  settle(): StreamUsage {
    return { usage: { input_tokens: 50, output_tokens: this.seen }, usageSource: 'tokenizer', responseId: 'resp-x' };
  }
}

async function* chunks(...items: string[]): AsyncGenerator<string> {
  yield* items;
}

/** Yields `n` chunks, then waits until its signal aborts. */
async function* source(n: number, signal: AbortSignal): AsyncGenerator<string> {
  for (let i = 0; i < n; i++) yield `c${i}`;
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
}

describe('guardedStream', () => {
  it('commits before the loop returns and refuses a second iteration', async () => {
    const stream = await guardedStream(h.client, spec, h.opts, async () => ({ source: chunks('a', 'b'), sentMaxTokens: 100 }), () => new CountingMeter());
    const seen: string[] = [];
    for await (const c of stream) seen.push(c);
    expect(seen).toEqual(['a', 'b']);
    expect(h.daemon.framesOf('commit')).toEqual([expect.objectContaining({ output_tokens: 2, key: 'resp-resp-x' })]);
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toThrow(/only once/);
  });

  it('aborted through its controller before anyone iterates, it still settles: never a reservation left hanging', async () => {
    const stream = await guardedStream(h.client, spec, h.opts, async (p) => ({ source: source(0, p.signal), sentMaxTokens: 100 }), () => new CountingMeter());
    stream.controller.abort();
    await waitUntil(() => h.daemon.framesOf('commit').length === 1);
    expect(h.daemon.framesOf('commit')[0]).toMatchObject({ input_tokens: 50, output_tokens: 0 });
  });

  it('reports a clamp that did not reach the request at the end of iteration, after committing', async () => {
    h.daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 10 });
    const stream = await guardedStream(h.client, spec, h.opts, async () => ({ source: chunks('a'), sentMaxTokens: 100 }), () => new CountingMeter());
    const drain = async (): Promise<void> => {
      for await (const _ of stream);
    };
    await expect(drain()).rejects.toMatchObject({ code: 'CAP_BYPASSED' });
    expect(h.daemon.framesOf('commit')).toHaveLength(1);
  });
});
