import Database from 'better-sqlite3';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BenchConn, pool, type Frame } from './client.js';

/**
 * Cap soundness under fan-out: in each trial a fresh task with a $1.00 hard cap, `agents`
 * connections (one agent each) hello into it, then all send a $0.03 reserve in the same tick —
 * a race for the last dollar. Every grant is committed at its full $0.03. A trial overshoots if
 * the committed total exceeds the cap; it has false refusals if fewer than floor(cap / cost) =
 * 33 reserves were granted (each refused one would have fit). The same client code runs the
 * trials against the daemon and against the naive check-then-spend peer.
 */

export interface FanoutParams {
  readonly url: string;
  readonly token: string;
  readonly trials: number;
  readonly agents: number;
  readonly costUsd: number;
  readonly capUsd: number;
  /** Trials run at the same time (each on its own task, with its own connections). */
  readonly parallel: number;
  /** Distinguishes names between runs against the same server. */
  readonly prefix: string;
  /** Time budget: no new trial starts after this many ms (keeps the bench bounded on a busy machine). */
  readonly budgetMs: number;
}

export interface FanoutResult {
  /** Trials run (fewer than requested if the time budget ran out). */
  readonly trials: number;
  readonly requestedTrials: number;
  readonly agents: number;
  readonly expectedGrants: number;
  readonly grantsMin: number;
  readonly grantsMax: number;
  readonly overshootTrials: number;
  readonly maxCommittedUsd: number;
  readonly falseRefusalTrials: number;
  /** Σ over trials of max(0, expected − granted). */
  readonly falseRefusals: number;
  /** Refusal codes seen, with counts (BUDGET_EXCEEDED expected). */
  readonly denyCodes: Readonly<Record<string, number>>;
  readonly seconds: number;
}

interface TrialOutcome {
  readonly grants: number;
  readonly committedMicro: number;
  readonly denyCodes: readonly string[];
}

async function trial(p: FanoutParams, n: number): Promise<TrialOutcome> {
  const task = `${p.prefix}-${n}`;
  // A user per trial, so per-user state (breakers) never carries from one trial to the next.
  const hello = (i: number): { agent: string; session: string; task: string; user: string } => ({ agent: `${task}-a${i}`, session: task, task, user: task });
  const conns = await Promise.all(Array.from({ length: p.agents }, (_, i) => BenchConn.agent(p.url, p.token, hello(i))));
  try {
    // All reserves leave in the same tick: the race for the last dollar.
    const replies = await Promise.all(conns.map((c, i) => c.request({ type: 'reserve', id: `r${i}`, cost_usd: p.costUsd })));
    const acks = await Promise.all(
      replies.map((r, i): Promise<Frame | undefined> =>
        r.type === 'grant'
          ? (conns[i] as BenchConn).request({ type: 'commit', id: `c${i}`, reservation: String(r.reservation), input_tokens: 0, output_tokens: 0, cost_usd: p.costUsd })
          : Promise.resolve(undefined),
      ),
    );
    let committedMicro = 0;
    for (const a of acks) {
      if (a === undefined) continue;
      if (a.type !== 'ack') throw new Error(`commit not acknowledged: ${JSON.stringify(a)}`);
      committedMicro += Math.round((a.cost_usd ?? 0) * 1e6);
    }
    return {
      grants: replies.filter((r) => r.type === 'grant').length,
      committedMicro,
      denyCodes: replies.filter((r) => r.type !== 'grant').map((r) => (r.type === 'deny' ? String(r.code) : `${String(r.type)}:${String(r.code)}`)),
    };
  } finally {
    for (const c of conns) c.close();
  }
}

export async function runFanout(p: FanoutParams, onProgress?: (done: number) => void): Promise<FanoutResult> {
  const start = performance.now();
  let done = 0;
  const outcomes = await pool(
    Array.from({ length: p.trials }, (_, n) => n),
    p.parallel,
    async (n) => {
      const o = await trial(p, n);
      done += 1;
      if (done % 100 === 0) onProgress?.(done);
      return o;
    },
    () => performance.now() - start > p.budgetMs,
  );
  const capMicro = Math.round(p.capUsd * 1e6);
  const expected = Math.floor(capMicro / Math.round(p.costUsd * 1e6));
  const denyCodes: Record<string, number> = {};
  for (const o of outcomes) for (const c of o.denyCodes) denyCodes[c] = (denyCodes[c] ?? 0) + 1;
  const grants = outcomes.map((o) => o.grants);
  return {
    trials: outcomes.length,
    requestedTrials: p.trials,
    agents: p.agents,
    expectedGrants: expected,
    grantsMin: Math.min(...grants),
    grantsMax: Math.max(...grants),
    overshootTrials: outcomes.filter((o) => o.committedMicro > capMicro).length,
    maxCommittedUsd: Math.max(...outcomes.map((o) => o.committedMicro)) / 1e6,
    falseRefusalTrials: outcomes.filter((o) => o.grants < expected).length,
    falseRefusals: outcomes.reduce((s, o) => s + Math.max(0, expected - o.grants), 0),
    denyCodes,
    seconds: (performance.now() - start) / 1000,
  };
}

/** Independent check from the daemon's own ledger: tasks whose recorded usage exceeds the cap. */
export function ledgerOvershoots(stateDir: string, prefix: string, capUsd: number): { tasks: number; overCap: number; maxUsd: number } {
  const db = new Database(join(stateDir, 'ledger.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT task, SUM(cost_nano) AS nano FROM usage WHERE task LIKE ? GROUP BY task').all(`${prefix}-%`) as Array<{ task: string; nano: number }>;
    const cap = Math.round(capUsd * 1e9);
    return {
      tasks: rows.length,
      overCap: rows.filter((r) => Number(r.nano) > cap).length,
      maxUsd: rows.reduce((m, r) => Math.max(m, Number(r.nano)), 0) / 1e9,
    };
  } finally {
    db.close();
  }
}
