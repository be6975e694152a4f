import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StatusJson } from '../../shared/protocol/operator.js';
import { readStatusLine, renderStatusLine } from './status.js';

/**
 * `status --line` reads the daemon's status body by hand (readStatusLine), not with the
 * `StatusJson` schema: held to the schema here. Whatever the schema accepts, the reader accepts
 * and reads the same values; a field the line prints that the schema would refuse, the reader
 * refuses too.
 */

const amounts = fc.dictionary(
  fc.constantFrom('cost_usd', 'tokens', 'calls', 'per_day', 'per_hour'),
  fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.dictionary(fc.constantFrom('cost_usd', 'tokens'), fc.double({ min: 0, max: 1e6, noNaN: true }))),
);
const nullableNumber = fc.option(fc.double({ min: 0, max: 1e3, noNaN: true }), { nil: null });
const scope = fc.record({
  limit: amounts,
  spent: amounts,
  reserved: amounts,
  pressure: fc.constantFrom('ok', 'warning', 'critical', 'exceeded'),
  ratio: nullableNumber,
  killed: fc.boolean(),
  breaker: fc.constantFrom('closed', 'open', 'half-open'),
  mode: fc.constantFrom('hard', 'soft', 'approval'),
  agents: fc.nat(50),
  burn_usd_per_min_1m: nullableNumber,
  burn_usd_per_min_10m: nullableNumber,
  exhaustion_ms: nullableNumber,
});
const status = fc.record(
  {
    agents: fc.nat(100),
    scopes: fc.dictionary(fc.constantFrom('global', 'user:a', 'session:s-1', 'task:t-7', 'agent:x'), scope),
    prompts: fc.nat(20),
    config: fc.constant({ path: null, loaded_at: 0, error: null }),
    ledger: fc.record({ writable: fc.boolean(), error: fc.option(fc.string(), { nil: null }), since_ms: nullableNumber }),
  },
  { requiredKeys: ['agents', 'scopes', 'prompts', 'config'] },
);

/** One field the line prints, made wrong. */
const breakages: ReadonlyArray<readonly [string, (s: Record<string, unknown>) => void]> = [
  ['prompts is a string', (s) => (s.prompts = '2')],
  ['ledger.writable missing', (s) => (s.ledger = { error: null, since_ms: null })],
  ['scopes is a list', (s) => (s.scopes = [])],
  ['a pressure is unknown', (s) => (scopeOf(s).pressure = 'panic')],
  ['a ratio is a string', (s) => (scopeOf(s).ratio = '0.5')],
  ['killed is missing', (s) => delete scopeOf(s).killed],
  ['burn is a string', (s) => (scopeOf(s).burn_usd_per_min_1m = '1')],
  ['exhaustion is a string', (s) => (scopeOf(s).exhaustion_ms = '1')],
  ['spent holds a string', (s) => (scopeOf(s).spent = { cost_usd: '1' })],
  ['limit nests twice', (s) => (scopeOf(s).limit = { per_day: { cost_usd: { x: 1 } } })],
];

function scopeOf(s: Record<string, unknown>): Record<string, unknown> {
  const scopes = s.scopes as Record<string, Record<string, unknown>>;
  scopes.global ??= { limit: {}, spent: {}, reserved: {}, pressure: 'ok', ratio: null, killed: false, breaker: 'closed', mode: 'hard', agents: 0, burn_usd_per_min_1m: null, burn_usd_per_min_10m: null, exhaustion_ms: null };
  return scopes.global;
}

describe('readStatusLine, held to the StatusJson schema', () => {
  it('reads every status the schema accepts, to the same line', () => {
    fc.assert(
      fc.property(status, (raw) => {
        const parsed = StatusJson.safeParse(raw);
        expect(parsed.success).toBe(true);
        const read = readStatusLine(raw);
        expect(read.ok).toBe(true);
        if (read.ok && parsed.success) expect(renderStatusLine(read.value)).toBe(renderStatusLine(parsed.data));
      }),
      { numRuns: 500 },
    );
  });

  it.each(breakages)('refuses what the schema refuses in a field the line prints: %s', (_why, breakIt) => {
    fc.assert(
      fc.property(status, (raw) => {
        const broken: Record<string, unknown> = structuredClone(raw);
        breakIt(broken);
        expect(StatusJson.safeParse(broken).success).toBe(false);
        expect(readStatusLine(broken).ok).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('names the field that is wrong', () => {
    expect(readStatusLine({ prompts: 0, scopes: { global: { pressure: 'panic' } } })).toEqual({ ok: false, reason: 'status.scopes.global.limit: expected amounts' });
    expect(readStatusLine(null)).toEqual({ ok: false, reason: 'status: expected an object' });
  });
});
