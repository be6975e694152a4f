import Anthropic from '@anthropic-ai/sdk';
import { calcPrice } from '@pydantic/genai-prices';
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { usdToNano } from '../../shared/money/money.js';
import { anthropicUsage, catalogNano as billedNano, label, openaiUsage, RECORDS } from '../../shared/money/testing/billed-records.js';
import { FakeProvider } from '../../shared/providers/testing/fake-provider.js';
import { o200kTokenizer } from '../../shared/providers/tokens.js';
import { silentLogger } from '../../daemon/server/log.js';
import { startDaemon, type RunningDaemon } from '../../daemon/main.js';
import { OperatorClient } from '../../shared/client/operator.js';

/**
 * The provider proxy with the official clients, pointed at it with their real base-URL options,
 * against a fake upstream speaking the real JSON and SSE formats (issue: supervise unmodified
 * agents before each call).
 */

const run = promisify(execFile);
let daemon: RunningDaemon;
let provider: FakeProvider;
let http: string;
let op: OperatorClient;

const UPSTREAM_KEY = 'sk-upstream-secret-1234';

beforeAll(async () => {
  provider = await FakeProvider.start();
  const dir = mkdtempSync(join(tmpdir(), 'sg-proxy-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `limits:
  task: { cost_usd: 5, mode: hard }
scopes:
  "task:capped": { cost_usd: 0.05, mode: hard }
  "session:ask": { cost_usd: 0.000001, mode: approval }
approvals: { timeout: 20s }
proxy:
  upstreams:
    fake-openai: { url: ${provider.url}, format: openai, api_key_env: FAKE_UPSTREAM_KEY }
    fake-anthropic: { url: ${provider.url}, format: anthropic, api_key_env: FAKE_UPSTREAM_KEY }
`,
  );
  process.env.FAKE_UPSTREAM_KEY = UPSTREAM_KEY;
  daemon = await startDaemon({ stateDir: dir, configPath: config, listen: '127.0.0.1:0', log: silentLogger });
  http = daemon.url.replace('ws://', 'http://');
  op = await OperatorClient.connect({ url: daemon.url, token: daemon.tokens.operator, timeoutMs: 5_000 });
}, 30_000);

afterAll(async () => {
  await op?.close();
  await daemon?.stop();
  await provider?.close();
});

beforeEach(() => {
  provider.requests.length = 0;
  provider.reply = () => ({ id: 'chatcmpl-1', text: 'The budget held.', usage: { input: 10, output: 7 } });
});

function headers(task: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'x-spendguard-token': daemon.tokens.agent, 'x-spendguard-session': 'proxy-s', 'x-spendguard-task': task, 'x-spendguard-agent': `agent-${task}`, ...extra };
}

function openai(task: string, extra: Record<string, string> = {}): OpenAI {
  return new OpenAI({ apiKey: 'sk-callers-own', baseURL: `${http}/proxy/fake-openai/v1`, defaultHeaders: headers(task, extra), maxRetries: 0 });
}

function anthropic(task: string, extra: Record<string, string> = {}): Anthropic {
  return new Anthropic({ apiKey: 'sk-ant-callers-own', baseURL: `${http}/proxy/fake-anthropic`, defaultHeaders: headers(task, extra), maxRetries: 0 });
}

function rows(task: string): Array<{ key: string; cost_nano: number; input_tokens: number; output_tokens: number; cache_read_tokens: number; cache_write_tokens: number }> {
  const db = new Database(join(daemon.stateDir, 'ledger.db'), { readonly: true });
  try {
    return db.prepare('SELECT key, cost_nano, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens FROM usage WHERE task = ? ORDER BY seq').all(task) as never;
  } finally {
    db.close();
  }
}

async function settled(task: string, n: number): Promise<ReturnType<typeof rows>> {
  for (let i = 0; i < 200; i++) {
    const r = rows(task);
    if (r.length >= n) return r;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`no ${n} rows for ${task}: ${JSON.stringify(rows(task))}`);
}

function catalogNano(model: string, u: { input: number; cacheRead?: number; cacheWrite?: number; output: number }): number {
  const r = calcPrice({ input_tokens: u.input + (u.cacheRead ?? 0) + (u.cacheWrite ?? 0), cache_read_tokens: u.cacheRead ?? 0, cache_write_tokens: u.cacheWrite ?? 0, output_tokens: u.output }, model);
  if (!r) throw new Error(model);
  return usdToNano(r.total_price);
}

describe('proxy: OpenAI format', () => {
  it('plain call: clamp visible upstream, exact ledger cost with cache priced, keyed by the response id; spendguard headers never reach the upstream', async () => {
    provider.reply = () => ({ id: 'chatcmpl-plain', text: 'ok', usage: { input: 900, output: 40, cacheRead: 2_000 } });
    const res = await openai('o-plain').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 500 });
    expect(res.choices[0]?.message.content).toBe('ok');
    const sent = provider.requests[0];
    expect(sent?.body.max_tokens).toBe(500);
    expect(Object.keys(sent?.headers ?? {}).filter((h) => h.startsWith('x-spendguard'))).toEqual([]);
    expect(sent?.headers.authorization).toBe('Bearer sk-callers-own');
    const [row] = await settled('o-plain', 1);
    expect(row).toMatchObject({ key: 'resp-chatcmpl-plain', input_tokens: 900, output_tokens: 40, cache_read_tokens: 2_000 });
    expect(row?.cost_nano).toBe(catalogNano('gpt-4o', { input: 900, cacheRead: 2_000, output: 40 }));
  });

  it('streams, with and without the client asking for usage: the extra usage chunk is hidden from one that did not', async () => {
    let n = 0;
    provider.reply = () => ({ id: `chatcmpl-st${n++}`, text: 'one two three four', usage: { input: 50, output: 12 } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of await openai('o-stream').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count' }], stream: true })) chunks.push(c);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(provider.requests[0]?.body.stream_options).toEqual({ include_usage: true });
    const asked: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of await openai('o-stream').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count' }], stream: true, stream_options: { include_usage: true } })) asked.push(c);
    expect(asked.some((c) => c.usage?.completion_tokens === 12)).toBe(true);
    const r = await settled('o-stream', 2);
    expect(r.map((x) => x.cost_nano)).toEqual([catalogNano('gpt-4o-mini', { input: 50, output: 12 }), catalogNano('gpt-4o-mini', { input: 50, output: 12 })]);
  });

  it('a stream cut by the upstream is committed from a tokenizer count of what was delivered, never $0', async () => {
    const text = 'alpha beta gamma delta epsilon zeta eta theta';
    provider.reply = () => ({ id: 'chatcmpl-cut', text, usage: { input: 50, output: 99 }, cutAfterDeltas: 3 });
    let got = '';
    await expect(
      (async () => {
        for await (const c of await openai('o-cut').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'go' }], stream: true })) got += c.choices[0]?.delta.content ?? '';
      })(),
    ).rejects.toThrow();
    const [row] = await settled('o-cut', 1);
    expect(row?.output_tokens).toBe(o200kTokenizer.count(got));
    expect(row?.cost_nano).toBeGreaterThan(0);
  });

  it('a stream the client leaves half-way is committed from what was delivered, and the upstream call is cut', async () => {
    let release: () => void = () => undefined;
    const hold = new Promise<void>((r) => (release = r));
    provider.reply = () => ({ id: 'chatcmpl-left', text: 'first then a great deal more that is never read', usage: { input: 20, output: 99 }, hold });
    const stream = await openai('o-left').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'go' }], stream: true });
    let got = '';
    for await (const c of stream) {
      got += c.choices[0]?.delta.content ?? '';
      if (got.length > 0) break;
    }
    const [row] = await settled('o-left', 1);
    expect(row?.output_tokens).toBeGreaterThan(0);
    expect(row?.cost_nano).toBeGreaterThan(0);
    for (let i = 0; i < 100 && !provider.requests[0]?.closedEarly; i++) await new Promise((r) => setTimeout(r, 20));
    expect(provider.requests[0]?.closedEarly).toBe(true);
    release();
  });

  it('50 concurrent calls under a $0.05 hard cap never pass it and use at least 90 % of it', async () => {
    // The upstream bills what it was sent (never more than the proxy's tokenizer count) and the whole granted output.
    const prompt = 'Summarise the quarterly budget report for the finance team. '.repeat(80);
    let n = 0;
    provider.reply = (req) => ({ id: `chatcmpl-c${n++}`, text: 'x', usage: { input: o200kTokenizer.count(prompt), output: Number(req.body.max_tokens) } });
    const client = openai('capped');
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: prompt }], max_tokens: 1_000 })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected');
    // Refused for budget (402), or by the agent's breaker after its denials (429).
    expect(refused.map((r) => (r.status === 'rejected' ? (r.reason as { status?: number }).status : 0)).filter((s) => s !== 402 && s !== 429)).toEqual([]);
    const r = await settled('capped', ok);
    const spent = r.reduce((a, x) => a + x.cost_nano, 0);
    expect(spent).toBeLessThanOrEqual(50_000_000);
    expect(spent).toBeGreaterThanOrEqual(45_000_000);
  });
});

describe('proxy: Anthropic format', () => {
  it('plain and streamed calls: exact cost with 5-minute writes, clamp upstream, keys shared with watch claude-code', async () => {
    provider.reply = () => ({ id: 'msg_plain', text: 'fine', usage: { input: 1_200, output: 30, cacheRead: 10_000, cacheWrite: 3_000 } });
    const res = await anthropic('a-plain').messages.create({ model: 'claude-sonnet-4-5', max_tokens: 800, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.content[0]).toMatchObject({ type: 'text', text: 'fine' });
    expect(provider.requests[0]?.body.max_tokens).toBe(800);
    // The caller's own credentials go upstream untouched (this SDK sends them as a bearer token).
    expect(provider.requests[0]?.headers.authorization ?? provider.requests[0]?.headers['x-api-key']).toMatch(/sk-ant-callers-own$/);
    const [row] = await settled('a-plain', 1);
    expect(row?.key).toMatch(/^cc:msg_plain:req_fake_\d+$/);
    expect(row?.cost_nano).toBe(catalogNano('claude-sonnet-4-5', { input: 1_200, cacheRead: 10_000, cacheWrite: 3_000, output: 30 }));

    provider.reply = () => ({ id: 'msg_stream', text: 'streamed words here', usage: { input: 300, output: 9 } });
    const stream = anthropic('a-plain').messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(await stream.finalText()).toBe('streamed words here');
    const r = await settled('a-plain', 2);
    expect(r[1]?.cost_nano).toBe(catalogNano('claude-haiku-4-5', { input: 300, output: 9 }));
  });

  it('a kill mid-stream cuts it within 100 ms and refuses the next call (403)', async () => {
    let release: () => void = () => undefined;
    const hold = new Promise<void>((r) => (release = r));
    provider.reply = () => ({ id: 'msg_kill', text: 'first then much more text that never comes', usage: { input: 100, output: 50 }, hold });
    const stream = anthropic('a-kill').messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'go' }] });
    stream.on('error', () => undefined);
    const firstDelta = new Promise<void>((r) => stream.on('text', () => r()));
    await firstDelta;
    const t0 = performance.now();
    await op.request({ type: 'kill', scope: 'task:a-kill', reason: 'test' });
    await expect(stream.finalText()).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(100);
    release();
    await expect(anthropic('a-kill').messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'again' }] })).rejects.toMatchObject({ status: 403 });
    const [row] = await settled('a-kill', 1);
    expect(row?.cost_nano).toBeGreaterThan(0);
  });
});

describe('proxy: a kill while a plain call waits for its answer', () => {
  it('answers 403 at once and commits the input that was sent, never $0', async () => {
    let release: () => void = () => undefined;
    const hold = new Promise<void>((r) => (release = r));
    provider.reply = () => ({ id: 'chatcmpl-held', text: 'late', usage: { input: 10, output: 2 }, hold });
    const call = openai('o-held').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'wait for it' }], max_tokens: 50 });
    await provider.waitForRequests(1);
    const t0 = performance.now();
    await op.request({ type: 'kill', scope: 'task:o-held', reason: 'test' });
    await expect(call).rejects.toMatchObject({ status: 403 });
    expect(performance.now() - t0).toBeLessThan(100);
    release();
    const [row] = await settled('o-held', 1);
    expect(row?.input_tokens).toBeGreaterThan(0);
    expect(row?.cost_nano).toBeGreaterThan(0);
  });
});

describe('proxy: approval, keys, identity', () => {
  it('an approval holds the HTTP request, which completes when the operator grants', async () => {
    const call = openai('ask-t', { 'x-spendguard-session': 'ask' }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'may I' }], max_tokens: 100 });
    let prompt: string | undefined;
    for (let i = 0; i < 200 && !prompt; i++) {
      prompt = (await op.request({ type: 'prompts' })).prompts?.find((p) => p.scope === 'session:ask')?.id;
      if (!prompt) await new Promise((r) => setTimeout(r, 25));
    }
    expect(provider.requests).toHaveLength(0);
    await op.request({ type: 'grant', target: prompt as string, add_usd: 1, confirmed: true });
    expect((await call).choices[0]?.message.content).toBeDefined();
  });

  it("a spendguard key swaps in the upstream's key; a revoked one gets 401; none gets 401", async () => {
    const key = (await op.request({ type: 'key_create', scope: 'session:keyed', in: 'user:default', name: 'proxy-key' })).key as string;
    const client = new OpenAI({ apiKey: key, baseURL: `${http}/proxy/fake-openai/v1`, maxRetries: 0, defaultHeaders: { 'x-spendguard-task': 'keyed-t' } });
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(provider.requests[0]?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.stringify(provider.requests[0]?.headers)).not.toContain(key);
    expect((await settled('keyed-t', 1)).length).toBe(1);
    await op.request({ type: 'key_revoke', target: 'proxy-key' });
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 401 });
    const bare = new OpenAI({ apiKey: 'sk-x', baseURL: `${http}/proxy/fake-openai/v1`, maxRetries: 0 });
    await expect(bare.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 401 });
  });

  it("Python's standard library through the proxy", async () => {
    provider.reply = () => ({ id: 'chatcmpl-py', text: 'from python', usage: { input: 20, output: 3 } });
    const script = `
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + '/proxy/fake-openai/v1/chat/completions', method='POST',
  data=json.dumps({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': 'hi'}]}).encode(),
  headers={'content-type': 'application/json', 'authorization': 'Bearer sk-py', 'x-spendguard-token': sys.argv[2],
           'x-spendguard-session': 'py', 'x-spendguard-task': 'py-t', 'x-spendguard-agent': 'py-a'})
print(json.load(urllib.request.urlopen(req))['choices'][0]['message']['content'])
`;
    const { stdout } = await run('python3', ['-c', script, http, daemon.tokens.agent], { timeout: 20_000 });
    expect(stdout.trim()).toBe('from python');
    expect((await settled('py-t', 1))[0]?.cost_nano).toBe(catalogNano('gpt-4o', { input: 20, output: 3 }));
  });
});

describe('proxy: errors, Claude Code, compression, metrics', () => {
  it('an upstream error reaches the client unchanged and releases the reservation (nothing charged)', async () => {
    provider.reply = () => ({ id: 'x', text: '', usage: { input: 0, output: 0 }, status: 503 });
    await expect(openai('err-t').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 })).rejects.toMatchObject({ status: 503, message: expect.stringContaining('fake provider error 503') });
    const status = (await op.request({ type: 'status' })).status;
    expect(status?.scopes['task:err-t']?.reserved.cost_usd ?? 0).toBe(0);
    expect(rows('err-t')).toEqual([]);
  });

  it("Claude Code's session id and sub-agent id name its place, as watch claude-code does", async () => {
    provider.reply = () => ({ id: 'msg_cc', text: 'ok', usage: { input: 10, output: 2 } });
    const session = '3f2b7c1e-1111-4222-8333-444455556666';
    const cc = new Anthropic({ apiKey: 'sk-ant-sub', baseURL: `${http}/proxy/fake-anthropic`, maxRetries: 0, defaultHeaders: { 'x-spendguard-token': daemon.tokens.agent, 'x-claude-code-session-id': session, 'x-claude-code-agent-id': 'sub-7' } });
    await cc.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const status = (await op.request({ type: 'status' })).status;
    expect(Object.keys(status?.scopes ?? {})).toEqual(expect.arrayContaining([`session:${session}`, `agent:claude-code.${session}`, 'agent:sub-7']));
    const [row] = await settled(session, 1);
    expect(row?.key).toMatch(/^cc:msg_cc:req_fake_/);
  });

  it('a gzip-compressed upstream answer is decoded, metered and passed on', async () => {
    const { createServer } = await import('node:http');
    const { gzipSync } = await import('node:zlib');
    const body = gzipSync(JSON.stringify({ id: 'chatcmpl-gz', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'zipped', refusal: null }, finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35 } }));
    const gz = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(body));
    await new Promise<void>((r) => gz.listen(0, '127.0.0.1', r));
    const port = (gz.address() as { port: number }).port;
    try {
      // A new upstream by config reload (as a file edit would): the proxy reads upstreams per request.
      const cfg = daemon.engine.config;
      const upstreams = { ...cfg.proxy.upstreams, gz: { url: `http://127.0.0.1:${port}`, format: 'openai' as const } };
      daemon.supervisor.dispatch({ type: 'config', config: { ...cfg, proxy: { ...cfg.proxy, upstreams } }, path: null });
      const client = new OpenAI({ apiKey: 'sk-gz', baseURL: `${http}/proxy/gz/v1`, defaultHeaders: headers('gz-t'), maxRetries: 0 });
      const res = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.choices[0]?.message.content).toBe('zipped');
      expect((await settled('gz-t', 1))[0]?.cost_nano).toBe(catalogNano('gpt-4o', { input: 30, output: 5 }));
    } finally {
      gz.close();
    }
  });

  it('Responses and embeddings are metered too; a body above proxy.max_body_bytes gets 413', async () => {
    const { createServer } = await import('node:http');
    const answers: Record<string, unknown> = {
      '/v1/responses': { id: 'resp_r1', object: 'response', output: [], usage: { input_tokens: 1_200, input_tokens_details: { cached_tokens: 200 }, output_tokens: 300, output_tokens_details: { reasoning_tokens: 100 }, total_tokens: 1_500 } },
      '/v1/embeddings': { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 42, total_tokens: 42 } },
    };
    const seen: Array<Record<string, unknown>> = [];
    const up = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers[req.url ?? ''] ?? {}));
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const cfg = daemon.engine.config;
    try {
      const upstreams = { ...cfg.proxy.upstreams, other: { url: `http://127.0.0.1:${(up.address() as { port: number }).port}`, format: 'openai' as const } };
      daemon.supervisor.dispatch({ type: 'config', config: { ...cfg, proxy: { ...cfg.proxy, upstreams, max_body_bytes: 4_096 } }, path: null });
      const client = new OpenAI({ apiKey: 'sk-x', baseURL: `${http}/proxy/other/v1`, defaultHeaders: headers('resp-t'), maxRetries: 0 });
      await client.responses.create({ model: 'gpt-4o', input: 'hello', max_output_tokens: 500 });
      expect(seen[0]?.max_output_tokens).toBe(500);
      await client.embeddings.create({ model: 'text-embedding-3-small', input: 'embed me' });
      const r = await settled('resp-t', 2);
      expect(r[0]).toMatchObject({ key: 'resp-resp_r1', input_tokens: 1_000, output_tokens: 300, cache_read_tokens: 200 });
      expect(r[0]?.cost_nano).toBe(catalogNano('gpt-4o', { input: 1_000, cacheRead: 200, output: 300 }));
      expect(r[1]).toMatchObject({ input_tokens: 42, output_tokens: 0 });
      await expect(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(8_000) }] })).rejects.toMatchObject({ status: 413 });
    } finally {
      daemon.supervisor.dispatch({ type: 'config', config: cfg, path: null });
      up.close();
    }
  });

  it('an upstream name that is not configured (constructor, __proto__, a typo) gets 404, never a prototype lookup', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'opneai']) {
      const r = await fetch(`${http}/proxy/${name}/v1/chat/completions`, { method: 'POST', headers: headers('nf-t'), body: '{}' });
      expect(r.status, name).toBe(404);
    }
  });

  it("/metrics carries the proxy's own added latency", async () => {
    const text = await (await fetch(`${http}/metrics`)).text();
    expect(text).toMatch(/spendguard_proxy_overhead_seconds_count \d+/);
    expect(Number(/spendguard_proxy_overhead_seconds_count (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
  });
});

describe('spendguard env', () => {
  it('creates a key for the scope and prints lines a shell can eval; the key works through the proxy', async () => {
    const { stdout } = await run(process.execPath, [join(process.cwd(), 'bin', 'spendguard.js'), '--state-dir', daemon.stateDir, 'env', 'openai-python', '--scope', 'session:env-s', '--in', 'user:default'], { timeout: 20_000 });
    const vars = Object.fromEntries(stdout.trim().split('\n').map((l) => /^export (\w+)='(.*)'$/.exec(l)?.slice(1) ?? []));
    expect(vars.OPENAI_BASE_URL).toBe(`${http}/proxy/openai/v1`);
    expect(vars.OPENAI_API_KEY).toMatch(/^sgk_/);
    provider.reply = () => ({ id: 'chatcmpl-env', text: 'ok', usage: { input: 5, output: 1 } });
    const client = new OpenAI({ apiKey: vars.OPENAI_API_KEY, baseURL: String(vars.OPENAI_BASE_URL).replace('/proxy/openai/', '/proxy/fake-openai/'), maxRetries: 0, defaultHeaders: { 'x-spendguard-task': 'env-t' } });
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect((await settled('env-t', 1)).length).toBe(1);
  });
});

describe('proxy: priced as billed (the exact-money table through the proxy)', () => {
  it.each(RECORDS.filter((b) => b.family !== 'google').map((b) => [label(b), b] as const))('%s', async (_, b) => {
    const task = `table-${b.model}-${b.input}`;
    provider.reply = () => ({ id: `id-${task}`, text: 'ok', usage: { input: 0, output: 0 }, rawUsage: b.family === 'openai' ? openaiUsage(b) : anthropicUsage(b) });
    if (b.family === 'openai') await openai(task).chat.completions.create({ model: b.model, messages: [{ role: 'user', content: 'price me' }], max_completion_tokens: 20_000 });
    else await anthropic(task).messages.create({ model: b.model, max_tokens: 4_000, messages: [{ role: 'user', content: 'price me' }] });
    expect((await settled(task, 1))[0]?.cost_nano).toBe(billedNano(b));
  });
});
