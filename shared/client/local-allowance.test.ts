import { describe, expect, it } from 'vitest';
import { usdToNano } from '../money/money.js';
import { PriceBook, priceFromUsd } from '../money/pricing.js';
import type { Reserve } from '../protocol/agent.js';
import { EmergencyAllowance, planLocalGrant } from './local-allowance.js';

// Every model at the default: $1 in / $4 out per Mtok, i.e. 1,000 / 4,000 nano-USD per token.
const prices = new PriceBook(priceFromUsd({ input: 1, output: 4 }), new Map());
const reserve = (over: Partial<Reserve>): Reserve => ({ type: 'reserve', id: 'x', model: 'no-such-model', ...over });

describe('planLocalGrant', () => {
  it('holds input plus granted output, clamping output to what is left', () => {
    expect(planLocalGrant(reserve({ input_tokens: 1000, max_output_tokens: 100 }), usdToNano(1), prices)).toEqual({
      ok: true,
      holdNano: 1_000_000 + 400_000,
      maxOutputTokens: 100,
    });
    expect(planLocalGrant(reserve({ input_tokens: 1000, max_output_tokens: 10_000 }), 1_000_000 + 8_000, prices)).toEqual({
      ok: true,
      holdNano: 1_008_000,
      maxOutputTokens: 2,
    });
  });

  it('refuses when the input alone does not fit or no output can be paid', () => {
    expect(planLocalGrant(reserve({ input_tokens: 1001 }), 1_000_000, prices).ok).toBe(false);
    expect(planLocalGrant(reserve({ input_tokens: 1000, max_output_tokens: 5 }), 1_000_000 + 3_999, prices).ok).toBe(false);
  });

  it('uses cost_usd as the hold for non-LLM tools', () => {
    expect(planLocalGrant(reserve({ model: undefined, cost_usd: 0.25 }), usdToNano(0.5), prices)).toEqual({
      ok: true,
      holdNano: usdToNano(0.25),
      maxOutputTokens: 0,
    });
    expect(planLocalGrant(reserve({ cost_usd: 0.75 }), usdToNano(0.5), prices).ok).toBe(false);
  });
});

describe('EmergencyAllowance', () => {
  it('holds, settles to the actual cost, and frees on release or acknowledgement', () => {
    const a = new EmergencyAllowance(1000, 10);
    expect(a.hold('l-1', 600, 'm')).toBe(true);
    expect(a.hold('l-2', 500, 'm')).toBe(false);
    a.settle('l-1', 700);
    expect(a.used).toBe(700);
    expect(a.left).toBe(300);
    a.free('l-1');
    expect(a.used).toBe(0);
  });

  it('is bounded in entries', () => {
    const a = new EmergencyAllowance(1000, 2);
    expect(a.hold('a', 0, undefined)).toBe(true);
    expect(a.hold('b', 0, undefined)).toBe(true);
    expect(a.hold('c', 0, undefined)).toBe(false);
  });
});
