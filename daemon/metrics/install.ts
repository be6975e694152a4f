import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Integration, IntegrationContext } from '../integrations.js';
import { ReserveLatency } from './latency.js';
import { metricsObserver, type Tallies } from './observer.js';
import { buildRegistry } from './registry.js';
import { KeyCounts, UsageTally } from './tally.js';

export interface MetricsIntegration extends Integration {
  readonly registry: Registry;
}

/** `GET /metrics` (SPEC §9) in the Prometheus text format, from the daemon's own registry. */
export function installMetrics(ctx: IntegrationContext): MetricsIntegration {
  const tallies: Tallies = { usage: new UsageTally(), denials: new KeyCounts(), exceeded: new KeyCounts(), alerts: new KeyCounts(), grants: 0 };
  let ledgerRows = 0;
  const latency = new ReserveLatency((s) => histograms.reserve.observe(s));
  const { registry, histograms } = buildRegistry({
    engine: ctx.supervisor.engine,
    tallies,
    ledgerRows: () => ledgerRows,
    unsampledReserves: () => latency.unsampled,
    ledgerWriteFailures: () => ctx.supervisor.writeFailuresTotal,
    settlesRefused: () => ctx.supervisor.settlesRefusedTotal,
    stages: ctx.supervisor.stages,
    held: () => ctx.supervisor.held,
  });
  let stopped = false;

  const observer = metricsObserver(tallies, latency, (s) => histograms.delay.observe(s));
  ctx.supervisor.observers.push(observer);
  ctx.supervisor.flushObservers.push((durationMs, rows) => {
    if (stopped) return;
    ledgerRows += rows;
    histograms.batch.observe(durationMs / 1000);
    latency.flushed();
  });

  ctx.server.routes.push((req: IncomingMessage, res: ServerResponse): boolean => {
    if (stopped || (req.url ?? '/').split('?')[0] !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return true;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (e: unknown) => {
        ctx.log('error', 'metrics scrape failed', { error: e instanceof Error ? e.message : String(e) });
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics collection failed\n');
      },
    );
    return true;
  });

  return {
    registry,
    stop() {
      stopped = true;
      const i = ctx.supervisor.observers.indexOf(observer);
      if (i >= 0) ctx.supervisor.observers.splice(i, 1);
    },
  };
}
