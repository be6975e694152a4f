import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Alert } from '../engine/events.js';
import type { LogLevel } from '../server/log.js';
import { payloadOf, shouldSend, type WebhookPayload } from './payload.js';
import { WebhookSender, type WebhookOptions } from './webhook.js';

function alert(seq: number, over: Partial<Alert> = {}): Alert {
  return { seq, at_ms: Date.UTC(2026, 0, 1), level: 'critical', kind: 'threshold', scope: 'task:t1', message: `task:t1 critical: 9${seq}%`, ...over };
}

/** A receiver answering with the given statuses in turn (then 200), recording what it was sent. */
function receiver(statuses: number[]): { fetch: typeof fetch; bodies: WebhookPayload[]; calls: () => number } {
  const bodies: WebhookPayload[] = [];
  let calls = 0;
  const fake = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    calls += 1;
    const status = statuses.shift() ?? 200;
    if (status === 0) throw new TypeError('fetch failed');
    if (status < 300) bodies.push(JSON.parse(String(init?.body)) as WebhookPayload);
    return new Response('x', { status });
  };
  return { fetch: fake as typeof fetch, bodies, calls: () => calls };
}

const logs: Array<[LogLevel, string]> = [];
function sender(opts: Partial<WebhookOptions> & Pick<WebhookOptions, 'fetch'>): WebhookSender {
  return new WebhookSender({ url: () => 'http://hooks.test/x', log: (level, msg) => logs.push([level, msg]), random: () => 0.5, ...opts });
}

beforeEach(() => {
  vi.useFakeTimers();
  logs.length = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

describe('WebhookSender', () => {
  it('retries 5xx and network errors with exponential backoff, in order, then delivers', async () => {
    const r = receiver([500, 0, 503]);
    const s = sender({ fetch: r.fetch, baseDelayMs: 100 });
    s.enqueue(payloadOf(alert(1), 1));
    s.enqueue(payloadOf(alert(2), 1));
    await vi.advanceTimersByTimeAsync(0);
    expect(r.calls()).toBe(1);
    // Equal jitter with random 0.5: 75 ms, then 150 ms, then 300 ms.
    await vi.advanceTimersByTimeAsync(74);
    expect(r.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.calls()).toBe(2);
    await vi.advanceTimersByTimeAsync(150);
    expect(r.calls()).toBe(3);
    await vi.advanceTimersByTimeAsync(300);
    expect(r.bodies.map((b) => b.id)).toEqual(['1-1', '1-2']);
    expect(s.stats).toEqual({ delivered: 2, retried: 3, failed: 0, dropped: 0 });
  });

  it('does not retry a 4xx other than 408 / 429, and gives up after maxAttempts', async () => {
    const r = receiver([404, 500, 500, 500]);
    const s = sender({ fetch: r.fetch, maxAttempts: 3, baseDelayMs: 10 });
    s.enqueue(payloadOf(alert(1), 1));
    s.enqueue(payloadOf(alert(2), 1));
    s.enqueue(payloadOf(alert(3), 1));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(r.bodies.map((b) => b.id)).toEqual(['1-3']);
    expect(s.stats).toEqual({ delivered: 1, retried: 2, failed: 2, dropped: 0 });
    expect(logs.filter(([level]) => level === 'error')).toHaveLength(2);
  });

  it('drops the oldest waiting alert at the queue bound, counted and logged', async () => {
    const r = receiver([500]);
    const s = sender({ fetch: r.fetch, maxQueue: 2, baseDelayMs: 1_000 });
    for (let i = 1; i <= 4; i++) s.enqueue(payloadOf(alert(i), 1));
    // 1 is being delivered; 2 and 3 waited; 4 pushed 2 out.
    expect(s.stats.dropped).toBe(1);
    expect(s.backlog).toBe(3);
    expect(logs.some(([level, msg]) => level === 'warn' && msg.includes('queue full'))).toBe(true);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(r.bodies.map((b) => b.id)).toEqual(['1-1', '1-3', '1-4']);
  });

  it('honours Retry-After and reads the URL at each attempt', async () => {
    let url: string | undefined = 'http://a.test/';
    const seen: string[] = [];
    const fake = async (u: string | URL | Request): Promise<Response> => {
      seen.push(String(u));
      return seen.length === 1 ? new Response('', { status: 429, headers: { 'retry-after': '2' } }) : new Response('');
    };
    const s = sender({ fetch: fake as typeof fetch, url: () => url, baseDelayMs: 10 });
    s.enqueue(payloadOf(alert(1), 1));
    await vi.advanceTimersByTimeAsync(0);
    url = 'http://b.test/';
    await vi.advanceTimersByTimeAsync(1_999);
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual(['http://a.test/', 'http://b.test/']);
    url = undefined;
    s.enqueue(payloadOf(alert(2), 1));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toHaveLength(2);
    expect(s.backlog).toBe(0);
  });
});

describe('payload', () => {
  it('is Slack-compatible, escapes mrkdwn control characters, and keeps the raw message beside it', () => {
    const p = payloadOf(alert(7, { kind: 'loop', message: 'loop detected: tool <!channel> & co' }), 3);
    expect(p.text).toBe(':rotating_light: spendguard critical (loop) loop detected: tool &lt;!channel&gt; &amp; co');
    expect(p).toMatchObject({ id: '3-7', level: 'critical', kind: 'loop', scope: 'task:t1', message: 'loop detected: tool <!channel> & co', at: '2026-01-01T00:00:00.000Z' });
  });

  it('sends crossings, kills, breakers, overshoots, config errors and detectors; not info, prompts or pricing', () => {
    expect(shouldSend(alert(1, { kind: 'threshold', level: 'warning' }))).toBe(true);
    expect(shouldSend(alert(1, { kind: 'config', level: 'critical' }))).toBe(true);
    expect(shouldSend(alert(1, { kind: 'config', level: 'info' }))).toBe(false);
    expect(shouldSend(alert(1, { kind: 'prompt', level: 'warning' }))).toBe(false);
    expect(shouldSend(alert(1, { kind: 'resume', level: 'info' }))).toBe(false);
    expect(shouldSend(alert(1, { kind: 'pricing', level: 'warning' }))).toBe(false);
  });
});
