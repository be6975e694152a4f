import { afterEach, describe, expect, it } from 'vitest';
import { FakeDaemon } from '../client/test-support/fake-daemon.js';
import type { UsageRecord } from './dedupe.js';
import { SessionPool } from './sessions.js';

const record = (key: string, sessionId: string): UsageRecord => ({
  key,
  sessionId,
  stream: `${sessionId}:main`,
  model: 'claude-haiku-4-5',
  usage: { input_tokens: 10, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4, cache_write_1h_tokens: 0 },
  final: true,
  timestamp_ms: undefined,
});

describe('SessionPool', () => {
  let daemon: FakeDaemon | undefined;
  let pool: SessionPool | undefined;
  afterEach(async () => {
    await pool?.close();
    await daemon?.close();
  });

  it('opens one connection per session and sends each key once', async () => {
    daemon = await FakeDaemon.start('tok');
    pool = new SessionPool({ url: daemon.url, token: 'tok', user: 'alice', retry_connect: false, log: () => undefined });
    const outcomes = await Promise.all([pool.send(record('k1', 's-a')), pool.send(record('k1', 's-a')), pool.send(record('k2', 's-b'))]);
    expect(outcomes.map((o) => o.kind)).toEqual(['recorded', 'duplicate', 'recorded']);
    expect((await pool.send(record('k1', 's-a'))).kind).toBe('duplicate');
    expect(daemon.framesOf('hello').map((h) => [h.agent, h.session, h.task, h.user])).toEqual([
      ['claude-code.s-a', 's-a', 's-a', 'alice'],
      ['claude-code.s-b', 's-b', 's-b', 'alice'],
    ]);
    expect(daemon.framesOf('spend')).toEqual([
      expect.objectContaining({ key: 'k1', model: 'claude-haiku-4-5', input_tokens: 10, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4 }),
      expect.objectContaining({ key: 'k2' }),
    ]);
  });

  it('one-shot: a daemon that cannot be reached fails the record for a re-read and says why', async () => {
    pool = new SessionPool({ url: 'ws://127.0.0.1:1', token: 'tok', user: 'alice', retry_connect: false, log: () => undefined });
    expect(await pool.send(record('k1', 's-a'))).toMatchObject({ kind: 'retry' });
    expect(pool.unreachable).toContain('ECONNREFUSED');
  });

  it('live: keeps trying a daemon that is down, and delivers what waited once it is up', async () => {
    daemon = await FakeDaemon.start('tok');
    daemon.down = true;
    const logs: string[] = [];
    pool = new SessionPool({ url: daemon.url, token: 'tok', user: 'alice', retry_connect: true, log: (l) => logs.push(l) });
    const sent = pool.send(record('k1', 's-a'));
    await expect.poll(() => logs.length).toBeGreaterThan(0);
    expect(logs[0]).toContain('retrying in 1 s');
    daemon.down = false;
    expect(await sent).toMatchObject({ kind: 'recorded' });
    expect(pool.unreachable).toBeUndefined();
  });
});
