import { installWebhookAlerts } from './alerts/install.js';
import type { Config } from './config/schema.js';
import type { Engine } from './engine/engine.js';
import { installMetrics } from './metrics/install.js';
import { installProxy } from './proxy/install.js';
import { installHttpApi } from './server/http-api.js';
import type { Logger } from './server/log.js';
import type { SpendguardServer } from './server/server.js';
import type { Supervisor } from './server/supervisor.js';
import type { Tokens } from './server/tokens.js';

export interface IntegrationContext {
  readonly server: SpendguardServer;
  readonly supervisor: Supervisor;
  readonly engine: Engine;
  readonly config: Config;
  readonly stateDir: string;
  readonly tokens: Tokens;
  readonly log: Logger;
}

/** Something installed beside the core (metrics, webhooks, the HTTP API); stopped on shutdown. */
export interface Integration {
  stop(): Promise<void> | void;
}

/**
 * Each integration adds its HTTP routes, supervisor observers or alert sinks here. One line
 * per integration keeps the daemon's start-up readable.
 */
export function installIntegrations(ctx: IntegrationContext): Integration[] {
  const installed: Integration[] = [];
  const metrics = installMetrics(ctx);
  installed.push(metrics);
  installed.push(installWebhookAlerts(ctx, metrics.registry));
  installed.push(installHttpApi(ctx));
  installed.push(installProxy(ctx, metrics.registry));
  return installed;
}
