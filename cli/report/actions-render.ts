import { renderTable } from '../format/table.js';
import type { ActionReportRow } from './actions-row.js';
import { csvField } from './csv.js';

/** How `report --actions` prints the operator's audit trail: a table (local time), CSV or JSON (ISO UTC). */

export const DEFAULT_ACTIONS_LIMIT = 1000;
export const MAX_ACTIONS_LIMIT = 1_000_000;

export function renderActionsTable(rows: readonly ActionReportRow[]): string {
  if (rows.length === 0) return 'no operator actions recorded in this period\n';
  return renderTable(
    ['TIME', 'KIND', 'SCOPE', 'ACTOR', 'DETAIL'],
    rows.map((r) => [localTime(Date.parse(r.at)), r.kind, r.scope, r.actor, oneLine(r.detail)]),
  );
}

export function renderActionsCsv(rows: readonly ActionReportRow[]): string {
  const lines = rows.map((r) => [String(r.seq), r.at, r.kind, r.scope, r.actor, r.detail].map(csvField).join(','));
  return ['seq,at,kind,scope,actor,detail', ...lines].join('\n') + '\n';
}

export function renderActionsJson(rows: readonly ActionReportRow[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}

/** Said (on stderr) when `--limit` left older actions out; null when every match is listed. */
export function cutNote(shown: number, total: number): string | null {
  if (total <= shown) return null;
  return `note: showing the newest ${shown.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} operator actions; raise --limit or narrow --since to see the others\n`;
}

/** `2025-03-01 10:04:05` in the zone the report runs in, like the dates an operator types for --since. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Table cells are single-line: a kill reason with a line break would split its row. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}
