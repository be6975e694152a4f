import { describe, expect, it } from 'vitest';
import { BoundedSet, MessageCoalescer, type UsageRecord } from './dedupe.js';

function rec(key: string, output: number, opts: Partial<UsageRecord> = {}): UsageRecord {
  return {
    key,
    sessionId: 's-1',
    stream: 's-1:main',
    model: 'm',
    usage: { input_tokens: 1, output_tokens: output, cache_read_tokens: 10, cache_write_tokens: 0, cache_write_1h_tokens: 0 },
    final: false,
    timestamp_ms: undefined,
    ...opts,
  };
}

describe('MessageCoalescer', () => {
  it('holds a streamed message until its final line and sends the largest counts once', () => {
    const c = new MessageCoalescer(10_000);
    expect(c.push(rec('a', 12), 0)).toEqual([]);
    const out = c.push(rec('a', 187, { final: true }), 1);
    expect(out.map((r) => [r.key, r.usage.output_tokens])).toEqual([['a', 187]]);
    expect(c.size).toBe(0);
  });

  it('completes a message when the next one starts in the same stream, not in another', () => {
    const c = new MessageCoalescer(10_000);
    c.push(rec('a', 5), 0);
    c.push(rec('a', 342), 1);
    expect(c.push(rec('side', 1, { stream: 's-1:side:x' }), 2)).toEqual([]);
    const out = c.push(rec('b', 1), 3);
    expect(out.map((r) => [r.key, r.usage.output_tokens])).toEqual([['a', 342]]);
    expect(c.size).toBe(2);
  });

  it('releases quiet messages after settle_ms and everything on drain', () => {
    const c = new MessageCoalescer(1_000);
    c.push(rec('a', 5), 0);
    c.push(rec('b', 5, { stream: 'other' }), 500);
    expect(c.due(999)).toEqual([]);
    expect(c.due(1_000).map((r) => r.key)).toEqual(['a']);
    expect(c.drain().map((r) => r.key)).toEqual(['b']);
    expect(c.size).toBe(0);
  });

  it('holds at most max_open messages, releasing the oldest early', () => {
    const c = new MessageCoalescer(10_000, 2);
    c.push(rec('a', 1, { stream: 'x' }), 0);
    c.push(rec('b', 1, { stream: 'y' }), 0);
    expect(c.push(rec('c', 1, { stream: 'z' }), 0).map((r) => r.key)).toEqual(['a']);
  });
});

describe('BoundedSet', () => {
  it('forgets the oldest key past its bound', () => {
    const s = new BoundedSet(2);
    s.add('a');
    s.add('b');
    s.add('a');
    s.add('c');
    expect([s.has('a'), s.has('b'), s.has('c')]).toEqual([true, false, true]);
  });
});

describe('MessageCoalescer with repeated final lines', () => {
  it('sends a message once when several of its lines carry the final usage, again only after reset', () => {
    const c = new MessageCoalescer(10_000);
    expect(c.push(rec('a', 58, { final: true }), 0)).toHaveLength(1);
    expect(c.push(rec('a', 58, { final: true }), 0)).toEqual([]);
    c.reset();
    expect(c.push(rec('a', 58, { final: true }), 0)).toHaveLength(1);
  });
});
