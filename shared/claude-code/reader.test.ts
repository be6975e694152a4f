import { appendFileSync, cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costOf, priceFromUsd } from '../money/pricing.js';
import type { UsageRecord } from './dedupe.js';
import { TranscriptReader } from './reader.js';
import type { SendOutcome, UsageSink } from './sessions.js';
import { expectedUsage, FIXTURE_PROJECTS } from './test-support/fixture.js';
import { scanOnce, transcripts } from './watch.js';

/** Records what it is sent; answers like the ledger (first key wins) unless told otherwise. */
class FakeSink implements UsageSink {
  readonly sent: UsageRecord[] = [];
  readonly keys = new Set<string>();
  answer: (record: UsageRecord) => SendOutcome | undefined = () => undefined;

  send(record: UsageRecord): Promise<SendOutcome> {
    this.sent.push(record);
    const scripted = this.answer(record);
    if (scripted) return Promise.resolve(scripted);
    if (this.keys.has(record.key)) return Promise.resolve({ kind: 'duplicate' });
    this.keys.add(record.key);
    return Promise.resolve({ kind: 'recorded', cost_usd: 0.01 });
  }
}

const expected = expectedUsage();
const since_ms = Date.parse(expected.since);
const quiet = (): void => undefined;

function copyOfFixtures(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sg-cc-'));
  cpSync(FIXTURE_PROJECTS, dir, { recursive: true });
  return dir;
}

describe('TranscriptReader on the recorded-format fixtures', () => {
  it('sends one record per message with its largest counts, attributed to the session named in the line', async () => {
    const sink = new FakeSink();
    const stats = await scanOnce({ dir: FIXTURE_PROJECTS, sink, since_ms, settle_ms: 10_000, log: quiet });
    const byKey = Object.fromEntries(sink.sent.map((r) => [r.key, { session: r.sessionId, ...r.usage }]));
    // The recorded sessions wrote to the 5-minute cache only.
    const want = Object.fromEntries(Object.entries(expected.messages).map(([key, { cost_nano: _cost, ...m }]) => [key, { ...m, cache_write_1h_tokens: 0 }]));
    expect(byKey).toEqual(want);
    expect(sink.sent).toHaveLength(Object.keys(expected.messages).length);
    expect(stats).toMatchObject({ files: 3, recorded: 6, duplicates: 0, malformed: expected.malformed_lines, unsettled: 0, lost: 0 });
  });

  it('the hand-computed costs match the pricing code', () => {
    for (const [key, m] of Object.entries(expected.messages)) {
      const model = key.startsWith('cc:msg_01H') || key.startsWith('cc:msg_01J') ? 'claude-haiku-4-5-20251001' : 'claude-sonnet-4-5-20250929';
      const price = expected.pricing[model];
      if (!price) throw new Error(`no price for ${model}`);
      expect(costOf(priceFromUsd(price), m), key).toBe(m.cost_nano);
    }
    const total = Object.values(expected.messages).reduce((s, m) => s + m.cost_nano, 0);
    expect(total).toBe(expected.total_cost_nano);
  });

  it('reads only what a file gained: a second read sends nothing, a restarted reader resends (the ledger dedupes)', async () => {
    const sink = new FakeSink();
    const reader = new TranscriptReader({ sink, since_ms, settle_ms: 10_000, log: quiet });
    const files = await transcripts(FIXTURE_PROJECTS);
    for (const f of files) await reader.read(f);
    await reader.drain();
    const first = sink.sent.length;
    for (const f of files) await reader.read(f);
    await reader.drain();
    expect(sink.sent.length).toBe(first);
    const stats = await scanOnce({ dir: FIXTURE_PROJECTS, sink, since_ms, settle_ms: 10_000, log: quiet });
    expect(stats).toMatchObject({ recorded: 0, duplicates: 6 });
  });

  it('skips usage before --since, and whole files last written before it', async () => {
    const sink = new FakeSink();
    await scanOnce({ dir: FIXTURE_PROJECTS, sink, since_ms: Date.parse('2025-06-02T10:00:00Z'), settle_ms: 10_000, log: quiet });
    expect(new Set(sink.sent.map((r) => r.sessionId))).toEqual(new Set(['9a8b7c6d-1e2f-4a3b-8c5d-6e7f8091a2b3']));
    const all = new FakeSink();
    await scanOnce({ dir: FIXTURE_PROJECTS, sink: all, since_ms: Date.now() + 60_000, settle_ms: 10_000, log: quiet });
    expect(all.sent).toEqual([]);
  });

  it('sends streamed messages when complete, and holds one without a stop reason until it settles', async () => {
    const sink = new FakeSink();
    let now = 0;
    const reader = new TranscriptReader({ sink, since_ms, settle_ms: 5_000, log: quiet, now: () => now });
    const file = join(copyOfFixtures(), '-home-dev-demo', '3f1c2a9e-5b7d-4e21-9c3a-8d6e0f1b2a47.jsonl');
    await reader.read(file);
    // msg_01A ends with a stop reason; msg_01B has none and is completed by msg_01D, which has one.
    expect(sink.sent.map((r) => r.key.slice(0, 10))).toEqual(['cc:msg_01A', 'cc:msg_01B', 'cc:msg_01D']);
    expect(sink.sent[1]?.usage.output_tokens).toBe(342);
    const streaming = (output_tokens: number): string =>
      `${JSON.stringify({
        type: 'assistant',
        sessionId: '3f1c2a9e-5b7d-4e21-9c3a-8d6e0f1b2a47',
        requestId: 'req_E',
        timestamp: '2025-06-02T09:20:00.000Z',
        message: { id: 'msg_E', model: 'claude-sonnet-4-5-20250929', stop_reason: null, usage: { input_tokens: 1, output_tokens } },
      })}\n`;
    appendFileSync(file, streaming(3));
    await reader.read(file);
    appendFileSync(file, streaming(250));
    now = 3_000;
    await reader.read(file);
    now = 7_999;
    reader.tick();
    expect(sink.sent).toHaveLength(3);
    now = 8_000;
    reader.tick();
    expect(sink.sent.at(-1)).toMatchObject({ key: 'cc:msg_E:req_E', usage: { output_tokens: 250 } });
  });

  it('reads a file again from the start when a record was lost, and the ledger keeps one copy', async () => {
    const sink = new FakeSink();
    let now = 0;
    let fail = true;
    sink.answer = () => (fail ? { kind: 'retry', reason: 'daemon away' } : undefined);
    const logs: string[] = [];
    const reader = new TranscriptReader({ sink, since_ms, settle_ms: 5_000, log: (l) => logs.push(l), reread_lost: true, now: () => now });
    const file = join(FIXTURE_PROJECTS, '-home-dev-api', '9a8b7c6d-1e2f-4a3b-8c5d-6e7f8091a2b3.jsonl');
    await reader.read(file);
    await reader.drain();
    expect(reader.stats.lost).toBe(2);
    fail = false;
    now = 4_999;
    reader.tick();
    expect(sink.sent).toHaveLength(2);
    now = 5_000;
    reader.tick();
    await reader.drain();
    expect(sink.keys.size).toBe(2);
    expect(reader.stats.recorded).toBe(2);
    expect(logs.some((l) => l.includes('reading it again in 5 s'))).toBe(true);
  });
});
