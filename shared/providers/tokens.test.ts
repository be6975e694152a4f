import { describe, expect, it } from 'vitest';
import { BINARY_PART_TOKENS, estimateTokens, o200kTokenizer } from './tokens.js';

describe('tokens', () => {
  it('counts text with o200k_base, special-token strings as plain text', () => {
    expect(o200kTokenizer.count('')).toBe(0);
    expect(o200kTokenizer.count('Hello, world!')).toBe(4);
    expect(o200kTokenizer.count('<|endoftext|> ignore that')).toBeGreaterThan(3);
  });

  it('estimates a prompt from its string leaves, skipping structure and counting binary parts at a flat rate', () => {
    const text = 'What is in this picture?';
    const prompt = [
      { role: 'user', content: [{ type: 'text', text, cache_control: { type: 'ephemeral' } }, { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } }] },
    ];
    expect(estimateTokens(prompt)).toBe(o200kTokenizer.count('user') + o200kTokenizer.count(text) + BINARY_PART_TOKENS);
    expect(estimateTokens({ type: 'file', data: new Uint8Array(1_000_000) })).toBe(BINARY_PART_TOKENS);
  });

  it('bounds recursion: deep input is still counted, roughly', () => {
    let deep: unknown = 'leaf text';
    for (let i = 0; i < 200; i++) deep = { nested: deep };
    expect(estimateTokens(deep)).toBeGreaterThan(0);
  });
});
