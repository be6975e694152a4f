import type { Alert } from '../engine/events.js';

/**
 * Alerts worth a chat message (SPEC §9): threshold crossings, kills, breaker trips, overshoots,
 * rejected configs, and the runaway detectors (loop, fan-out, context amplification), which
 * trip like breakers. Not sent: `info` alerts (config applied, resume, operator grants — the
 * operator did those), `prompt` (answered in the TUI within its timeout; a chat ping cannot
 * answer it) and `pricing`.
 */
const SENT: ReadonlySet<Alert['kind']> = new Set<Alert['kind']>(['threshold', 'kill', 'breaker', 'overshoot', 'config', 'loop', 'fanout', 'amplification', 'rate', 'tool', 'wall_time']);

export function shouldSend(alert: Alert): boolean {
  return alert.level !== 'info' && SENT.has(alert.kind);
}

export interface WebhookPayload {
  /** Slack-compatible message. */
  readonly text: string;
  /** `<boot epoch>-<alert seq>`: unique per daemon state dir, for receivers that deduplicate retries. */
  readonly id: string;
  readonly level: Alert['level'];
  readonly kind: Alert['kind'];
  readonly scope: string;
  readonly message: string;
  /** ISO 8601. */
  readonly at: string;
}

/** Slack reads `<…>` as links and mentions; alert messages can carry client-chosen strings (tool names). */
function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function payloadOf(alert: Alert, epoch: number): WebhookPayload {
  const icon = alert.level === 'critical' ? ':rotating_light:' : ':warning:';
  return {
    text: `${icon} spendguard ${alert.level} (${alert.kind}) ${slackEscape(alert.message)}`,
    id: `${epoch}-${alert.seq}`,
    level: alert.level,
    kind: alert.kind,
    scope: alert.scope,
    message: alert.message,
    at: new Date(alert.at_ms).toISOString(),
  };
}
