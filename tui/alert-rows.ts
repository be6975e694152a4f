import type { AlertJson } from '../shared/protocol/operator.js';

/** One line of the alert log: an alert, or a flood of like ones told once with a count. */
export interface AlertRow {
  /** The newest alert of the group: its time, level and wording are what the line shows. */
  readonly alert: AlertJson;
  readonly count: number;
}

/** Like alerts this far apart are separate events, not one flood. */
const FLOOD_WINDOW_MS = 60_000;

const SCOPE_ID = /\b(global|user|session|task|agent):[^\s,;:()]+/g;
const NUMBER = /\d+(?:[.,]\d+)*/g;

/** What a message says with its scope ids and figures taken out: ten agents at 100 % say the same. */
export function messageShape(a: AlertJson): string {
  return `${a.level}/${a.kind}/${a.message.replace(SCOPE_ID, '<scope>').replace(NUMBER, '#')}`;
}

function second(a: AlertJson): number {
  return Math.floor(a.at_ms / 1_000);
}

/**
 * The alert log as lines, oldest first (issue 13): a warning for a scope that a critical alert
 * for the same scope in the same second supersedes is dropped, and like alerts (same level, kind
 * and message shape) within a minute of the first become one line with a count. Pure, bounded
 * by the alert list (the feed keeps at most MAX_ALERTS).
 */
export function alertRows(alerts: readonly AlertJson[]): AlertRow[] {
  const critical = new Set(alerts.filter((a) => a.level === 'critical').map((a) => `${a.scope}@${second(a)}`));
  const kept = alerts.filter((a) => a.level !== 'warning' || !critical.has(`${a.scope}@${second(a)}`));
  const groups: { alert: AlertJson; count: number; readonly first_ms: number }[] = [];
  const latest = new Map<string, (typeof groups)[number]>();
  for (const a of kept) {
    const shape = messageShape(a);
    const group = latest.get(shape);
    if (group && a.at_ms - group.first_ms <= FLOOD_WINDOW_MS) {
      group.alert = a;
      group.count += 1;
      continue;
    }
    const fresh = { alert: a, count: 1, first_ms: a.at_ms };
    groups.push(fresh);
    latest.set(shape, fresh);
  }
  // A group stands where its newest alert is, so the log stays in time order.
  groups.sort((x, y) => x.alert.at_ms - y.alert.at_ms || x.alert.seq - y.alert.seq);
  return groups.map(({ alert, count }) => ({ alert, count }));
}
