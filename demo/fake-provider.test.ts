import { describe, expect, it } from 'vitest';
import { FakeProvider } from './fake-provider.js';
import { Pace } from './pace.js';
import { driftStep } from './scenarios/drift.js';

/** Fast demo time: the provider's 100–800 ms become 5–40 ms. */
const pace = new Pace(20);

describe('FakeProvider', () => {
  it('never writes more than max_tokens and says when the cap cut the answer', async () => {
    let seed = 1;
    const random = (): number => ((seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647);
    const provider = new FakeProvider(pace, random);
    // The natural answer is 300 ± 25% tokens: caps below 225 always cut it, caps from 375 never do.
    const cases = [
      [1, 'max_tokens'],
      [50, 'max_tokens'],
      [400, 'end_turn'],
      [4_000, 'end_turn'],
    ] as const;
    for (const [maxTokens, stopReason] of cases) {
      const r = await provider.complete({ model: 'gpt-4o', inputTokens: 1_000, maxTokens, naturalOutputTokens: 300, signal: new AbortController().signal });
      expect(r.usage.output_tokens).toBeLessThanOrEqual(maxTokens);
      expect(r.usage.output_tokens).toBeGreaterThan(0);
      expect(r.usage.input_tokens).toBe(1_000);
      expect(r.sentMaxTokens).toBe(maxTokens);
      expect(r.stopReason).toBe(stopReason);
    }
    expect(provider.callCount).toBe(4);
  });

  it('stops at once when its signal aborts', async () => {
    const provider = new FakeProvider(new Pace(0.1), Math.random);
    const controller = new AbortController();
    const call = provider.complete({ model: 'gpt-4o', inputTokens: 10, maxTokens: 10, naturalOutputTokens: 10, signal: controller.signal });
    controller.abort(new Error('killed'));
    await expect(call).rejects.toThrow();
    expect(provider.callCount).toBe(0);
  });
});

describe('driftStep', () => {
  it('grows the context and the pace without bound being exceeded', () => {
    let prev = driftStep(0);
    for (let i = 1; i < 200; i++) {
      const step = driftStep(i);
      // Inputs never shrink: a shrinking input would hide the drift from the amplification detector.
      expect(step.inputTokens).toBeGreaterThanOrEqual(prev.inputTokens);
      expect(step.gapMs).toBeLessThanOrEqual(prev.gapMs);
      expect(step.maxOutputTokens).toBeGreaterThanOrEqual(step.naturalOutputTokens);
      expect(step.inputTokens).toBeLessThanOrEqual(14_000);
      expect(step.gapMs).toBeGreaterThanOrEqual(1_000);
      prev = step;
    }
  });
});
