import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { EngineDriver } from '../daemon/engine/testing.js';
import { decodeAgentFrame } from '../daemon/server/frames.js';

/**
 * The engine alone, in this process, with an injected clock: 50 agents, each a reserve → commit
 * pair as the throughput bench sends them, through frame decoding and `Engine.handle` — no
 * sockets, no SQLite, no other process. µs per pair for each, so engine changes can be measured
 * without the machine's noise. `node --import tsx bench/engine-micro.ts [pairs]`.
 */
const PAIRS = Number(process.argv[2] ?? 200_000);
const config: unknown = parse(`
limits:
  global:  { cost_usd: 1000000, mode: hard }
  user:    { cost_usd: 1000000, mode: hard }
  session: { cost_usd: 1000000, mode: hard }
  task:    { cost_usd: 1000000, mode: hard }
`);
const d = new EngineDriver(config, { now: Date.now() });
const conns = Array.from({ length: 50 }, (_, i) => d.connect({ agent: `a${i}`, session: `s${i}`, task: `t${i}` }));

function run(pairs: number): { engineUs: number; parseUs: number } {
  let engineMs = 0;
  let parseMs = 0;
  for (let n = 0; n < pairs; n++) {
    const conn = conns[n % conns.length] as number;
    d.now += 0.02;
    let t = performance.now();
    const r = decodeAgentFrame(Buffer.from(`{"type":"reserve","id":"r${n}","cost_usd":0.001}`), false);
    parseMs += performance.now() - t;
    if (!r.ok || r.frame.type !== 'reserve') throw new Error('bad frame');
    t = performance.now();
    const grant = d.request(conn, r.frame);
    engineMs += performance.now() - t;
    if (grant.type !== 'grant') throw new Error(`expected a grant: ${JSON.stringify(grant)}`);
    t = performance.now();
    const c = decodeAgentFrame(Buffer.from(`{"type":"commit","id":"c${n}","reservation":"${grant.reservation}","input_tokens":10,"output_tokens":5,"cost_usd":0.0005}`), false);
    parseMs += performance.now() - t;
    if (!c.ok || c.frame.type !== 'commit') throw new Error('bad frame');
    t = performance.now();
    d.request(conn, c.frame);
    engineMs += performance.now() - t;
    // The driver keeps every row and reply; a real shell hands them on.
    if (n % 1_000 === 0) {
      d.ledger.length = 0;
      d.inbox.clear();
    }
  }
  return { engineUs: (engineMs * 1_000) / pairs, parseUs: (parseMs * 1_000) / pairs };
}

run(Math.min(20_000, PAIRS));
const r = run(PAIRS);
console.log(`engine ${r.engineUs.toFixed(2)} µs/pair · parse+validate ${r.parseUs.toFixed(2)} µs/pair (${PAIRS} pairs, 50 agents)`);
