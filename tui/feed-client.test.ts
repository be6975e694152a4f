import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { COMMAND_TIMEOUT_MS, DOWN_AFTER_MS, FeedClient, FLUSH_MS, SILENCE_MS } from './feed-client.js';
import type { Action } from './reducer.js';
import type { Connect, SocketEvents } from './socket.js';
import { RECORDED } from './test-support/fixtures.js';

/** A socket the test drives: it records what was sent and opens, talks and closes on command. */
class FakeServer {
  readonly sockets: Array<{ events: SocketEvents; sent: string[]; closed: boolean }> = [];
  readonly connect: Connect = (events) => {
    const socket = { events, sent: [] as string[], closed: false };
    this.sockets.push(socket);
    return {
      send: (text) => socket.sent.push(text),
      close: () => {
        socket.closed = true;
      },
    };
  };
  get last() {
    const socket = this.sockets.at(-1);
    if (!socket) throw new Error('no socket');
    return socket;
  }
  frame(index: number, overrides: Record<string, unknown> = {}): void {
    this.last.events.onMessage(JSON.stringify({ ...RECORDED[index], ...overrides }));
  }
}

const full = RECORDED[0];

let server: FakeServer;
let actions: Action[];
let client: FeedClient;

function of<T extends Action['type']>(type: T): Array<Extract<Action, { type: T }>> {
  return actions.filter((a): a is Extract<Action, { type: T }> => a.type === type);
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  server = new FakeServer();
  actions = [];
  client = new FeedClient({ connect: server.connect, random: () => 0.5 });
  client.start((a) => actions.push(a));
});

afterEach(() => {
  client.stop();
  vi.useRealTimers();
});

describe('FeedClient', () => {
  it('subscribes once open and goes live with the first frame', () => {
    expect(of('connection').at(-1)?.connection).toEqual({ kind: 'connecting', attempt: 1 });
    server.last.events.onOpen();
    expect(server.last.sent.map((s) => JSON.parse(s))).toEqual([{ type: 'subscribe', id: 'tui-subscribe' }]);
    server.frame(0);
    expect(of('connection').at(-1)?.connection).toEqual({ kind: 'live', since_ms: 1_000_000 });
    expect(of('feed')).toHaveLength(1);
    expect(of('feed')[0]?.frame.full).toBe(true);
  });

  it('dispatches at most one merged frame per 100 ms however fast frames arrive (≤ 10 redraws/s)', () => {
    server.last.events.onOpen();
    server.frame(0);
    for (let i = 0; i < 200; i++) {
      server.frame(1 + (i % (RECORDED.length - 1)));
      vi.advanceTimersByTime(5);
    }
    vi.advanceTimersByTime(FLUSH_MS);
    const feeds = of('feed');
    // 1 s of frames at 200/s: the first flush, then one per 100 ms.
    expect(feeds.length).toBeLessThanOrEqual(12);
    const times = feeds.map((f) => f.now_ms);
    for (let i = 1; i < times.length; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(FLUSH_MS);
    // Nothing lost in the merge: every scope any delta carried is in some flushed frame.
    const seen = new Set(feeds.flatMap((f) => Object.keys(f.frame.scopes)));
    expect(seen.size).toBe(12);
    expect(feeds.flatMap((f) => f.frame.alerts).map((a) => a.seq)).toEqual(expect.arrayContaining([1, 2, 3]));
  });

  it('reconnects with backoff after a drop, shows attempt and countdown, and resubscribes', () => {
    server.last.events.onOpen();
    server.frame(0);
    server.last.events.onClose('connection closed (code 1006)');
    const reconnecting = of('connection').at(-1)?.connection;
    expect(reconnecting).toMatchObject({ kind: 'reconnecting', attempt: 1, reason: 'connection closed (code 1006)' });
    expect(reconnecting && 'next_at_ms' in reconnecting ? reconnecting.next_at_ms : null).toBe(1_000_000 + 375);
    vi.advanceTimersByTime(375);
    expect(server.sockets).toHaveLength(2);
    expect(of('connection').at(-1)?.connection).toMatchObject({ kind: 'reconnecting', attempt: 1, next_at_ms: null });
    server.last.events.onClose('connect ECONNREFUSED 127.0.0.1:7878');
    expect(of('connection').at(-1)?.connection).toMatchObject({ kind: 'reconnecting', attempt: 2, reason: 'connect ECONNREFUSED 127.0.0.1:7878' });
    vi.advanceTimersByTime(750);
    server.last.events.onOpen();
    expect(server.last.sent).toEqual([JSON.stringify({ type: 'subscribe', id: 'tui-subscribe' })]);
    server.frame(0);
    expect(of('connection').at(-1)?.connection.kind).toBe('live');
  });

  it('says daemon down when it never answered, or after a long outage, and keeps trying', () => {
    server.last.events.onClose('connect ECONNREFUSED 127.0.0.1:7878');
    expect(of('connection').at(-1)?.connection).toMatchObject({ kind: 'down', attempt: 2, reason: 'connect ECONNREFUSED 127.0.0.1:7878' });
    vi.advanceTimersByTime(10_000);
    server.last.events.onOpen();
    server.frame(0);
    server.last.events.onClose('connection closed (code 1006)');
    const kinds: string[] = [];
    while (Date.now() < 1_000_000 + 10_000 + DOWN_AFTER_MS + 10_000) {
      vi.advanceTimersToNextTimer();
      server.last.events.onClose('connect ECONNREFUSED 127.0.0.1:7878');
      kinds.push(of('connection').at(-1)?.connection.kind ?? '');
    }
    expect(kinds[0]).toBe('reconnecting');
    expect(kinds.at(-1)).toBe('down');
    expect(server.sockets.length).toBeGreaterThan(5);
  });

  it('treats a silent daemon as gone: no frame for 5 s drops the socket and reconnects', () => {
    server.last.events.onOpen();
    server.frame(0);
    vi.advanceTimersByTime(SILENCE_MS);
    expect(server.sockets[0]?.closed).toBe(true);
    expect(of('connection').at(-1)?.connection).toMatchObject({ kind: 'reconnecting', reason: 'no feed from the daemon for 5s' });
  });

  it('carries who is acting on every command, so two operators can be told apart in the ledger and alerts', () => {
    client.stop();
    client = new FeedClient({ connect: server.connect, random: () => 0.5, actor: 'top:alice@box' });
    client.start((a) => actions.push(a));
    server.last.events.onOpen();
    server.frame(0);
    client.send([{ type: 'kill', id: 'tui-9', scope: 'task:t-8' }]);
    expect(JSON.parse(server.last.sent.at(-1) ?? '{}')).toMatchObject({ type: 'kill', id: 'tui-9', actor: 'top:alice@box' });
  });

  it('sends commands only while live, and matches each answer, timeout or lost connection to its id', () => {
    client.send([{ type: 'kill', id: 'tui-1', all: true }]);
    expect(of('result').at(-1)).toMatchObject({ id: 'tui-1', ok: false, message: 'not connected to the daemon; nothing was sent' });
    server.last.events.onOpen();
    server.frame(0);
    client.send([{ type: 'grant', id: 'tui-2', target: 'p1-23' }, { type: 'deny', id: 'tui-3', prompt: 'p1-23' }, { type: 'resume', id: 'tui-4', scope: 'task:t-8' }]);
    expect(server.last.sent.slice(1).map((s) => JSON.parse(s).id)).toEqual(['tui-2', 'tui-3', 'tui-4']);
    server.last.events.onMessage(JSON.stringify({ type: 'result', id: 'tui-2', ok: true, message: 'granted' }));
    server.last.events.onMessage(JSON.stringify({ type: 'error', id: 'tui-3', code: 'INVALID', message: 'prompt: no pending prompt p1-23' }));
    expect(of('result').slice(-2)).toMatchObject([
      { id: 'tui-2', ok: true, message: 'granted' },
      { id: 'tui-3', ok: false, message: 'INVALID: prompt: no pending prompt p1-23' },
    ]);
    for (let i = 0; i < COMMAND_TIMEOUT_MS / 1_000; i++) {
      server.frame(1);
      vi.advanceTimersByTime(1_000);
    }
    expect(of('result').at(-1)).toMatchObject({ id: 'tui-4', ok: false, message: 'no answer within 10s; check the screen before trying again' });
    client.send([{ type: 'resume', id: 'tui-5', scope: 'task:t-8' }]);
    server.last.events.onClose('gone');
    expect(of('result').at(-1)).toMatchObject({ id: 'tui-5', ok: false });
  });

  it('ignores frames it cannot read, says so once, and keeps the connection', () => {
    server.last.events.onOpen();
    server.frame(0);
    server.last.events.onMessage('not json');
    server.last.events.onMessage(JSON.stringify({ type: 'feed', full: false }));
    expect(of('notice')).toHaveLength(1);
    expect(of('notice')[0]?.message).toBe('ignored a frame that is not JSON');
    expect(server.sockets[0]?.closed).toBe(false);
    expect(full?.full).toBe(true);
  });

  it('stops cleanly: no timers left, no reconnect', () => {
    server.last.events.onOpen();
    server.frame(0);
    client.stop();
    expect(server.last.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
