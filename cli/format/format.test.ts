import { describe, expect, it } from 'vitest';
import type { ScopeStatus, StatusJson } from '../../shared/protocol/operator.js';
import { parseSince } from '../flags.js';
import { formatPressure } from '../../shared/format/pressure.js';
import { bindingUsage, formatUsage } from '../../shared/format/usage.js';
import { ledgerWarning, renderStatusLine, renderStatusTable } from './status.js';
import { count, duration, usd } from '../../shared/format/units.js';

function scope(overrides: Partial<ScopeStatus>): ScopeStatus {
  return {
    limit: {},
    spent: {},
    reserved: {},
    pressure: 'ok',
    ratio: null,
    killed: false,
    killed_by: null,
    breaker: 'closed',
    mode: 'hard',
    agents: 0,
    burn_usd_per_min_1m: null,
    burn_usd_per_min_10m: null,
    burn_tokens_per_min_1m: null,
    burn_tokens_per_min_10m: null,
    exhaustion_ms: null,
    ...overrides,
  };
}

function status(scopes: Record<string, ScopeStatus>, prompts = 0): StatusJson {
  return { agents: 1, prompts, scopes, config: { path: null, loaded_at: 0, error: null }, ledger: { writable: true, error: null, since_ms: null } };
}

describe('formatPressure', () => {
  it('is word + glyph + number, as SPEC §5 writes it', () => {
    expect(formatPressure('ok', 0.42)).toBe('ok 42%');
    expect(formatPressure('warning', 0.74)).toBe('! warn 74%');
    expect(formatPressure('critical', 0.93)).toBe('!! crit 93%');
    expect(formatPressure('exceeded', 1.04)).toBe('X over 104%');
    // Exactly at the limit nothing was overspent: "over" is for real overshoot.
    expect(formatPressure('exceeded', 1)).toBe('■ at limit 100%');
  });

  it('never rounds up to a full limit, and says — without one', () => {
    expect(formatPressure('critical', 0.996)).toBe('!! crit 99%');
    expect(formatPressure('ok', null)).toBe('ok —');
  });
});

describe('units', () => {
  it('prints dollars without float noise or needless zeros', () => {
    expect([usd(20), usd(3.42), usd(0.21), usd(0.1), usd(0.0042), usd(0), usd(150.4)]).toEqual([
      '$20',
      '$3.42',
      '$0.21',
      '$0.10',
      '$0.0042',
      '$0',
      '$150',
    ]);
  });

  it('abbreviates counts and durations', () => {
    expect([count(950), count(12_000), count(1_500_000)]).toEqual(['950', '12k', '1.5M']);
    expect([duration(42_000), duration(185_000), duration(7_620_000), duration(-5)]).toEqual(['42s', '3m05s', '2h07m', '0s']);
  });
});

describe('status', () => {
  it('shows the limit closest to running out', () => {
    const s = scope({ limit: { cost_usd: 5, tokens: 100_000 }, spent: { cost_usd: 1, tokens: 90_000 } });
    expect(formatUsage(bindingUsage(s))).toBe('90k/100k tok');
    expect(formatUsage(bindingUsage(scope({ spent: { cost_usd: 0.8 } })))).toBe('$0.80/—');
  });

  it('--line falls back to total spend and — when burn is unknown', () => {
    const line = renderStatusLine(status({ global: scope({ spent: { cost_usd: 1.5 }, limit: { cost_usd: 10 } }) }, 1));
    expect(line).toBe('$1.50/$10 total · —/min · 1 prompt · ok');
  });

  it('--line without any scope yet', () => {
    expect(renderStatusLine(status({}))).toBe('$0 today · —/min · 0 prompts · ok');
  });

  it('says LEDGER UNAVAILABLE instead of ok while the ledger cannot be written, and first in the table', () => {
    const down = { ...status({ global: scope({ spent: { cost_usd: 1.5 }, limit: { cost_usd: 10 } }) }), ledger: { writable: false, error: 'database or disk is full', since_ms: 0 } };
    expect(renderStatusLine(down)).toBe('$1.50/$10 total · —/min · 0 prompts · LEDGER UNAVAILABLE');
    const warned = { ...down, scopes: { global: scope({ spent: { cost_usd: 9.5 }, limit: { cost_usd: 10 }, pressure: 'critical', ratio: 0.95 }) } };
    expect(renderStatusLine(warned)).toMatch(/ global · LEDGER UNAVAILABLE$/);
    const table = renderStatusTable(down);
    expect(table.split('\n')[0]).toMatch(/^✖ LEDGER UNAVAILABLE since .*: database or disk is full — reserves and delegations are denied UNAVAILABLE/);
    expect(ledgerWarning(status({}))).toBeNull();
  });
});

describe('parseSince', () => {
  const now = Date.UTC(2025, 5, 15, 12);
  it('takes durations back from now and dates as local midnight', () => {
    expect(parseSince('24h', now)).toBe(now - 86_400_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('2025-03-01', now)).toBe(new Date(2025, 2, 1).getTime());
    expect(parseSince('2025-03-01T10:00:00Z', now)).toBe(Date.UTC(2025, 2, 1, 10));
  });

  it.each(['yesterday', '24', '-1h', '2025-13-01', '2025-02-30'])('rejects %j', (text) => {
    expect(() => parseSince(text, now)).toThrow(/duration like 24h/);
  });
});

describe('inherited kills in the status table', () => {
  it('says KILLED on the killed scope and KILLED (by …) under it', () => {
    const out = renderStatusTable(
      status({
        'task:t': scope({ killed: true, killed_by: 'task:t' }),
        'agent:bob': scope({ killed: false, killed_by: 'task:t' }),
        'task:u': scope({}),
      }),
    ).split('\n');
    expect(out.find((l) => l.startsWith('agent:bob'))).toContain('KILLED (by task:t)');
    expect(out.find((l) => l.startsWith('task:t'))).toMatch(/KILLED(?! \()/);
    expect(out.find((l) => l.startsWith('task:u'))).not.toContain('KILLED');
  });
});
