import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpendguardClient } from './agent-client.js';
import { SpendguardAccountingError, SpendguardDeniedError, SpendguardKilledError } from './errors.js';
import { guard, responseKey, type GuardCallParams, type GuardOptions } from './guard.js';
import { EventLog, waitUntil } from './test-support/event-log.js';
import { FakeDaemon } from './test-support/fake-daemon.js';

let daemon: FakeDaemon;
let client: SpendguardClient;
let log: EventLog;
let sleeps: number[];

beforeEach(async () => {
  daemon = await FakeDaemon.start();
  log = new EventLog();
  client = new SpendguardClient({
    url: daemon.url,
    token: daemon.token,
    hello: { agent: 'a-1', session: 's-1', task: 't-1' },
    reconnect: { initialMs: 5, maxMs: 20 },
    requestTimeoutMs: 2_000,
    closeDrainMs: 200,
    onEvent: log.push,
  });
  await client.connect();
  sleeps = [];
});

afterEach(async () => {
  await client.close();
  await daemon.close();
});

function opts(over: Partial<GuardOptions> = {}): GuardOptions {
  return {
    model: 'gpt-4o',
    inputTokens: 100,
    maxOutputTokens: 1000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...over,
  };
}

const usage = { input_tokens: 100, output_tokens: 50 };

function httpError(status: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status, ...extra });
}

describe('guard', () => {
  it('calls with the granted clamp after the backpressure delay and commits the actual usage', async () => {
    daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 300, delay_ms: 750 });
    const seen: GuardCallParams[] = [];
    const result = await guard(client, opts(), async (p) => {
      seen.push(p);
      return { result: 'ok', usage: { ...usage, cache_read_tokens: 20 }, sentMaxTokens: p.maxTokens };
    });
    expect(result).toBe('ok');
    expect(sleeps).toEqual([750]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ maxTokens: 300, model: 'gpt-4o', reservation: 'r-1', attempt: 0 });
    expect(daemon.framesOf('reserve')[0]).toMatchObject({ model: 'gpt-4o', input_tokens: 100, max_output_tokens: 1000 });
    expect(daemon.framesOf('commit')).toEqual([
      expect.objectContaining({ reservation: 'r-1', key: 'r-1', model: 'gpt-4o', input_tokens: 100, output_tokens: 50, cache_read_tokens: 20 }),
    ]);
  });

  it('keys the commit by the provider response id when given', async () => {
    await guard(client, opts(), async () => ({ result: 1, usage, responseId: 'chatcmpl-abc' }));
    expect(daemon.framesOf('commit')[0]?.key).toBe('resp-chatcmpl-abc');
    expect(responseKey('x'.repeat(200))).toMatch(/^resp-sha256-[0-9a-f]{64}$/);
  });

  it('throws SpendguardDeniedError on deny without calling the provider', async () => {
    daemon.onReserve = () => ({ kind: 'deny', code: 'BUDGET_EXCEEDED', scope: 'session:s-1', retry_after_ms: 5000 });
    let calls = 0;
    const err = await guard(client, opts(), async () => {
      calls++;
      return { result: 1, usage };
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpendguardDeniedError);
    expect(err).toMatchObject({ code: 'BUDGET_EXCEEDED', scope: 'session:s-1', retry_after_ms: 5000 });
    expect(calls).toBe(0);
  });

  it('retries a 503 once under a new reservation', async () => {
    let calls = 0;
    const reservations: string[] = [];
    const result = await guard(client, opts(), async (p) => {
      reservations.push(p.reservation);
      if (calls++ === 0) throw httpError(503);
      return { result: 'second', usage };
    });
    expect(result).toBe('second');
    expect(reservations).toEqual(['r-1', 'r-2']);
    expect(daemon.framesOf('reserve')).toHaveLength(2);
    await waitUntil(() => daemon.framesOf('release').length === 1);
    expect(daemon.framesOf('release')[0]?.reservation).toBe('r-1');
    expect(daemon.framesOf('commit').map((c) => c.reservation)).toEqual(['r-2']);
    expect(log.all('retry')).toEqual([{ type: 'retry', attempt: 1, delay_ms: 375, reason: 'status 503' }]);
  });

  it('never retries a 400, and releases its reservation', async () => {
    let calls = 0;
    const bad = httpError(400);
    await expect(
      guard(client, opts(), async () => {
        calls++;
        throw bad;
      }),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
    expect(daemon.framesOf('reserve')).toHaveLength(1);
    await waitUntil(() => daemon.framesOf('release').length === 1);
    expect(daemon.framesOf('commit')).toHaveLength(0);
  });

  it('releases the reservation when the call fails with a plain error', async () => {
    const boom = new Error('tool crashed');
    await expect(guard(client, opts(), async () => Promise.reject(boom))).rejects.toBe(boom);
    await waitUntil(() => daemon.framesOf('release').length === 1);
    expect(daemon.framesOf('release')[0]?.reservation).toBe('r-1');
  });

  it('gives up after 3 retries of a transient failure', async () => {
    let calls = 0;
    const err = await guard(client, opts(), async () => {
      calls++;
      throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ECONNRESET' });
    expect(calls).toBe(4);
    expect(daemon.framesOf('reserve')).toHaveLength(4);
    expect(sleeps).toEqual([375, 750, 1500]);
  });

  it('honours retryAfterMs on a 429', async () => {
    let calls = 0;
    await guard(client, opts(), async () => {
      if (calls++ === 0) throw httpError(429, { retryAfterMs: 4_000 });
      return { result: 1, usage };
    });
    expect(sleeps).toEqual([4_000]);
  });

  it('applies suggested_model only when asked', async () => {
    daemon.onReserve = () => ({ kind: 'grant', suggested_model: 'gpt-4o-mini' });
    const models: string[] = [];
    const call = async (p: GuardCallParams): Promise<{ result: number; usage: typeof usage }> => {
      models.push(p.model);
      return { result: 1, usage };
    };
    await guard(client, opts(), call);
    await guard(client, opts({ applySuggestedModel: true }), call);
    expect(models).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(daemon.framesOf('commit').map((c) => c.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('reports a clamp that did not reach the provider as an error, after committing', async () => {
    daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 100 });
    const err = await guard(client, opts(), async () => ({ result: 'text', usage, sentMaxTokens: 1000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpendguardAccountingError);
    expect(err).toMatchObject({ code: 'CAP_BYPASSED', result: 'text' });
    expect(daemon.framesOf('commit')).toHaveLength(1);
    expect(log.all('cap_bypassed')).toHaveLength(1);
  });

  it('reports output above the grant as an overshoot', async () => {
    daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 10 });
    await guard(client, opts(), async () => ({ result: 1, usage: { input_tokens: 100, output_tokens: 11 } }));
    expect(log.all('overshoot')).toEqual([expect.objectContaining({ output_tokens: 11, granted_output_tokens: 10 })]);
  });

  it('aborts the call signal on kill, releases, and throws the kill', async () => {
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const guarded = guard(
      client,
      opts(),
      (p) =>
        new Promise<never>((_, reject) => {
          started();
          p.signal.addEventListener('abort', () => reject(new Error('provider aborted')));
        }),
    ).catch((e: unknown) => e);
    await running;
    daemon.kill('task:t-1', 'operator');
    const err = await guarded;
    expect(err).toBeInstanceOf(SpendguardKilledError);
    expect(err).toMatchObject({ scope: 'task:t-1', reason: 'operator' });
    await waitUntil(() => daemon.framesOf('release').length === 1);
    expect(daemon.framesOf('reserve')).toHaveLength(1);
  });
});
