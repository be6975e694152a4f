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

/** A receiver that refuses connections until `up` is set, recording each attempt's time and what it took. */
function outage(): { fetch: typeof fetch; ids: string[]; times: number[]; up: boolean } {
  const r = {
    ids: [] as string[],
    times: [] as number[],
    up: false,
    fetch: (async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      r.times.push(Date.now());
      if (!r.up) throw new TypeError('fetch failed');
      r.ids.push((JSON.parse(String(init?.body)) as WebhookPayload).id);
      return new Response('ok');
    }) as typeof fetch,
  };
  return r;
}

const logs: Array<[LogLevel, string, Record<string, unknown> | undefined]> = [];
function sender(opts: Partial<WebhookOptions> & Pick<WebhookOptions, 'fetch'>): WebhookSender {
  return new WebhookSender({ url: () => 'http://hooks.test/x', log: (level, msg, fields) => logs.push([level, msg, fields]), random: () => 0.5, ...opts });
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

  it('does not retry a 4xx other than 408 / 429', async () => {
    const r = receiver([404, 400, 500, 408]);
    const s = sender({ fetch: r.fetch, baseDelayMs: 10 });
    s.enqueue(payloadOf(alert(1), 1));
    s.enqueue(payloadOf(alert(2), 1));
    s.enqueue(payloadOf(alert(3), 1));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(r.bodies.map((b) => b.id)).toEqual(['1-3']);
    expect(r.calls()).toBe(5);
    expect(s.stats).toEqual({ delivered: 1, retried: 2, failed: 2, dropped: 0 });
    expect(logs.filter(([level]) => level === 'error')).toHaveLength(2);
  });

  it('keeps retrying through a 10-minute outage with capped backoff, then delivers every alert exactly once, in order', async () => {
    const r = outage();
    const s = sender({ fetch: r.fetch, random: Math.random });
    for (let i = 1; i <= 3; i++) s.enqueue(payloadOf(alert(i), 1));
    // More alerts arrive while the receiver is down.
    for (let minute = 1; minute <= 10; minute++) {
      await vi.advanceTimersByTimeAsync(60_000);
      s.enqueue(payloadOf(alert(3 + minute), 1));
    }
    expect(r.ids).toEqual([]);
    expect(r.times.length).toBeGreaterThan(20);
    expect(s.backlog).toBe(13);
    const gaps = r.times.slice(1).map((t, i) => t - (r.times[i] ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(30_000);
    // Once at the cap, equal jitter never waits less than half of it.
    expect(Math.min(...gaps.slice(10))).toBeGreaterThanOrEqual(15_000);

    r.up = true;
    await vi.advanceTimersByTimeAsync(30_000);
    const all = Array.from({ length: 13 }, (_, i) => `1-${i + 1}`);
    expect(r.ids).toEqual(all);
    expect(s.backlog).toBe(0);
    expect(s.stats).toEqual({ delivered: 13, retried: r.times.length - 13, failed: 0, dropped: 0 });
    // Acknowledged alerts are never sent again.
    const attempts = r.times.length;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(r.times).toHaveLength(attempts);
    expect(r.ids).toEqual(all);
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

describe('WebhookSender.stop', () => {
  it('cuts the backoff short and flushes what is left, in order', async () => {
    const r = outage();
    const s = sender({ fetch: r.fetch });
    for (let i = 1; i <= 3; i++) s.enqueue(payloadOf(alert(i), 1));
    await vi.advanceTimersByTimeAsync(60_000);
    const before = r.times.length;
    r.up = true;
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(true);
    await stopping;
    expect(r.ids).toEqual(['1-1', '1-2', '1-3']);
    expect(r.times).toHaveLength(before + 3);
    expect(logs.some(([, msg]) => msg.includes('not delivered'))).toBe(false);
    s.enqueue(payloadOf(alert(4), 1));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.ids).toHaveLength(3);
  });

  it('makes one last attempt at a dead receiver and logs how many alerts were left', async () => {
    const r = outage();
    const s = sender({ fetch: r.fetch });
    for (let i = 1; i <= 3; i++) s.enqueue(payloadOf(alert(i), 1));
    await vi.advanceTimersByTimeAsync(60_000);
    const before = r.times.length;
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(true);
    await stopping;
    expect(r.times).toHaveLength(before + 1);
    expect(logs).toContainEqual(['warn', 'daemon stopping: webhook alerts not delivered', { undelivered: 3, grace_ms: 2_000 }]);
    expect(s.backlog).toBe(0);
  });

  it('waits at most the grace period for a receiver that never answers', async () => {
    const hanging = ((_url: string | URL | Request, init?: RequestInit): Promise<Response> =>
      new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))))) as typeof fetch;
    const s = sender({ fetch: hanging, timeoutMs: 60_000 });
    for (let i = 1; i <= 3; i++) s.enqueue(payloadOf(alert(i), 1));
    await vi.advanceTimersByTimeAsync(100);
    let stopped = false;
    void s.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(stopped).toBe(true);
    expect(logs).toContainEqual(['warn', 'daemon stopping: webhook alerts not delivered', { undelivered: 3, grace_ms: 2_000 }]);
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
