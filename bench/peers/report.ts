import { NOISY_PCT } from './noise.js';
import type { PeerRow, PeersResult } from './peers.js';
import { f0, f2, table } from '../report.js';

/** The peer comparison as printed by `npm run bench -- --only peers` (and pasted into BENCHMARKS.md). */

const pct = (n: number): string => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : '—');
const cpu = (n: number | null): string => (n === null ? '—' : `${n.toFixed(0)}%`);

const codeList = (c: Readonly<Record<string, number>> | undefined): string =>
  Object.entries(c ?? {})
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');

function race(r: PeerRow): string {
  if (r.fanout === null) return 'no cap';
  const f = r.fanout;
  return `${f.overshootTrials}/${f.trials} (grants ${f.grantsMin}–${f.grantsMax}, max $${f.maxCommittedUsd.toFixed(2)})`;
}

function share(r: PeerRow): string {
  if (r.tokenShare === null) return 'no cap';
  const t = r.tokenShare;
  return `${pct(t.meanShare)} (${pct(t.minShare)}–${pct(t.maxShare)}), ${t.overCapTrials}/${t.trials} over`;
}

export function formatPeers(p: PeersResult): string {
  const s = p.settings;
  const out: string[] = [];
  out.push(
    `Peers: ${String(s.connections)} connections, closed loop, pair = reserve→grant + commit→ack; ${String(s.rounds)} rounds, ${String(s.measureS)} s measured per target, order rotated each round; every target and the load generator in its own process${p.redisVersion === null ? '; redis-server not found: Redis targets left out' : `; redis-server ${p.redisVersion}`}`,
  );
  out.push(
    `race: trials over the cap of ${String(s.fanoutTrials)}, ${String(s.fanoutAgents)} agents racing $${String(s.fanoutCostUsd)} reserves under a $${String(s.fanoutCapUsd)} task cap (${Math.floor(Number(s.fanoutCapUsd) / Number(s.fanoutCostUsd))} fit)`,
  );
  out.push(
    `token cap used: tokens committed / a ${f0(Number(s.tokenCap))}-token task cap, ${String(s.tokenAgents)} agents calling until refused (reserve ${f0(Number(s.tokenInput))} in + ${f0(Number(s.tokenMaxOutput))} max out, use ${String(s.tokenOutputMin)}–${String(s.tokenOutputMax)} out); mean (min–max) of ${String(s.tokenTrials)} trials`,
  );
  out.push(
    table([
      ['target', 'pairs/s', '× echo', 'p50 ms', 'p99 ms', 'p99 × echo', 'server CPU', 'unexpected', 'race: over cap', 'token cap used'],
      ...p.rows.map((r) => [
        r.label,
        f0(r.throughput.pairsPerSec),
        f2(r.pairsRatio),
        f2(r.throughput.p50Ms),
        f2(r.throughput.p99Ms),
        f2(r.p99Ratio),
        r.backendCpuPct === null ? cpu(r.throughput.serverCpuPct) : `${cpu(r.throughput.serverCpuPct)} + ${cpu(r.backendCpuPct)}`,
        String(r.throughput.unexpected),
        race(r),
        share(r),
      ]),
    ]),
  );
  out.push('   server CPU: % of one core in the measured windows; for Redis, the ws process + redis-server');
  const noisy = p.rounds.flatMap((rd, i) => Object.entries(rd).filter(([, v]) => (v?.otherCpuPct ?? 0) > NOISY_PCT).map(([n, v]) => `round ${i + 1} ${n} ${cpu(v?.otherCpuPct ?? null)}`));
  const retried = p.rounds.reduce((sum, rd) => sum + Object.values(rd).reduce((a, v) => a + Math.max(0, (v?.attempts ?? 1) - 1), 0), 0);
  if (retried > 0) out.push(`   ${retried} measurement(s) disturbed by other work on the machine were taken again`);
  if (noisy.length > 0) out.push(`   ⚠ still disturbed by other work (CPU of no bench process, % of a core), kept in the figures: ${noisy.join(', ')}`);
  p.rounds.forEach((rd, i) =>
    out.push(
      `   round ${i + 1}: ${p.rows
        .map((r) => rd[r.name])
        .map((v, j) => (v === undefined ? '' : `${p.rows[j]?.name ?? ''} ${f0(v.pairsPerSec)}/s p99 ${f2(v.p99Ms)}`))
        .join(' · ')}`,
    ),
  );
  for (const r of p.rows) {
    const codes = codeList(r.fanout?.denyCodes);
    const tcodes = codeList(r.tokenShare?.denyCodes);
    if (r.fanout !== null || r.tokenShare !== null)
      out.push(`   ${r.name}: race refusals ${codes || '—'}; token-cap refusals ${tcodes || '—'}, ${r.tokenShare === null ? '—' : r.tokenShare.meanCalls.toFixed(1)} calls per trial`);
    for (const u of r.throughput.unexpectedSamples) out.push(`   unexpected ${r.name} reply: ${u}`);
  }
  out.push(`   peers section ${p.seconds.toFixed(1)} s`);
  return out.join('\n');
}
