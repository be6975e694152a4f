import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { PREFIX, registerCounters, type CounterSources } from './counters.js';
import { registerGauges } from './gauges.js';

export interface Histograms {
  readonly delay: Histogram;
  readonly reserve: Histogram;
  readonly batch: Histogram;
}

const SECONDS_FAST = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * One registry per daemon (never prom-client's global one, so two daemons in one process — tests —
 * do not collide). Hot-path numbers live in the tallies and are copied in when scraped.
 */
export function buildRegistry(src: CounterSources & { readonly held: () => { rows: number; frames: number } }): { registry: Registry; histograms: Histograms } {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  // Gauges named `_total` fail `promtool check metrics`; the per-type `nodejs_active_*` gauges stay.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(`${PREFIX}${name}`);
  registerCounters(registers, src);
  registerGauges(registers, src.engine, src.held);
  const histograms: Histograms = {
    delay: new Histogram({
      name: `${PREFIX}backpressure_delay_seconds`,
      help: 'delay_ms carried by grants (the client waits it before calling the provider)',
      buckets: [0, 0.05, 0.1, 0.3, 0.75, 1.5, 3, 5, 10],
      registers,
    }),
    reserve: new Histogram({
      name: `${PREFIX}reserve_latency_seconds`,
      help: "From the engine's decision on a reserve to the release of its reply after its batch's group commit",
      buckets: SECONDS_FAST,
      registers,
    }),
    batch: new Histogram({
      name: `${PREFIX}ledger_batch_duration_seconds`,
      help: 'Duration of one group-commit ledger transaction',
      buckets: SECONDS_FAST,
      registers,
    }),
  };
  return { registry, histograms };
}
