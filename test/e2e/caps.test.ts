import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawAgent, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

const CONFIG = `
limits:
  task: { cost_usd: 1.00, mode: hard }
scopes:
  "task:tokens": { cost_usd: 0.10, mode: hard }
pricing:
  models:
    test-model: { input: 1.0, output: 10.0 }
# 50 agents of one user race for the last dollar: a run of denials is expected here, not a runaway.
breakers:
  denials: { user_threshold: 100 }
`;

let daemon: DaemonProcess;

beforeAll(async () => {
  const dir = tempStateDir();
  daemon = await startDaemonProcess({ stateDir: dir, config: writeConfig(dir, CONFIG) });
});

afterAll(async () => {
  await daemon?.stop();
});

function ledgerCostNano(task: string): number {
  const db = new Database(join(daemon.stateDir, 'ledger.db'), { readonly: true });
  try {
    return Number(db.prepare('SELECT COALESCE(SUM(cost_nano), 0) FROM usage WHERE task = ?').pluck().get(task));
  } finally {
    db.close();
  }
}

describe('cap soundness over real sockets', () => {
  it('50 agents racing $0.03 reservations under a $1.00 task cap: 33 granted, never more than $1.00, in 20 trials', async () => {
    for (let trial = 0; trial < 20; trial++) {
      const task = `race-${trial}`;
      const agents = await Promise.all(
        Array.from({ length: 50 }, (_, i) => RawAgent.hello(daemon.url, daemon.agentToken, { agent: `t${trial}-a${i}`, session: `race-s${trial}`, task })),
      );
      const replies = await Promise.all(agents.map((a, i) => a.request({ type: 'reserve', id: `r${i}`, cost_usd: 0.03 })));
      const grants = replies.filter((r) => r.type === 'grant');
      const denies = replies.filter((r) => r.type === 'deny');
      expect(grants.length, `trial ${trial}`).toBe(33);
      expect(denies.every((d) => d.code === 'BUDGET_EXCEEDED' && d.scope === `task:${task}`)).toBe(true);
      await Promise.all(
        replies.map((r, i) =>
          r.type === 'grant'
            ? (agents[i] as RawAgent).request({ type: 'commit', id: `c${i}`, reservation: r.reservation as string, input_tokens: 0, output_tokens: 0, cost_usd: 0.03 })
            : Promise.resolve(r),
        ),
      );
      // Committed spend never exceeds the cap; a last attempt is refused.
      expect(ledgerCostNano(task)).toBe(33 * 30_000_000);
      const last = await (agents[0] as RawAgent).request({ type: 'reserve', id: 'last', cost_usd: 0.03 });
      expect(last).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
      for (const a of agents) a.close();
    }
  }, 120_000);

  it('an agent honouring max_output_tokens never overshoots a token-priced cap and uses at least 80% of it', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'tok-1', session: 'tok-s', task: 'tokens' });
    let n = 0;
    for (;;) {
      const g = await a.request({ type: 'reserve', id: `r${n}`, model: 'test-model', input_tokens: 500, max_output_tokens: 2000 });
      if (g.type !== 'grant') {
        expect(g).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
        break;
      }
      // The worst honest agent: uses every output token it was allowed.
      const ack = await a.request({ type: 'commit', id: `c${n}`, reservation: g.reservation as string, model: 'test-model', input_tokens: 500, output_tokens: g.max_output_tokens as number });
      expect(ack).toMatchObject({ type: 'ack', duplicate: false, over: false });
      n += 1;
      expect(n).toBeLessThan(100);
    }
    const spent = ledgerCostNano('tokens');
    expect(spent).toBeLessThanOrEqual(100_000_000);
    expect(spent).toBeGreaterThanOrEqual(80_000_000);
    a.close();
  });
});
