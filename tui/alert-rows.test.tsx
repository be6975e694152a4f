import { cleanup } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertJson } from '../shared/protocol/operator.js';
import { alertRows } from './alert-rows.js';
import { Alerts } from './components/Alerts.js';
import { layout } from './layout.js';
import { plain, renderSized, replay, themed } from './test-support/fixtures.js';

afterEach(() => cleanup());

let seq = 0;
function alert(at_ms: number, level: AlertJson['level'], kind: string, scope: string, message: string): AlertJson {
  seq += 1;
  return { seq, at_ms, level, kind, scope, message };
}

const T = 1_700_000_000_000;

describe('issue 13: the alert log says each thing once', () => {
  it('a warning and a critical alert for the same scope in the same second collapse into the critical one', () => {
    const rows = alertRows([
      alert(T + 100, 'warning', 'pressure', 'task:t', 'task:t warning: 80% of its limit used or reserved'),
      alert(T + 400, 'critical', 'pressure', 'task:t', 'task:t critical: 100% of its limit used or reserved'),
      // Another scope, or the next second: kept.
      alert(T + 500, 'warning', 'pressure', 'task:u', 'task:u warning: 80% of its limit used or reserved'),
      alert(T + 1_500, 'warning', 'pressure', 'task:t', 'task:t warning: 80% of its limit used or reserved'),
    ]);
    // Kept, and the two like warnings are one line with a count.
    expect(rows.map((r) => [r.alert.level, r.alert.scope, r.count])).toEqual([
      ['critical', 'task:t', 1],
      ['warning', 'task:t', 2],
    ]);
  });

  it('ten sub-agents hitting 100 % are one line with a count, in the TUI too', () => {
    const flood = Array.from({ length: 10 }, (_, i) => alert(T + i * 2_000, 'critical', 'pressure', `agent:sub-${i}`, `agent:sub-${i} critical: 100% of its limit used or reserved`));
    const other = alert(T + 5_000, 'warning', 'approval', 'session:s', 'approval needed: agent:x asks $0.50');
    const rows = alertRows([...flood.slice(0, 3), other, ...flood.slice(3)]);
    expect(rows.map((r) => [r.alert.scope, r.count])).toEqual([
      ['session:s', 1],
      ['agent:sub-9', 10],
    ]);
    // Like alerts far apart in time are separate events.
    expect(alertRows([flood[0] as AlertJson, { ...(flood[1] as AlertJson), at_ms: T + 120_000 }]).map((r) => r.count)).toEqual([1, 1]);

    const state = { ...replay(), alerts: [...flood, other].sort((a, b) => a.at_ms - b.at_ms) };
    const size = { columns: 100, rows: 30 };
    const frame = plain(renderSized(themed(<Alerts state={state} layout={layout(size, { prompts: 0, scopes: 1, alerts: 11 })} />), 100, 30).lastFrame());
    expect(frame).toContain('Recent alerts (2)');
    expect(frame).toMatch(/!! crit +×10 agent:sub-9 critical: 100% of its limit/);
    expect(frame.match(/agent:sub-/g)).toHaveLength(1);
  });
});
