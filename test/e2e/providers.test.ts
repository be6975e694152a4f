import { createOpenAI } from '@ai-sdk/openai';
import Anthropic from '@anthropic-ai/sdk';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpendguardClient } from '../../shared/client/agent-client.js';
import { SpendguardDeniedError, SpendguardKilledError } from '../../shared/client/errors.js';
import { costOf, priceFromUsd, type PriceUsdPerMtok } from '../../shared/money/pricing.js';
import { spendguardMiddleware, wrapAnthropic, wrapOpenAI, type ProviderEvent, type WrapperOptions } from '../../shared/providers/index.js';
import { FakeProvider, type FakeReply } from '../../shared/providers/testing/fake-provider.js';
import { o200kTokenizer } from '../../shared/providers/tokens.js';
import { RawAgent, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

const PRICES: Record<string, PriceUsdPerMtok> = {
  'gpt-test': { input: 2, output: 8, cache_read: 0.5, cache_write: 2.5 },
  'claude-test': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
};

const CONFIG = `
limits:
  session: { cost_usd: 100, mode: hard }
  task: { cost_usd: 10, mode: hard }
scopes:
  "task:broke": { cost_usd: 0.000001, mode: hard }
  "task:clamp": { cost_usd: 0.001, mode: hard }
pricing:
  models:
${Object.entries(PRICES)
  .map(([m, p]) => `    ${m}: { input: ${p.input}, output: ${p.output}, cache_read: ${p.cache_read}, cache_write: ${p.cache_write} }`)
  .join('\n')}
`;

let daemon: DaemonProcess;
let provider: FakeProvider;
const clients: SpendguardClient[] = [];

beforeAll(async () => {
  const dir = tempStateDir('sg-providers-');
  [daemon, provider] = await Promise.all([startDaemonProcess({ stateDir: dir, config: writeConfig(dir, CONFIG) }), FakeProvider.start()]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([daemon?.stop(), provider?.close()]);
});

async function connect(agent: string, task: string): Promise<SpendguardClient> {
  const client = new SpendguardClient({ url: daemon.url, token: daemon.agentToken, hello: { agent, session: `prov-${agent}`, task } });
  clients.push(client);
  await client.connect();
  return client;
}

interface Row {
  key: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_nano: number;
}

function ledgerRows(agent: string): Row[] {
  const db = new Database(join(daemon.stateDir, 'ledger.db'), { readonly: true });
  try {
    return db
      .prepare('SELECT key, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nano FROM usage WHERE agent = ? ORDER BY seq')
      .all(agent) as Row[];
  } finally {
    db.close();
  }
}

function expectedCostNano(row: Omit<Row, 'cost_nano' | 'key'>): number {
  const price = PRICES[row.model];
  if (!price) throw new Error(`no test price for ${row.model}`);
  return costOf(priceFromUsd(price), row);
}

async function expectNothingReserved(scope: string): Promise<void> {
  const op = await RawAgent.open(daemon.url, daemon.operatorToken, '/v1/operator');
  try {
    for (let attempt = 0; ; attempt++) {
      const reply = (await op.request({ type: 'status', id: `st-${scope}-${attempt}` })) as {
        status?: { scopes?: Record<string, { reserved?: Record<string, unknown> }> };
      };
      const reserved = reply.status?.scopes?.[scope]?.reserved;
      if (reserved === undefined) throw new Error(`no status for ${scope}: ${JSON.stringify(reply).slice(0, 200)}`);
      if (!reserved.cost_usd || attempt >= 50) {
        expect(reserved.cost_usd ?? 0).toBe(0);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    op.close();
  }
}

interface CallResult {
  text: string;
  error?: unknown;
}

/** The options every wrapper shares. */
type RunOptions = Pick<WrapperOptions, 'onEvent' | 'sleep'>;

/** One provider SDK under its spendguard wrapper, driven the way an agent would. */
interface Adapter {
  name: 'openai' | 'anthropic' | 'ai-sdk';
  model: string;
  /** The clamp field in the provider request body. */
  maxTokensField: string;
  run(client: SpendguardClient, opts: RunOptions, stream: boolean, maxTokens?: number): Promise<CallResult>;
}

async function collect<T>(source: AsyncIterable<T>, textOf: (item: T) => string): Promise<CallResult> {
  let text = '';
  try {
    for await (const item of source) text += textOf(item);
  } catch (error) {
    return { text, error };
  }
  return { text };
}

const PROMPT = 'Report the spend of the last run in one sentence.';

const adapters: Adapter[] = [
  {
    name: 'openai',
    model: 'gpt-test',
    maxTokensField: 'max_completion_tokens',
    async run(client, opts, stream, maxTokens = 1000) {
      const openai = wrapOpenAI(new OpenAI({ apiKey: 'test', baseURL: provider.openaiBaseURL }), client, opts);
      const body = { model: 'gpt-test', messages: [{ role: 'user' as const, content: PROMPT }], max_completion_tokens: maxTokens };
      if (!stream) return { text: (await openai.chat.completions.create(body)).choices[0]?.message.content ?? '' };
      return collect(await openai.chat.completions.create({ ...body, stream: true }), (c) => c.choices[0]?.delta.content ?? '');
    },
  },
  {
    name: 'anthropic',
    model: 'claude-test',
    maxTokensField: 'max_tokens',
    async run(client, opts, stream, maxTokens = 1000) {
      const anthropic = wrapAnthropic(new Anthropic({ apiKey: 'test', baseURL: provider.anthropicBaseURL }), client, opts);
      const body = { model: 'claude-test', max_tokens: maxTokens, messages: [{ role: 'user' as const, content: PROMPT }] };
      if (!stream) {
        const msg = await anthropic.messages.create(body);
        return { text: msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('') };
      }
      return collect(await anthropic.messages.create({ ...body, stream: true }), (e) =>
        e.type === 'content_block_delta' && e.delta.type === 'text_delta' ? e.delta.text : '',
      );
    },
  },
  {
    name: 'ai-sdk',
    model: 'gpt-test',
    maxTokensField: 'max_tokens',
    async run(client, opts, stream, maxOutputTokens = 1000) {
      const base = createOpenAI({ apiKey: 'test', baseURL: provider.openaiBaseURL }).chat('gpt-test');
      const model = wrapLanguageModel({ model: base, middleware: spendguardMiddleware(client, opts) });
      if (!stream) return { text: (await generateText({ model, prompt: PROMPT, maxOutputTokens, maxRetries: 0 })).text };
      const result = streamText({ model, prompt: PROMPT, maxOutputTokens, maxRetries: 0, onError: () => undefined });
      // streamText reports a failed call as an `error` part rather than throwing.
      let failed: unknown;
      const streamed = await collect(result.fullStream, (p) => {
        if (p.type === 'error') failed ??= p.error;
        return p.type === 'text-delta' ? p.text : '';
      });
      return failed === undefined ? streamed : { text: streamed.text, error: failed };
    },
  },
];

const TEXT = 'Last run: 4 agents, 37 calls, $0.82 of a $5.00 session budget, no overshoot, one kill.';

describe.each(adapters)('$name wrapper against a real daemon and ledger', (adapter) => {
  const agent = `${adapter.name}-agent`;
  let client: SpendguardClient;
  let events: ProviderEvent[];
  const opts = (): RunOptions => ({ onEvent: (e) => events.push(e) });
  const reply = (r: Omit<FakeReply, 'text'> & { text?: string }): void => {
    provider.reply = () => ({ text: TEXT, ...r });
  };
  const reserved = (): Extract<ProviderEvent, { type: 'reserved' }> => {
    const e = events.find((x): x is Extract<ProviderEvent, { type: 'reserved' }> => x.type === 'reserved');
    if (!e) throw new Error('no reservation');
    return e;
  };

  beforeAll(async () => {
    client = await connect(agent, `${adapter.name}-task`);
  });

  async function oneRow(run: () => Promise<CallResult>): Promise<{ row: Row; result: CallResult }> {
    events = [];
    const before = ledgerRows(agent).length;
    const result = await run();
    const rows = ledgerRows(agent);
    expect(rows).toHaveLength(before + 1);
    return { row: rows[rows.length - 1] as Row, result };
  }

  it('non-streaming: one row with the provider-reported tokens (cache read/write split out) and their exact cost', async () => {
    const usage = { input: 120, output: 30, cacheRead: 400, cacheWrite: 50 };
    reply({ id: `${adapter.name}-ns`, usage });
    const { row, result } = await oneRow(() => adapter.run(client, opts(), false));
    expect(result.text).toBe(TEXT);
    expect(row).toMatchObject({ key: `resp-${adapter.name}-ns`, model: adapter.model, input_tokens: 120, output_tokens: 30, cache_read_tokens: 400, cache_write_tokens: 50 });
    expect(row.cost_nano).toBe(expectedCostNano(row));
  });

  it('streaming: one row with the usage of the final stream event', async () => {
    reply({ id: `${adapter.name}-st`, usage: { input: 80, output: 24, cacheRead: 1000 } });
    const { row, result } = await oneRow(() => adapter.run(client, opts(), true));
    expect(result).toEqual({ text: TEXT });
    expect(row).toMatchObject({ key: `resp-${adapter.name}-st`, input_tokens: 80, output_tokens: 24, cache_read_tokens: 1000, cache_write_tokens: 0 });
    expect(row.cost_nano).toBe(expectedCostNano(row));
  });

  it('a stream cut half-way: one row, output = tokenizer count of the received text, never $0', async () => {
    reply({ id: `${adapter.name}-cut`, usage: { input: 80, output: 24, cacheRead: 300 }, cutAfterDeltas: 6 });
    const { row, result } = await oneRow(() => adapter.run(client, opts(), true));
    expect(result.error).toBeDefined();
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.text.length).toBeLessThan(TEXT.length);
    // Anthropic reports the input side in message_start, before the cut; the others report usage only at the end.
    const input = adapter.name === 'anthropic' ? { input_tokens: 80, cache_read_tokens: 300 } : { input_tokens: reserved().input_tokens, cache_read_tokens: 0 };
    expect(row).toMatchObject({ key: `resp-${adapter.name}-cut`, output_tokens: o200kTokenizer.count(result.text), ...input });
    expect(row.cost_nano).toBeGreaterThan(0);
    expect(row.cost_nano).toBe(expectedCostNano(row));
  });

  it('a repeated call answered with the same response id is counted once: the second commit is acked duplicate', async () => {
    reply({ id: `${adapter.name}-same`, usage: { input: 50, output: 10 } });
    const first = await oneRow(() => adapter.run(client, opts(), false));
    const before = ledgerRows(agent).length;
    events = [];
    await adapter.run(client, opts(), true);
    expect(ledgerRows(agent)).toHaveLength(before);
    const commits = events.filter((e): e is Extract<ProviderEvent, { type: 'committed' }> => e.type === 'committed');
    expect(commits.map((c) => [c.key, c.ack.duplicate])).toEqual([[first.row.key, true]]);
    // The duplicate's own reservation is released, not left holding budget until its lease expires.
    await expectNothingReserved(`task:${adapter.name}-task`);
  });

  it('a call denied by budget never reaches the provider', async () => {
    const broke = await connect(`${adapter.name}-broke`, 'broke');
    const requests = provider.requests.length;
    const err = await adapter.run(broke, {}, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpendguardDeniedError);
    expect(err).toMatchObject({ code: 'BUDGET_EXCEEDED', scope: 'task:broke' });
    // Wrapped SDKs reject at `create`; `streamText` reports the refusal inside the stream.
    const streamErr = await adapter.run(broke, {}, true).then((r) => r.error, (e: unknown) => e);
    expect(streamErr).toBeInstanceOf(SpendguardDeniedError);
    expect(provider.requests).toHaveLength(requests);
  });

  it('the clamped max_tokens is what reaches the provider request, after the backpressure delay', async () => {
    const tight = await connect(`${adapter.name}-clamp`, 'clamp');
    reply({ id: `${adapter.name}-clamp`, usage: { input: 20, output: 5 } });
    events = [];
    const slept: number[] = [];
    await adapter.run(tight, { ...opts(), sleep: async (ms) => void slept.push(ms) }, false, 5_000);
    const { grant } = reserved();
    // A grant that fills the task's budget comes with a delay; the wrapper waits it (here: records it).
    expect(slept).toEqual(grant.delay_ms > 0 ? [grant.delay_ms] : []);
    const granted = grant.max_output_tokens;
    expect(granted).toBeGreaterThan(0);
    expect(granted).toBeLessThan(5_000);
    expect(provider.requests.at(-1)?.body[adapter.maxTokensField]).toBe(granted);
  });
});

describe('kill switch against a real daemon', () => {
  it('an operator kill aborts an in-flight stream; what was received is still in the ledger', async () => {
    const client = await connect('kill-agent', 'kill-task');
    let release: () => void = () => undefined;
    const hold = new Promise<void>((resolve) => (release = resolve));
    provider.reply = () => ({ id: 'kill-st', text: TEXT, usage: { input: 80, output: 24 }, hold });
    const requests = provider.requests.length;
    const running = adapters[0]?.run(client, {}, true);
    await provider.waitForRequests(requests + 1);
    const op = await RawAgent.open(daemon.url, daemon.operatorToken, '/v1/operator');
    await op.request({ type: 'kill', id: 'k-1', scope: 'task:kill-task', reason: 'e2e' });
    const result = await running;
    release();
    op.close();
    expect(result?.error).toBeInstanceOf(SpendguardKilledError);
    expect(provider.requests.at(-1)?.closedEarly).toBe(true);
    const rows = ledgerRows('kill-agent');
    expect(rows).toEqual([expect.objectContaining({ key: 'resp-kill-st', output_tokens: o200kTokenizer.count(result?.text ?? '') })]);
    expect(rows[0]?.cost_nano).toBeGreaterThan(0);
  });
});
