import { performance } from 'node:perf_hooks';
import { BenchConn } from '../client.js';

/**
 * The share of a token-priced cap used. Each trial is a fresh task with a cap of `capTokens`
 * tokens and `agents` agents in it, each a closed loop of model calls: reserve
 * {input_tokens, max_output_tokens} → on a grant, "call the model" with max_tokens set to the
 * grant's `max_output_tokens` (the ask when the grant names none) and commit
 * {input_tokens, output_tokens}, the output drawn from a fixed sequence in
 * [outputMin, outputMax], cut to that max_tokens. An agent stops at its first refusal. The share
 * is the tokens committed over the cap, once every agent has stopped: below 100 % the rest of the
 * cap was refused although it was never used; above 100 % the cap was overshot.
 */

export interface TokenShareParams {
  readonly url: string;
  readonly token: string;
  readonly trials: number;
  readonly agents: number;
  readonly capTokens: number;
  readonly inputTokens: number;
  readonly maxOutputTokens: number;
  readonly outputMin: number;
  readonly outputMax: number;
  readonly model: string;
  readonly prefix: string;
}

export interface TokenShareResult {
  readonly trials: number;
  /** Committed tokens / cap: mean, lowest and highest over the trials. */
  readonly meanShare: number;
  readonly minShare: number;
  readonly maxShare: number;
  readonly overCapTrials: number;
  /** Calls granted and committed per trial, mean. */
  readonly meanCalls: number;
  readonly denyCodes: Readonly<Record<string, number>>;
  readonly seconds: number;
}

/** A runaway guard: no trial commits more than this many times the cap. */
const MAX_CAP_MULTIPLE = 3;

/** The output a call "uses": a fixed spread over [min, max], different per agent and call. */
const plannedOutput = (p: TokenShareParams, agent: number, call: number): number => p.outputMin + ((agent * 7_919 + call * 104_729) % (p.outputMax - p.outputMin + 1));

async function trial(p: TokenShareParams, n: number): Promise<{ used: number; calls: number; denies: string[] }> {
  const task = `${p.prefix}-${n}`;
  const conns = await Promise.all(Array.from({ length: p.agents }, (_, i) => BenchConn.agent(p.url, p.token, { agent: `${task}-a${i}`, session: task, task, user: task })));
  let used = 0;
  let calls = 0;
  const denies: string[] = [];
  try {
    await Promise.all(
      conns.map(async (c, i) => {
        for (let k = 0; used <= p.capTokens * MAX_CAP_MULTIPLE; k++) {
          const g = await c.request({ type: 'reserve', id: `r${k}`, model: p.model, input_tokens: p.inputTokens, max_output_tokens: p.maxOutputTokens });
          if (g.type !== 'grant') {
            denies.push(g.type === 'deny' ? String(g.code) : `${String(g.type)}:${String(g.code)}`);
            return;
          }
          const maxTokens = typeof g.max_output_tokens === 'number' ? g.max_output_tokens : p.maxOutputTokens;
          const output = Math.min(maxTokens, plannedOutput(p, i, k));
          const ack = await c.request({ type: 'commit', id: `c${k}`, reservation: String(g.reservation), model: p.model, input_tokens: p.inputTokens, output_tokens: output });
          if (ack.type !== 'ack') throw new Error(`commit not acknowledged: ${JSON.stringify(ack)}`);
          used += p.inputTokens + output;
          calls += 1;
        }
      }),
    );
  } finally {
    for (const c of conns) c.close();
  }
  return { used, calls, denies };
}

export async function runTokenShare(p: TokenShareParams): Promise<TokenShareResult> {
  const start = performance.now();
  const outcomes: Array<Awaited<ReturnType<typeof trial>>> = [];
  for (let n = 0; n < p.trials; n++) outcomes.push(await trial(p, n));
  const shares = outcomes.map((o) => o.used / p.capTokens);
  const denyCodes: Record<string, number> = {};
  for (const o of outcomes) for (const d of o.denies) denyCodes[d] = (denyCodes[d] ?? 0) + 1;
  return {
    trials: outcomes.length,
    meanShare: shares.reduce((a, b) => a + b, 0) / shares.length,
    minShare: Math.min(...shares),
    maxShare: Math.max(...shares),
    overCapTrials: outcomes.filter((o) => o.used > p.capTokens).length,
    meanCalls: outcomes.reduce((s, o) => s + o.calls, 0) / outcomes.length,
    denyCodes,
    seconds: (performance.now() - start) / 1000,
  };
}
