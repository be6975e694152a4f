import { Counter, Gauge, type Registry } from 'prom-client';
import type { Effect, EngineEvent } from '../engine/events.js';
import type { Integration, IntegrationContext } from '../integrations.js';
import { payloadOf, shouldSend } from './payload.js';
import { WebhookSender, type WebhookStats } from './webhook.js';

/**
 * Webhook alerts (SPEC §9, `alerts.webhook`). The observer only filters and enqueues; delivery is
 * asynchronous, so no grant waits for a webhook. With a metrics registry, delivery counters are
 * exported beside the daemon's metrics.
 */
export function installWebhookAlerts(ctx: IntegrationContext, registry?: Registry): Integration {
  const engine = ctx.supervisor.engine;
  const webhookUrl = (): string | undefined => engine.config.alerts.webhook;
  const sender = new WebhookSender({ url: webhookUrl, log: ctx.log });
  const observer = (_event: EngineEvent, effects: readonly Effect[]): void => {
    for (const e of effects) {
      if (e.type !== 'alert' || !shouldSend(e.alert) || webhookUrl() === undefined) continue;
      sender.enqueue(payloadOf(e.alert, engine.epoch));
    }
  };
  ctx.supervisor.observers.push(observer);
  if (registry) registerWebhookMetrics(registry, sender);
  return {
    stop() {
      const i = ctx.supervisor.observers.indexOf(observer);
      if (i >= 0) ctx.supervisor.observers.splice(i, 1);
      return sender.stop();
    },
  };
}

function registerWebhookMetrics(registry: Registry, sender: WebhookSender): void {
  const results: ReadonlyArray<keyof WebhookStats> = ['delivered', 'retried', 'failed', 'dropped'];
  new Counter({
    name: 'spendguard_webhook_alerts_total',
    help: 'Webhook alert deliveries: delivered, retried (a failed attempt scheduled again), failed (refused with a 4xx), dropped (queue full)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const result of results) this.inc({ result }, sender.stats[result]);
    },
  });
  new Gauge({
    name: 'spendguard_webhook_queue_length',
    help: 'Webhook alerts waiting or being delivered',
    registers: [registry],
    collect() {
      this.set(sender.backlog);
    },
  });
}
