import { describe, expect, it } from 'vitest';
import { burnText, exhaustionText, nextExhaustion, type ProjectionScope } from './projection.js';

function s(overrides: Partial<ProjectionScope>): ProjectionScope {
  return { exhaustion_ms: null, killed: false, killed_by: null, burn_usd_per_min_1m: 0.5, burn_tokens_per_min_1m: null, ...overrides };
}

describe('issue 13: the run-out projection', () => {
  it('says — when no scope has enough data, never a figure', () => {
    expect(exhaustionText(nextExhaustion({}))).toBe('runs out in —');
    expect(exhaustionText(nextExhaustion({ global: s({ burn_usd_per_min_1m: null }), 'task:a': s({}) }))).toBe('runs out in —');
  });

  it('never says "runs out in 1s" for a scope that does not burn (a stale exhaustion_ms left by an older frame)', () => {
    const text = exhaustionText(nextExhaustion({ 'task:idle': s({ exhaustion_ms: 1_200, burn_usd_per_min_1m: 0 }) }));
    expect(text).toBe('runs out in —');
  });

  it('names the scope that runs out first at the current pace, not the one with the highest pressure', () => {
    const scopes = {
      'task:at94': s({ exhaustion_ms: 3_600_000, burn_usd_per_min_1m: 0.001 }),
      'task:at37': s({ exhaustion_ms: 125_000, burn_usd_per_min_1m: 2 }),
      'task:tokens': s({ exhaustion_ms: 90_000, burn_usd_per_min_1m: 0, burn_tokens_per_min_1m: 5_000 }),
      'task:dead': s({ exhaustion_ms: 5_000, killed: true }),
      'agent:under-dead': s({ exhaustion_ms: 5_000, killed_by: 'task:dead' }),
    };
    expect(exhaustionText(nextExhaustion(scopes))).toBe('runs out in 1m30s: task:tokens');
  });

  it('says "waiting for approval" for a scope a pending prompt blocks, before any projection', () => {
    const scopes = { 'session:s': s({ exhaustion_ms: 0 }), 'task:t': s({ exhaustion_ms: 60_000 }), 'agent:x': s({}) };
    expect(exhaustionText(nextExhaustion(scopes, ['session:s', 'agent:x']))).toBe('session:s waiting for approval');
    // A blocked agent stops spending: no burn, no projection, still waiting.
    expect(exhaustionText(nextExhaustion({ 'session:s': s({ burn_usd_per_min_1m: 0 }) }, ['session:s']))).toBe('session:s waiting for approval');
    // A prompt on a scope the view does not have, or on a killed one, blocks nothing shown.
    expect(exhaustionText(nextExhaustion(scopes, ['session:gone']))).toBe('runs out in 1m00s: task:t');
  });

  it('words a burn rate one way', () => {
    expect([burnText(0.0325123), burnText(5.4567), burnText(0), burnText(null)]).toEqual(['$0.0325/min', '$5.46/min', '$0.00/min', '—/min']);
  });
});
