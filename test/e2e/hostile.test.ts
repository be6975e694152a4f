import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawAgent, startDaemonProcess, tempStateDir, type DaemonProcess } from './daemon-process.js';

/**
 * SPEC §4, §7, §8 against one real daemon process: every hostile frame gets a clear `error` (or
 * a refused connection), the daemon keeps serving, and nothing hostile reaches the ledger.
 */

type Frame = Record<string, unknown>;

let daemon: DaemonProcess;
let stateDir: string;
/** usage rows before any hostile frame was sent */
let usageBefore: number;
const opened: RawAgent[] = [];

function usageCount(): number {
  const db = new Database(join(stateDir, 'ledger.db'), { readonly: true });
  try {
    return Number(db.prepare('SELECT COUNT(*) FROM usage').pluck().get());
  } finally {
    db.close();
  }
}

function httpBase(): string {
  return daemon.url.replace('ws://', 'http://');
}

async function hello(agent: string): Promise<RawAgent> {
  const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent, session: 'hostile-s', task: 'hostile-t' });
  opened.push(a);
  return a;
}

async function openRaw(): Promise<RawAgent> {
  const a = await RawAgent.open(daemon.url, daemon.agentToken);
  opened.push(a);
  return a;
}

/** The first frame this connection receives after `start` frames were already seen. */
function nextFrom(a: RawAgent, start: number, timeoutMs = 10_000): Promise<Frame> {
  return a.next((f) => a.frames.indexOf(f) >= start, timeoutMs);
}

/** Sends raw text (or a frame object) and resolves with the very next frame the daemon sends back. */
async function replyTo(a: RawAgent, frame: unknown, timeoutMs = 10_000): Promise<Frame> {
  const reply = nextFrom(a, a.frames.length, timeoutMs);
  a.send(frame);
  return reply;
}

let pings = 0;
/** The connection still answers: ping → pong with the same id. */
async function expectUsable(a: RawAgent): Promise<void> {
  const id = `alive-${++pings}`;
  const pong = await a.request({ type: 'ping', id });
  expect(pong).toEqual({ type: 'pong', id });
}

/** Sends a bad frame, expects an `error` with `code` and a message matching `message`, then ping → pong. */
async function expectError(a: RawAgent, frame: unknown, code: string, message: RegExp): Promise<Frame> {
  const reply = await replyTo(a, frame);
  expect(reply.type, JSON.stringify(reply)).toBe('error');
  expect(reply.code, JSON.stringify(reply)).toBe(code);
  expect(typeof reply.message).toBe('string');
  expect(reply.message as string).toMatch(message);
  // Errors are short and never echo a huge payload back.
  expect((reply.message as string).length).toBeLessThan(1_000);
  await expectUsable(a);
  return reply;
}

/** A raw HTTP upgrade attempt: the status code and body the daemon answers with. */
function tryUpgrade(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${httpBase()}${path}`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits until the daemon closes this connection (or the timeout passes); true if it closed. */
async function closedWithin(a: RawAgent, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!a.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return a.closed;
}

const deepArray = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObject = (n: number): string => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

beforeAll(async () => {
  stateDir = tempStateDir('sg-hostile-');
  daemon = await startDaemonProcess({ stateDir });
  usageBefore = usageCount();
});

afterAll(async () => {
  for (const a of opened) if (!a.closed) a.ws.terminate();
  await daemon?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('hostile clients against one daemon process', () => {
  it('writes agent.token and operator.token with mode 0600', () => {
    expect(statSync(join(stateDir, 'agent.token')).mode & 0o777).toBe(0o600);
    expect(statSync(join(stateDir, 'operator.token')).mode & 0o777).toBe(0o600);
  });

  it('refuses connections without the right token or on an unknown path', async () => {
    const missing = await tryUpgrade('/v1/agent', {});
    expect(missing.status).toBe(401);
    expect(missing.body).toMatch(/UNAUTHORIZED/);
    expect(missing.body).toMatch(/missing/i);

    const wrong = await tryUpgrade('/v1/agent', { authorization: 'Bearer not-the-token-at-all-0123456789' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatch(/UNAUTHORIZED/);

    const wrongQuery = await tryUpgrade('/v1/agent?token=not-the-token-at-all-0123456789', {});
    expect(wrongQuery.status).toBe(401);

    const agentOnOperator = await tryUpgrade('/v1/operator', { authorization: `Bearer ${daemon.agentToken}` });
    expect(agentOnOperator.status).toBe(401);
    expect(agentOnOperator.body).toMatch(/UNAUTHORIZED/);
    expect(agentOnOperator.body).toMatch(/\/v1\/operator/);

    const unknown = await tryUpgrade('/v1/nope', { authorization: `Bearer ${daemon.agentToken}` });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatch(/\/v1\/nope/);

    // The test's own client helper sees the same refusals.
    await expect(RawAgent.open(daemon.url, 'wrong-token-wrong-token-wrong')).rejects.toThrow(/HTTP 401/);
    await expect(RawAgent.open(daemon.url, daemon.agentToken, '/v1/operator')).rejects.toThrow(/HTTP 401/);
    await expect(RawAgent.open(daemon.url, daemon.agentToken, '/elsewhere')).rejects.toThrow(/HTTP 404/);

    // A plain HTTP request to an unknown path is a 404 too.
    expect((await fetch(`${httpBase()}/nope`)).status).toBe(404);
  });

  it('answers frames sent before hello with INVALID (hello first), and a v:2 hello with UNSUPPORTED_VERSION', async () => {
    const a = await openRaw();
    const early = await replyTo(a, { type: 'ping', id: 'early-1' });
    expect(early).toMatchObject({ type: 'error', id: 'early-1', code: 'INVALID' });
    expect(early.message as string).toMatch(/hello first/i);

    const earlySpend = await replyTo(a, { type: 'spend', id: 'early-2', key: 'hostile-early-spend', cost_usd: 0.5 });
    expect(earlySpend).toMatchObject({ type: 'error', id: 'early-2', code: 'INVALID' });
    expect(earlySpend.message as string).toMatch(/hello first/i);

    const v2 = await replyTo(a, { type: 'hello', v: 2, agent: 'v2-agent', session: 's', task: 't' });
    expect(v2).toMatchObject({ type: 'error', code: 'UNSUPPORTED_VERSION' });
    expect(v2.message as string).toMatch(/version 2/);

    // Deep nesting inside hello's labels: a field error, not a crash.
    const deepLabels = `{"type":"hello","v":1,"agent":"deep","session":"s","task":"t","labels":{"x":${deepObject(5_000)}}}`;
    const dl = await replyTo(a, deepLabels);
    expect(dl).toMatchObject({ type: 'error', code: 'INVALID' });
    expect(dl.message as string).toMatch(/labels/);
    const deepLabelsArr = `{"type":"hello","v":1,"agent":"deep","session":"s","task":"t","labels":${deepArray(5_000)}}`;
    const dla = await replyTo(a, deepLabelsArr);
    expect(dla).toMatchObject({ type: 'error', code: 'INVALID' });
    expect(dla.message as string).toMatch(/labels/);

    // Hello with a missing or non-numeric version: INVALID naming v.
    await expect(replyTo(a, { type: 'hello', agent: 'nov', session: 's', task: 't' })).resolves.toMatchObject({ type: 'error', code: 'INVALID', message: expect.stringMatching(/\bv\b/) });
    await expect(replyTo(a, { type: 'hello', v: '1', agent: 'nov', session: 's', task: 't' })).resolves.toMatchObject({ type: 'error', code: 'INVALID', message: expect.stringMatching(/\bv\b/) });
    // Hello naming scopes with characters outside the allowed set.
    await expect(replyTo(a, { type: 'hello', v: 1, agent: 'a b', session: 's', task: 't' })).resolves.toMatchObject({ type: 'error', code: 'INVALID', message: expect.stringMatching(/agent/) });
    await expect(replyTo(a, { type: 'hello', v: 1, agent: 'a', session: 'x:y', task: 't' })).resolves.toMatchObject({ type: 'error', code: 'INVALID', message: expect.stringMatching(/session/) });
    await expect(replyTo(a, { type: 'hello', v: 1, agent: 'a', session: 's', task: 'q'.repeat(200) })).resolves.toMatchObject({ type: 'error', code: 'INVALID', message: expect.stringMatching(/task/) });

    // Still not hello'd: the next request is refused the same way...
    const stillEarly = await replyTo(a, { type: 'ping', id: 'early-3' });
    expect(stillEarly).toMatchObject({ type: 'error', id: 'early-3', code: 'INVALID' });
    // ...and a proper hello on the same connection then works.
    const welcome = await replyTo(a, { type: 'hello', v: 1, agent: 'late-hello', session: 'hostile-s', task: 'hostile-t' });
    expect(welcome.type).toBe('welcome');
    await expectUsable(a);
  });

  it('answers every malformed frame with a clear error and keeps the connection usable', async () => {
    const a = await hello('hostile-1');
    const spend = (extra: Frame): Frame => ({ type: 'spend', id: 's-bad', key: `hostile-${++pings}`, ...extra });

    // Not JSON / not an object.
    await expectError(a, '{bad', 'INVALID', /not valid JSON/);
    await expectError(a, '[1,2]', 'INVALID', /JSON object/);
    await expectError(a, '"x"', 'INVALID', /JSON object/);
    await expectError(a, 'null', 'INVALID', /JSON object/);
    await expectError(a, '', 'INVALID', /JSON/);

    // Type problems.
    const unknownType = await expectError(a, { type: 'explode', id: 'u-1' }, 'INVALID', /type.*unknown|unknown.*type/i);
    expect(unknownType.id).toBe('u-1');
    expect(unknownType.message as string).toMatch(/explode/);
    const missingType = await expectError(a, { id: 'm-1', cost_usd: 1 }, 'INVALID', /type/);
    expect(missingType.id).toBe('m-1');
    await expectError(a, { type: 42, id: 'm-2' }, 'INVALID', /type/);

    // Wrong field types, each error names the field and echoes the id.
    const wt = await expectError(a, spend({ id: 'wt-1', input_tokens: '10' }), 'INVALID', /input_tokens/);
    expect(wt.id).toBe('wt-1');
    await expectError(a, spend({ cost_usd: true }), 'INVALID', /cost_usd/);
    await expectError(a, spend({ cost_usd: '0.5' }), 'INVALID', /cost_usd/);
    await expectError(a, spend({ model: { name: 'gpt-4o' }, input_tokens: 10 }), 'INVALID', /model/);
    await expectError(a, { type: 'reserve', id: 'r-bad', max_output_tokens: [100] }, 'INVALID', /max_output_tokens/);
    await expectError(a, { type: 'reserve', id: 'r-bad2', critical: 'yes' }, 'INVALID', /critical/);

    // Bad numbers.
    await expectError(a, spend({ input_tokens: -10 }), 'INVALID', /input_tokens.*negative/);
    await expectError(a, spend({ output_tokens: 1.5 }), 'INVALID', /output_tokens.*whole/);
    await expectError(a, spend({ cache_read_tokens: 1e12 }), 'INVALID', /cache_read_tokens/);
    await expectError(a, spend({ cost_usd: 1e308 }), 'INVALID', /cost_usd.*at most/);
    await expectError(a, spend({ cost_usd: -0.0001 }), 'INVALID', /cost_usd.*negative/);
    // 1e999 is valid JSON that parses to Infinity.
    await expectError(a, '{"type":"spend","id":"inf","key":"hostile-inf","cost_usd":1e999}', 'INVALID', /cost_usd/);
    await expectError(a, '{"type":"spend","id":"ninf","key":"hostile-ninf","input_tokens":-1e999}', 'INVALID', /input_tokens/);
    await expectError(a, { type: 'reserve', id: 'r-neg', input_tokens: -1, max_output_tokens: 10 }, 'INVALID', /input_tokens/);
    await expectError(a, { type: 'delegate', id: 'd-neg', child: 'kid', limits: { cost_usd: -5 } }, 'INVALID', /cost_usd/);

    // Over-long id: rejected, naming the field (the reply cannot echo an id that long).
    const longId = await expectError(a, spend({ id: 'x'.repeat(200), cost_usd: 0.01 }), 'INVALID', /\bid\b.*128/);
    expect(longId.id).toBeUndefined();
    await expectError(a, spend({ key: 'k'.repeat(200), cost_usd: 0.01 }), 'INVALID', /key.*128/);

    // Unknown extra fields are refused, not silently dropped.
    await expectError(a, spend({ cost_usd: 0.01, surprise: 1 }), 'INVALID', /surprise|unrecognized/i);

    // A spend must carry its idempotency key.
    const noKey = await expectError(a, { type: 'spend', id: 'nokey-1', cost_usd: 0.25 }, 'INVALID', /\bkey\b/);
    expect(noKey.id).toBe('nokey-1');

    // A commit needs its token counts.
    await expectError(a, { type: 'commit', id: 'c-nt', reservation: 'r1-1', key: 'hostile-c-nt' }, 'INVALID', /input_tokens/);

    // A commit for a reservation the daemon never issued.
    for (const reservation of ['never-issued-xyz', 'r999-1', 'r1-999999']) {
      const unknown = await expectError(
        a,
        { type: 'commit', id: `c-${reservation}`, reservation, key: `hostile-commit-${reservation}`, input_tokens: 10, output_tokens: 10, cost_usd: 0.5 },
        'UNKNOWN_RESERVATION',
        new RegExp(`reservation.*${reservation}`),
      );
      expect(unknown.id).toBe(`c-${reservation}`);
    }
    const unknownRelease = await expectError(a, { type: 'release', id: 'rel-x', reservation: 'never-issued-abc' }, 'UNKNOWN_RESERVATION', /reservation/);
    expect(unknownRelease.id).toBe('rel-x');

    // Hello twice on one connection.
    await expectError(a, { type: 'hello', v: 1, agent: 'hostile-1', session: 'hostile-s', task: 'hostile-t' }, 'INVALID', /hello.*already/);
  });

  it('survives 5,000-deep nesting inside a field and as the whole frame', async () => {
    const a = await hello('hostile-deep');
    for (const deep of [deepArray(5_000), deepObject(5_000)]) {
      await expectError(a, `{"type":"spend","id":"deep-f","key":"hostile-deep-f","cost_usd":${deep}}`, 'INVALID', /cost_usd/);
      await expectError(a, `{"type":"reserve","id":"deep-m","model":${deep}}`, 'INVALID', /model/);
    }
    await expectError(a, deepArray(5_000), 'INVALID', /JSON object/);
    await expectError(a, deepObject(5_000), 'INVALID', /type/);
    // Deeper than any sane parser stack: still an error, never a crash.
    await expectError(a, deepArray(20_000), 'INVALID', /JSON/);
  });

  it('refuses a 100 KB frame with TOO_LARGE and keeps the connection usable', async () => {
    const a = await hello('hostile-100k');
    const big = JSON.stringify({ type: 'spend', id: 'big-1', key: 'hostile-big-100k', cost_usd: 0.5, model: 'm'.repeat(100 * 1024) });
    expect(big.length).toBeGreaterThan(100 * 1024);
    await expectError(a, big, 'TOO_LARGE', /bytes|limit|large/i);
    // A frame just over the 64 KiB limit is refused too.
    await expectError(a, `{"type":"ping","id":"p","pad":"${'x'.repeat(64 * 1024)}"}`, 'TOO_LARGE', /65536|64/);
  });

  it('refuses a 10 MB frame (TOO_LARGE or closes that connection) and keeps serving others', async () => {
    const a = await hello('hostile-10m');
    const bystander = await hello('hostile-bystander');
    const huge = JSON.stringify({ type: 'spend', id: 'huge-1', key: 'hostile-huge', cost_usd: 0.5, model: 'm'.repeat(10 * 1024 * 1024) });
    const reply = nextFrom(a, a.frames.length, 20_000).catch(() => undefined);
    a.send(huge);
    const closed = closedWithin(a, 20_000);
    const first = await Promise.race([reply, closed.then(() => undefined)]);
    if (first !== undefined) {
      expect(first).toMatchObject({ type: 'error', code: 'TOO_LARGE' });
      expect(first.message as string).toMatch(/bytes|limit|large/i);
      await expectUsable(a);
    } else {
      expect(a.closed).toBe(true);
    }
    await expectUsable(bystander);
  });

  it('answers 2,000 random binary frames with errors (or closes the flooder) and survives', async () => {
    const a = await hello('hostile-binary');
    const bystander = await hello('hostile-binary-bystander');
    const start = a.frames.length;
    const N = 2_000;
    for (let i = 0; i < N; i++) a.ws.send(randomBytes(1 + (i % 512)), { binary: true });
    const deadline = Date.now() + 20_000;
    while (!a.closed && a.frames.length - start < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const replies = a.frames.slice(start);
    expect(a.closed || replies.length === N, `got ${replies.length} replies, closed=${a.closed}`).toBe(true);
    for (const r of replies) {
      expect(r.type).toBe('error');
      expect(r.code).toBe('INVALID');
      expect(r.message as string).toMatch(/binary/i);
    }
    if (!a.closed) await expectUsable(a);
    await expectUsable(bystander);
  });

  it('answers junk on the operator endpoint with clear errors', async () => {
    const op = await RawAgent.open(daemon.url, daemon.operatorToken, '/v1/operator');
    opened.push(op);
    await expect(replyTo(op, '{bad')).resolves.toMatchObject({ type: 'error', code: 'INVALID', message: expect.stringMatching(/JSON/) });
    await expect(replyTo(op, deepArray(5_000))).resolves.toMatchObject({ type: 'error', code: 'INVALID' });
    await expect(replyTo(op, { type: 'grant', id: 'g-bad', target: 'global', add_usd: -5 })).resolves.toMatchObject({ type: 'error', id: 'g-bad', code: 'INVALID', message: expect.stringMatching(/add_usd/) });
    await expect(replyTo(op, { type: 'grant', id: 'g-huge', target: 'global', add_usd: 1e308 })).resolves.toMatchObject({ type: 'error', id: 'g-huge', code: 'INVALID', message: expect.stringMatching(/add_usd/) });
    await expect(replyTo(op, { type: 'kill', id: 'k-bad', scope: 'nonsense scope' })).resolves.toMatchObject({ type: 'error', id: 'k-bad', code: 'INVALID', message: expect.stringMatching(/scope/) });
    await expect(replyTo(op, { type: 'explode', id: 'x-1' })).resolves.toMatchObject({ type: 'error', id: 'x-1', code: 'INVALID', message: expect.stringMatching(/explode/) });
    const status = await replyTo(op, { type: 'status', id: 'st-1' });
    expect(status.id).toBe('st-1');
    expect(status.type).not.toBe('error');
  });

  it('answers an operator frame sent with the agent token on /v1/agent with UNAUTHORIZED, and kills nothing (SPEC §8: wrong-role frames get UNAUTHORIZED)', async () => {
    const a = await hello('hostile-wrong-role');
    for (const frame of [
      { type: 'kill', id: 'wr-kill', all: true, reason: 'agent tries to kill' },
      { type: 'resume', id: 'wr-resume', all: true },
      { type: 'grant', id: 'wr-grant', target: 'global', add_usd: 1000 },
      { type: 'status', id: 'wr-status' },
    ]) {
      const reply = await replyTo(a, frame);
      expect(reply, JSON.stringify(frame)).toMatchObject({ type: 'error', id: frame.id, code: 'UNAUTHORIZED' });
      expect(reply.message as string).toMatch(new RegExp(frame.type));
    }
    // Nothing was killed: a bystander is still granted.
    const b = await hello('hostile-wrong-role-bystander');
    const g = await b.request({ type: 'reserve', id: 'wr-r', cost_usd: 0.01 });
    expect(g.type, JSON.stringify(g)).toBe('grant');
    const rel = await b.request({ type: 'release', id: 'wr-rel', reservation: g.reservation as string });
    expect(rel).toMatchObject({ type: 'ack', id: 'wr-rel' });
  });

  it('records nothing from hostile frames, and a fresh agent can still hello, reserve and commit', async () => {
    const health = await fetch(`${httpBase()}/healthz`);
    expect(health.status).toBe(200);
    expect(usageCount()).toBe(usageBefore);

    const a = await hello('hostile-after');
    const grant = await a.request({ type: 'reserve', id: 'after-r', cost_usd: 0.01 });
    expect(grant.type, JSON.stringify(grant)).toBe('grant');
    const ack = await a.request({ type: 'commit', id: 'after-c', reservation: grant.reservation as string, key: 'hostile-legit', input_tokens: 0, output_tokens: 0, cost_usd: 0.01 });
    expect(ack).toMatchObject({ type: 'ack', id: 'after-c', duplicate: false });

    expect(usageCount()).toBe(usageBefore + 1);
    const db = new Database(join(stateDir, 'ledger.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT key, cost_nano FROM usage').all() as Array<{ key: string; cost_nano: number }>;
      expect(rows).toEqual([{ key: 'hostile-legit', cost_nano: 10_000_000 }]);
    } finally {
      db.close();
    }
    expect((await fetch(`${httpBase()}/healthz`)).status).toBe(200);
    expect(daemon.child.exitCode).toBeNull();
    expect(daemon.child.signalCode).toBeNull();
  });
});
