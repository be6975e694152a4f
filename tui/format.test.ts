import { describe, expect, it } from 'vitest';
import { bar, fit, pressureText, rate, sparkline } from './format.js';

describe('format', () => {
  it('writes pressure as word + glyph + number, exactly as SPEC §5', () => {
    expect(pressureText('ok', 0.42)).toBe('ok 42%');
    expect(pressureText('warning', 0.74)).toBe('! warn 74%');
    expect(pressureText('critical', 0.93)).toBe('!! crit 93%');
    expect(pressureText('exceeded', 1.04)).toBe('X over 104%');
  });

  it('shows — for unknown rates instead of inventing a number', () => {
    expect(rate(null)).toBe('—');
    expect(rate(0.21)).toBe('0.21');
    expect(rate(0)).toBe('0.00');
    expect(rate(0.0325)).toBe('0.0325');
  });

  it('draws bars in eighths, capped at full, blank without a limit', () => {
    expect(bar(0, 5)).toBe('░░░░░');
    expect(bar(0.5, 4)).toBe('██░░');
    expect(bar(0.55, 5)).toBe('██▊░░');
    expect(bar(1.7, 3)).toBe('███');
    expect(bar(null, 3)).toBe('   ');
  });

  it('scales a sparkline to its largest bucket and keeps the newest buckets', () => {
    expect(sparkline([0, 1, 2, 4, 8], 5)).toBe('▁▂▃▅█');
    expect(sparkline([9, 0, 0], 2)).toBe('▁▁');
    expect(sparkline([], 4)).toBe('');
  });

  it('fits text to a width: cut with … or padded', () => {
    expect(fit('session:nightly', 8)).toBe('session…');
    expect(fit('ok', 4)).toBe('ok  ');
    expect(fit('$1', 4, 'right')).toBe('  $1');
  });
});
