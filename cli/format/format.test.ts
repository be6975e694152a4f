import { describe, expect, it } from 'vitest';
import type { ScopeStatus, StatusJson } from '../../shared/protocol/operator.js';
import { parseSince } from '../flags.js';
import { formatPressure } from '../../shared/format/pressure.js';
import { bindingUsage, formatUsage } from '../../shared/format/usage.js';
import { ledgerWarning, renderStatusLine, renderStatusTable } from './status.js';
import { count, duration, usd, usdColumn } from '../../shared/format/units.js';

function scope(overrides: Partial<ScopeStatus>): ScopeStatus {
  return {
    limit: {},
    spent: {},
    reserved: {},
    pressure: 'ok',
    ratio: null,
    killed: false,
    killed_by: null,
    parent: null,
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
  it('prints money in one format: at least 2 decimals, 3 significant digits below $1, thousands grouped', () => {
    expect([usd(0.0325), usd(0.00412), usd(5), usd(12.5), usd(1234.5)]).toEqual(['$0.0325', '$0.00412', '$5.00', '$12.50', '$1,234.50']);
    expect([usd(20), usd(3.42), usd(0.21), usd(0.1), usd(0.0042), usd(0), usd(150.4), usd(0.123456), usd(0.0999)]).toEqual([
      '$20.00',
      '$3.42',
      '$0.21',
      '$0.10',
      '$0.0042',
      '$0.00',
      '$150.40',
      '$0.123',
      '$0.0999',
    ]);
    // No float noise, and 0.9996 is a dollar, not $1.000.
    expect([usd(0.1 + 0.2), usd(0.9996), usd(0.0045000000000000005)]).toEqual(['$0.30', '$1.00', '$0.0045']);
  });

  it('gives a column of amounts one number of decimals, fewer (not under 2) when a width demands it', () => {
    expect(usdColumn([5, 0.0325, null, 1234.5])).toEqual(['$5.0000', '$0.0325', '—', '$1,234.5000']);
    expect(usdColumn([20, 1])).toEqual(['$20.00', '$1.00']);
    expect(usdColumn([5, 0.00412], 7)).toEqual(['$5.0000', '$0.0041']);
    expect(usdColumn([1234.5, 0.0325], 6)).toEqual(['$1,234.50', '$0.03']);
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
    expect(line).toBe('$1.50/$10.00 total · —/min · 1 prompt · ok');
  });

  it('--line words burn and run-out as the TUI header does, and only when there is a projection', () => {
    const busy = status({
      global: scope({ spent: { cost_usd: 1.5 }, limit: { cost_usd: 10 }, burn_usd_per_min_1m: 0.0325123, exhaustion_ms: 900_000 }),
      'task:t': scope({ burn_usd_per_min_1m: 0, exhaustion_ms: 1_000 }),
    });
    expect(renderStatusLine(busy)).toBe('$1.50/$10.00 total · $0.0325/min · runs out in 15m00s: global · 0 prompts · ok');
  });

  it('--line without any scope yet', () => {
    expect(renderStatusLine(status({}))).toBe('$0.00 today · —/min · 0 prompts · ok');
  });

  it('says LEDGER UNAVAILABLE instead of ok while the ledger cannot be written, and first in the table', () => {
    const down = { ...status({ global: scope({ spent: { cost_usd: 1.5 }, limit: { cost_usd: 10 } }) }), ledger: { writable: false, error: 'database or disk is full', since_ms: 0 } };
    expect(renderStatusLine(down)).toBe('$1.50/$10.00 total · —/min · 0 prompts · LEDGER UNAVAILABLE');
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

describe('money columns in the status table', () => {
  it('puts spent, limit and reserved in dollar columns with one number of decimals each, and tokens in their own column', () => {
    const out = renderStatusTable(
      status({
        global: scope({ spent: { cost_usd: 12.5 }, limit: { cost_usd: 100 }, burn_usd_per_min_1m: 0.5 }),
        'task:a': scope({ spent: { cost_usd: 0.0325, tokens: 90_000 }, limit: { cost_usd: 5, tokens: 100_000 }, reserved: { cost_usd: 0.00412 }, burn_usd_per_min_1m: 0.0042 }),
      }),
    ).split('\n');
    const head = out.findIndex((l) => l.startsWith('SCOPE'));
    expect(out[head]).toMatch(/^SCOPE +SPENT +LIMIT +PER +RESERVED +TOKENS +PRESSURE +BURN +EMPTY IN/);
    const global = out.find((l) => l.startsWith('global')) ?? '';
    const task = out.find((l) => l.startsWith('task:a')) ?? '';
    expect(global).toMatch(/^global +\$12\.5000 +\$100\.00 +— +— +0 +ok — +\$0\.50\/min /);
    expect(task).toMatch(/^task:a +\$0\.0325 +\$5\.00 +— +\$0\.00412 +90k\/100k +ok — +\$0\.0042\/min /);
    // Right-aligned with a common number of decimals: the points sit in the same column.
    const point = (line: string, figure: string): number => line.indexOf(figure) + figure.indexOf('.');
    expect(point(global, '$12.5000')).toBe(point(task, '$0.0325'));
    // No dollar figure carries a token count, and no token cell a dollar sign.
    expect(task).not.toMatch(/\$[\d.,]+\/[\d.]+k/);
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

describe('the scope tree in the status table', () => {
  const fleet = status({
    global: scope({ spent: { cost_usd: 9 } }),
    'user:a': scope({ parent: 'global', spent: { cost_usd: 1 } }),
    'user:b': scope({ parent: 'global', spent: { cost_usd: 8 }, burn_usd_per_min_1m: 0.5 }),
    'session:a1': scope({ parent: 'user:a', spent: { cost_usd: 1 }, pressure: 'critical', ratio: 0.95 }),
    'session:b1': scope({ parent: 'user:b', spent: { cost_usd: 3 } }),
    'session:b2': scope({ parent: 'user:b', spent: { cost_usd: 5 }, burn_usd_per_min_1m: 0.4 }),
  });
  const ids = (text: string): string[] => text.split('\n').filter((l) => /^ *(global|user|session)/.test(l)).map((l) => l.replace(/^( *\S+).*$/, '$1'));

  it('nests each scope under its parent, two spaces a level, siblings by name', () => {
    expect(ids(renderStatusTable(fleet))).toEqual(['global', '  user:a', '    session:a1', '  user:b', '    session:b1', '    session:b2']);
  });

  it('sorts siblings by spend, burn or pressure, keeping each under its parent', () => {
    expect(ids(renderStatusTable(fleet, { sort: 'spend', hot: false }))).toEqual(['global', '  user:b', '    session:b2', '    session:b1', '  user:a', '    session:a1']);
    expect(ids(renderStatusTable(fleet, { sort: 'burn', hot: false }))).toEqual(['global', '  user:b', '    session:b2', '    session:b1', '  user:a', '    session:a1']);
    expect(ids(renderStatusTable(fleet, { sort: 'pressure', hot: false }))).toEqual(['global', '  user:a', '    session:a1', '  user:b', '    session:b1', '    session:b2']);
  });

  it('--hot keeps what needs the operator and the scopes above it, and says so when nothing is hot', () => {
    expect(ids(renderStatusTable(fleet, { sort: 'name', hot: true }))).toEqual(['global', '  user:a', '    session:a1']);
    const calm = status({ global: scope({}), 'user:a': scope({ parent: 'global' }) });
    expect(renderStatusTable(calm, { sort: 'name', hot: true })).toContain('nothing is hot');
  });
});
