import { Histogram, type Registry } from 'prom-client';
import type { Integration, IntegrationContext } from '../integrations.js';
import { guarded } from '../server/log.js';
import { ProviderProxy } from './proxy.js';

const SWEEP_MS = 10_000;

/** The provider proxy on the daemon's port, with a histogram of the latency it adds. */
export function installProxy(ctx: IntegrationContext, registry: Registry): Integration & { readonly proxy: ProviderProxy } {
  const overhead = new Histogram({
    name: 'spendguard_proxy_overhead_seconds',
    help: 'Time the provider proxy adds before a call leaves for the upstream (identity, reserve, clamp), backpressure delay excluded',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const proxy = new ProviderProxy(ctx.server, ctx.supervisor, ctx.tokens, ctx.log, { observeOverhead: (s) => overhead.observe(s) });
  ctx.server.routes.push((req, res) => proxy.route(req, res));
  const sweeper = setInterval(guarded(ctx.log, 'proxy agent sweep', () => proxy.agents.sweep()), SWEEP_MS);
  sweeper.unref();
  return {
    proxy,
    stop() {
      clearInterval(sweeper);
      proxy.agents.stop();
    },
  };
}
