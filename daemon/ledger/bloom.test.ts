import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyFilter } from './bloom.js';

describe('KeyFilter', () => {
  it('never says a key it was given is new', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 128 }), { maxLength: 500 }), (keys) => {
        const f = new KeyFilter();
        for (const k of keys) f.add(k);
        for (const k of keys) expect(f.mightHave(k)).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it('answers "new" for almost every key it was not given', () => {
    const f = new KeyFilter();
    for (let i = 0; i < 100_000; i++) f.add(`spend-${i}`);
    let falsePositives = 0;
    for (let i = 0; i < 100_000; i++) if (f.mightHave(`other-${i}`)) falsePositives += 1;
    expect(falsePositives).toBeLessThan(50);
  });
});
