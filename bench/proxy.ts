import { performance } from 'node:perf_hooks';
import { FakeProvider } from '../shared/providers/testing/fake-provider.js';
import { startBenchDaemon } from './daemon.js';

/**
 * The provider proxy's own latency: the same chat completion sent straight to a local fake
 * upstream and through the daemon's proxy (reserve, clamp, forward, commit), one at a time,
 * alternating. The proxy's added latency is the difference of the two (goal: p50 under 1 ms).
 */

export interface ProxyResult {
  readonly calls: number;
  readonly directP50Ms: number;
  readonly directP99Ms: number;
  readonly proxyP50Ms: number;
  readonly proxyP99Ms: number;
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
  /** Mean time the proxy spends before the call leaves (its histogram), the rest being the hop and the commit. */
  readonly beforeForwardMeanMs: number;
  readonly goalP50Ms: number;
  readonly ok: boolean;
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

export async function runProxyLatency(opts: { calls: number; goalP50Ms: number }): Promise<ProxyResult> {
  const provider = await FakeProvider.start();
  provider.reply = () => ({ id: `chatcmpl-${Math.random().toString(36).slice(2)}`, text: 'The budget held.', usage: { input: 40, output: 5 } });
  const d = await startBenchDaemon(`limits:\n  task: { cost_usd: 1000000, mode: hard }\nproxy:\n  upstreams:\n    fake: { url: ${provider.url}, format: openai }\n`);
  try {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'How did the fan-out go?' }], max_tokens: 64 });
    const origin = d.url.replace('ws://', 'http://');
    const send = async (url: string, headers: Record<string, string>): Promise<number> => {
      const t0 = performance.now();
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench', ...headers }, body });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
      return performance.now() - t0;
    };
    const direct: number[] = [];
    const proxied: number[] = [];
    const place = { 'x-spendguard-token': d.agentToken, 'x-spendguard-session': 'bench', 'x-spendguard-task': 'bench-proxy', 'x-spendguard-agent': 'bench' };
    for (let i = 0; i < opts.calls + 50; i++) {
      const a = await send(`${provider.url}/v1/chat/completions`, {});
      const b = await send(`${origin}/proxy/fake/v1/chat/completions`, place);
      // The first 50 pairs warm both paths up (JIT, connection pools).
      if (i >= 50) {
        direct.push(a);
        proxied.push(b);
      }
    }
    // The proxy's own part before the call leaves (identity, reserve, clamp), from its histogram.
    const metrics = await (await fetch(`${origin}/metrics`)).text();
    const sum = Number(/^spendguard_proxy_overhead_seconds_sum (\S+)$/m.exec(metrics)?.[1]);
    const count = Number(/^spendguard_proxy_overhead_seconds_count (\S+)$/m.exec(metrics)?.[1]);
    const added = proxied.map((p, i) => p - (direct[i] ?? 0));
    const addedP50Ms = quantile(proxied, 0.5) - quantile(direct, 0.5);
    return {
      calls: opts.calls,
      directP50Ms: quantile(direct, 0.5),
      directP99Ms: quantile(direct, 0.99),
      proxyP50Ms: quantile(proxied, 0.5),
      proxyP99Ms: quantile(proxied, 0.99),
      addedP50Ms,
      addedP99Ms: quantile(added, 0.99),
      beforeForwardMeanMs: count > 0 ? (sum / count) * 1000 : Number.NaN,
      goalP50Ms: opts.goalP50Ms,
      ok: addedP50Ms < opts.goalP50Ms,
    };
  } finally {
    await d.stop();
    await provider.close();
  }
}

export function formatProxy(p: ProxyResult): string {
  const f = (n: number): string => n.toFixed(2);
  return [
    `provider proxy, ${p.calls} chat completions one at a time (direct to a local fake upstream vs through /proxy)`,
    `  direct p50 ${f(p.directP50Ms)} ms, p99 ${f(p.directP99Ms)} ms; proxied p50 ${f(p.proxyP50Ms)} ms, p99 ${f(p.proxyP99Ms)} ms`,
    `  added p50 ${f(p.addedP50Ms)} ms (goal < ${p.goalP50Ms} ms): ${p.ok ? 'PASS' : 'FAIL'}; added p99 ${f(p.addedP99Ms)} ms; before the call leaves: mean ${f(p.beforeForwardMeanMs)} ms`,
  ].join('\n');
}
