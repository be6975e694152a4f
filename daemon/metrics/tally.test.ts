import { describe, expect, it } from 'vitest';
import type { UsageRow } from '../engine/events.js';
import { MAX_MODELS, UsageTally } from './tally.js';

function row(model: string | null, chain: string[], cost_nano = 1_000): UsageRow {
  return {
    key: 'k',
    ns: 'session:s',
    ts: 0,
    kind: 'commit',
    user: 'u',
    session: 's',
    task: 't',
    agent: 'a',
    chain,
    model,
    input_tokens: 10,
    output_tokens: 5,
    cache_read_tokens: 2,
    cache_write_tokens: 1,
    cost_nano,
    tool: null,
    op: null,
    overshoot: false,
  };
}

const CHAIN = ['global', 'user:u', 'session:s', 'task:t', 'agent:a'];

describe('UsageTally', () => {
  it('counts a row once per scope kind, even when a delegated chain holds several agents', () => {
    const t = new UsageTally();
    t.add(row('m', [...CHAIN, 'agent:child']));
    const slot = [...t.slots()].find((s) => s.model === 'm');
    expect([...(slot?.cost_nano ?? [])]).toEqual([1_000, 1_000, 1_000, 1_000, 1_000]);
    expect([...(slot?.tokens ?? [])].slice(16)).toEqual([10, 5, 2, 1]);
  });

  it(`bounds the model label: ${MAX_MODELS} models, then "other"; no model is "none"`, () => {
    const t = new UsageTally();
    for (let i = 0; i < MAX_MODELS + 5; i++) t.add(row(`model-${i}`, CHAIN));
    t.add(row(null, CHAIN, 7));
    const slots = [...t.slots()];
    expect(slots).toHaveLength(MAX_MODELS + 2);
    expect(slots.find((s) => s.model === 'other')?.cost_nano[0]).toBe(5_000);
    expect(slots.find((s) => s.model === 'none')?.cost_nano[0]).toBe(7);
    t.add(row('model-0', CHAIN));
    expect(slots.find((s) => s.model === 'model-0')?.cost_nano[0]).toBe(2_000);
  });
});
