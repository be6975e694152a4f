import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff.js';
import { classifyFailure, retryAfterMsOf } from './transient.js';

describe('classifyFailure', () => {
  it.each([
    [{ status: 429 }, true],
    [{ status: 500 }, true],
    [{ status: 503 }, true],
    [{ statusCode: 502 }, true],
    [{ response: { status: 504 } }, true],
    [{ status: 400 }, false],
    [{ status: 401 }, false],
    [{ status: 404 }, false],
    [{ status: 400, code: 'ECONNRESET' }, false],
    [{ code: 'ETIMEDOUT' }, true],
    [{ code: 'ECONNRESET' }, true],
    [{ cause: { cause: { code: 'UND_ERR_SOCKET' } } }, true],
    [{ code: 'ENOENT' }, false],
    [new Error('plain'), false],
    ['a string', false],
  ])('%j → transient %s', (err, transient) => {
    expect(classifyFailure(err).transient).toBe(transient);
  });
});

describe('retryAfterMsOf', () => {
  it('prefers retryAfterMs, then retry-after-ms, then Retry-After seconds or date', () => {
    expect(retryAfterMsOf({ retryAfterMs: 1200, headers: { 'retry-after': '9' } })).toBe(1200);
    expect(retryAfterMsOf({ headers: { 'retry-after-ms': '250' } })).toBe(250);
    expect(retryAfterMsOf({ headers: new Headers({ 'retry-after': '3' }) })).toBe(3000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterMsOf({ headers: { 'retry-after': 'Wed, 01 Jan 2025 00:00:10 GMT' } }, now)).toBe(10_000);
    expect(retryAfterMsOf({ headers: { 'retry-after': 'soon' } })).toBeUndefined();
    expect(retryAfterMsOf({})).toBeUndefined();
  });
});

describe('backoffDelayMs', () => {
  it('doubles up to the cap and keeps jitter within [ceiling/2, ceiling]', () => {
    const policy = { initialMs: 100, maxMs: 5000 };
    expect([0, 1, 2, 3].map((a) => backoffDelayMs(policy, a, () => 1))).toEqual([100, 200, 400, 800]);
    expect(backoffDelayMs(policy, 50, () => 1)).toBe(5000);
    expect(backoffDelayMs(policy, 50, () => 0)).toBe(2500);
  });
});
