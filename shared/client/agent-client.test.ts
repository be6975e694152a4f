import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KillFrame } from '../protocol/agent.js';
import { SpendguardClient, type SpendguardClientOptions } from './agent-client.js';
import {
  SpendguardClosedError,
  SpendguardKilledError,
  SpendguardOutboxFullError,
  SpendguardTimeoutError,
  SpendguardUnavailableError,
} from './errors.js';
import { EventLog, waitUntil } from './test-support/event-log.js';
import { FakeDaemon } from './test-support/fake-daemon.js';

let daemon: FakeDaemon;
const clients: SpendguardClient[] = [];

beforeEach(async () => {
  daemon = await FakeDaemon.start();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await daemon.close();
});

function makeClient(over: Partial<SpendguardClientOptions> = {}): { client: SpendguardClient; log: EventLog } {
  const log = new EventLog();
  const client = new SpendguardClient({
    url: daemon.url,
    token: daemon.token,
    hello: { agent: 'a-1', session: 's-1', task: 't-1' },
    idPrefix: 'req',
    reconnect: { initialMs: 5, maxMs: 20 },
    requestTimeoutMs: 2_000,
    unavailableWaitMs: 50,
    closeDrainMs: 200,
    onEvent: log.push,
    ...over,
  });
  clients.push(client);
  return { client, log };
}

/** Takes the daemon away: open sockets drop and new upgrades are refused. */
async function takeDown(log: EventLog): Promise<void> {
  daemon.down = true;
  daemon.dropAll();
  await log.waitFor('disconnected');
}

describe('connect', () => {
  it('authenticates with the bearer header, sends hello and resolves with welcome', async () => {
    const { client } = makeClient({ hello: { agent: 'a-1', session: 's-1', task: 't-1', labels: { team: 'x' } } });
    const welcome = await client.connect();
    expect(welcome.type).toBe('welcome');
    expect(welcome.scopes).toContain('agent:a-1');
    expect(client.state).toBe('open');
    expect(daemon.framesOf('hello')).toEqual([
      { type: 'hello', v: 1, agent: 'a-1', session: 's-1', task: 't-1', user: 'default', labels: { team: 'x' } },
    ]);
  });

  it('rejects on a wrong token and does not keep retrying', async () => {
    const { client } = makeClient({ token: 'wrong' });
    const err = await client.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpendguardUnavailableError);
    expect((err as SpendguardUnavailableError).status).toBe(401);
    expect(client.state).toBe('idle');
  });

  it('rejects invalid hello names before dialling', () => {
    expect(() => makeClient({ hello: { agent: 'has space', session: 's', task: 't' } })).toThrow(TypeError);
  });
});

describe('requests', () => {
  it('reserve resolves with the grant and generated ids', async () => {
    daemon.onReserve = () => ({ kind: 'grant', max_output_tokens: 256 });
    const { client } = makeClient();
    await client.connect();
    const outcome = await client.reserve({ model: 'gpt-4o', input_tokens: 100, max_output_tokens: 1000 });
    expect(outcome.kind).toBe('grant');
    if (outcome.kind !== 'grant') return;
    expect(outcome.grant).toMatchObject({ id: 'req-1', max_output_tokens: 256, local: false });
    expect(daemon.framesOf('reserve')[0]).toMatchObject({ id: 'req-1', model: 'gpt-4o', input_tokens: 100 });
  });

  it('a pending reply extends the wait past the request timeout until the final grant', async () => {
    daemon.onReserve = () => ({ kind: 'pending' });
    const { client, log } = makeClient({ requestTimeoutMs: 40 });
    await client.connect();
    const outcome = client.reserve({ id: 'big', model: 'gpt-4o', input_tokens: 10, max_output_tokens: 10 });
    expect(await log.waitFor('pending')).toMatchObject({ id: 'big', prompt: 'p-big' });
    await sleep(80);
    daemon.answer('big', { kind: 'grant' });
    expect((await outcome).kind).toBe('grant');
  });

  it('reserve resolves with the deny', async () => {
    daemon.onReserve = () => ({ kind: 'deny', code: 'BUDGET_EXCEEDED', retry_after_ms: 1000 });
    const { client } = makeClient();
    await client.connect();
    const outcome = await client.reserve({ model: 'gpt-4o', input_tokens: 10, max_output_tokens: 10 });
    expect(outcome).toMatchObject({ kind: 'deny', deny: { code: 'BUDGET_EXCEEDED', scope: 'task:t-1', retry_after_ms: 1000 } });
  });

  it('commit is acknowledged and keyed by the reservation id by default', async () => {
    const { client } = makeClient();
    await client.connect();
    const ack = await client.commit({ reservation: 'r-9', model: 'gpt-4o', input_tokens: 10, output_tokens: 5 });
    expect(ack).toMatchObject({ type: 'ack', duplicate: false });
    expect(daemon.framesOf('commit')[0]).toMatchObject({ reservation: 'r-9', key: 'r-9' });
    expect(client.unacked).toBe(0);
  });

  it('spend, release, delegate and ping get their replies', async () => {
    const { client } = makeClient();
    await client.connect();
    expect(await client.spend({ key: 'k-1', model: 'gpt-4o', input_tokens: 1, output_tokens: 1 })).toMatchObject({ duplicate: false });
    expect(await client.spend({ key: 'k-1', model: 'gpt-4o', input_tokens: 1, output_tokens: 1 })).toMatchObject({ duplicate: true });
    expect((await client.release({ reservation: 'r-1' })).type).toBe('ack');
    expect(await client.delegate({ child: 'c-1', limits: { cost_usd: 0.5 } })).toMatchObject({ kind: 'delegated' });
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
  });

  it('releases a grant that arrives after its reserve timed out', async () => {
    daemon.onReserve = () => ({ kind: 'silent' });
    const { client, log } = makeClient({ requestTimeoutMs: 30 });
    await client.connect();
    await expect(client.reserve({ id: 'slow', model: 'm', input_tokens: 1, max_output_tokens: 1 })).rejects.toBeInstanceOf(
      SpendguardTimeoutError,
    );
    daemon.answer('slow', { kind: 'grant' });
    const released = await log.waitFor('late_grant_released');
    await waitUntil(() => daemon.framesOf('release').some((f) => f.reservation === released.reservation));
  });

  it('refuses new calls once the outbox is at its bound', async () => {
    daemon.onReserve = () => ({ kind: 'silent' });
    const { client } = makeClient({ outboxLimit: 2 });
    await client.connect();
    const parked = [1, 2].map(() => client.reserve({ model: 'm', input_tokens: 1, max_output_tokens: 1 }).catch((e: unknown) => e));
    await expect(client.reserve({ model: 'm', input_tokens: 1, max_output_tokens: 1 })).rejects.toBeInstanceOf(SpendguardOutboxFullError);
    await client.close();
    for (const p of parked) expect(await p).toBeInstanceOf(SpendguardClosedError);
  });
});

describe('reconnect', () => {
  it('resends an unacknowledged commit with the same key after a drop; the daemon counts it once', async () => {
    let dropped = false;
    daemon.dropWhen = (f) => f.type === 'commit' && !dropped && (dropped = true);
    const { client, log } = makeClient();
    await client.connect();
    const ack = await client.commit({ reservation: 'r-5', model: 'gpt-4o', input_tokens: 10, output_tokens: 5 });
    expect(ack.duplicate).toBe(true);
    const commits = daemon.framesOf('commit');
    expect(commits).toHaveLength(2);
    expect(commits[0]).toEqual(commits[1]);
    expect(commits[0]?.key).toBe('r-5');
    expect(daemon.framesOf('hello')).toHaveLength(2);
    expect(log.all('connected')).toEqual([
      { type: 'connected', reconnect: false, resent: 0 },
      { type: 'connected', reconnect: true, resent: 1 },
    ]);
  });

  it('fails an in-flight reserve when the connection drops (fail closed)', async () => {
    daemon.dropWhen = (f) => f.type === 'reserve';
    const { client } = makeClient();
    await client.connect();
    await expect(client.reserve({ model: 'm', input_tokens: 1, max_output_tokens: 1 })).rejects.toBeInstanceOf(SpendguardUnavailableError);
  });

  it('does not reconnect after close(), which says bye', async () => {
    const { client, log } = makeClient();
    await client.connect();
    await client.close();
    expect(client.state).toBe('closed');
    await sleep(40);
    expect(daemon.framesOf('bye')).toHaveLength(1);
    expect(daemon.framesOf('hello')).toHaveLength(1);
    expect(log.all('reconnect_scheduled')).toHaveLength(0);
    await expect(client.reserve({ model: 'm', input_tokens: 1 })).rejects.toBeInstanceOf(SpendguardClosedError);
  });
});

describe('fail modes while the daemon is down', () => {
  it('closed: refuses reserves after the short wait, queues usage and sends it after reconnect', async () => {
    const { client, log } = makeClient();
    await client.connect();
    await takeDown(log);
    await expect(client.reserve({ model: 'gpt-4o', input_tokens: 10, max_output_tokens: 10 })).rejects.toBeInstanceOf(
      SpendguardUnavailableError,
    );
    const commit = client.commit({ reservation: 'r-7', model: 'gpt-4o', input_tokens: 10, output_tokens: 3 });
    await sleep(30);
    expect(daemon.framesOf('commit')).toHaveLength(0);
    expect(client.unacked).toBe(1);
    daemon.down = false;
    expect(await commit).toMatchObject({ duplicate: false });
    expect(daemon.framesOf('commit')[0]).toMatchObject({ key: 'r-7' });
  });

  it('closed: a reserve made during a short outage goes through once the reconnect lands in time', async () => {
    const { client, log } = makeClient({ unavailableWaitMs: 2_000 });
    await client.connect();
    await takeDown(log);
    const outcome = client.reserve({ model: 'gpt-4o', input_tokens: 10, max_output_tokens: 10 });
    daemon.down = false;
    expect((await outcome).kind).toBe('grant');
  });

  it('open: grants locally up to the emergency allowance, then refuses; local usage reaches the daemon as a spend', async () => {
    const { client, log } = makeClient({ failMode: 'open', emergencyAllowanceUsd: 0.01 });
    await client.connect();
    await takeDown(log);
    const first = await client.reserve({ tool: 'search', cost_usd: 0.004 });
    const second = await client.reserve({ tool: 'search', cost_usd: 0.004 });
    expect(first).toMatchObject({ kind: 'grant', grant: { local: true, cost_usd: 0.004 } });
    expect(second).toMatchObject({ kind: 'grant', grant: { local: true } });
    await expect(client.reserve({ tool: 'search', cost_usd: 0.004 })).rejects.toBeInstanceOf(SpendguardUnavailableError);
    expect(client.emergencyAllowance).toEqual({ limit_usd: 0.01, used_usd: 0.008 });
    if (first.kind !== 'grant' || second.kind !== 'grant') return;

    await client.release({ reservation: second.grant.reservation });
    expect(client.emergencyAllowance.used_usd).toBe(0.004);
    const ack = client.commit({ reservation: first.grant.reservation, input_tokens: 0, output_tokens: 0, cost_usd: 0.003 });
    daemon.down = false;
    await ack;
    const spends = daemon.framesOf('spend');
    expect(spends).toEqual([
      expect.objectContaining({ key: first.grant.reservation, cost_usd: 0.003 }),
    ]);
    expect(daemon.framesOf('commit')).toHaveLength(0);
    expect(client.emergencyAllowance.used_usd).toBe(0);
  });

  it('open: clamps a token-priced local grant to what the allowance can pay for', async () => {
    const { client, log } = makeClient({ failMode: 'open', emergencyAllowanceUsd: 0.001 });
    await client.connect();
    await takeDown(log);
    // Unknown model → default price $1 in / $4 out per Mtok: 1000 input = $0.001 would leave nothing.
    const outcome = await client.reserve({ model: 'no-such-model', input_tokens: 200, max_output_tokens: 1_000_000 });
    expect(outcome).toMatchObject({ kind: 'grant', grant: { local: true, max_output_tokens: 200 } });
  });

  it('open: an in-flight reserve at drop time falls back to a local grant', async () => {
    daemon.dropWhen = (f) => {
      if (f.type !== 'reserve') return false;
      daemon.down = true;
      return true;
    };
    const { client } = makeClient({ failMode: 'open' });
    await client.connect();
    const outcome = await client.reserve({ tool: 'x', cost_usd: 0.01 });
    expect(outcome).toMatchObject({ kind: 'grant', grant: { local: true } });
  });
});

describe('kill', () => {
  it('calls onKill and aborts killSignal; a later daemon grant re-arms it', async () => {
    const kills: KillFrame[] = [];
    const { client } = makeClient({ onKill: (f) => kills.push(f) });
    await client.connect();
    const signal = client.killSignal;
    expect(signal.aborted).toBe(false);
    const aborted = new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
    daemon.kill('task:t-1', 'runaway');
    expect(await aborted).toBeInstanceOf(SpendguardKilledError);
    expect(kills).toEqual([{ type: 'kill', scope: 'task:t-1', reason: 'runaway' }]);
    expect(client.killed?.scope).toBe('task:t-1');

    await client.reserve({ model: 'm', input_tokens: 1, max_output_tokens: 1 });
    expect(client.killed).toBeUndefined();
    expect(client.killSignal.aborted).toBe(false);
  });
});
