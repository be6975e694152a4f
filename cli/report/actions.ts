import { z } from 'zod';
import { ActionRowSchema, type ActionRow } from '../../daemon/engine/actions.js';
import { nanoToUsd } from '../../shared/money/money.js';
import { usd } from '../../shared/format/units.js';
import { AUDIT_KINDS, type ActionReportRow } from './actions-row.js';
import { readLedger } from './query.js';

/** `report --actions`: the operator actions of the ledger, read-only (the daemon need not run). */

export interface ActionsQuery {
  /** Only actions at or after this time (ms since the epoch). */
  readonly sinceMs?: number | undefined;
  /** At most this many: the newest, still listed oldest first. */
  readonly limit: number;
}

export interface ActionsReport {
  /** Oldest first. */
  readonly rows: ActionReportRow[];
  /** How many actions matched before `limit` cut them: above `rows.length` when some were left out. */
  readonly total: number;
}

/** Fixed text: the kinds come from a constant, never from the command line. */
const WHERE = `kind IN (${AUDIT_KINDS.map((k) => `'${k}'`).join(', ')}) AND ts >= ?`;

const LedgerAction = z.object({
  seq: z.number().int(),
  ts: z.number().int(),
  kind: z.enum(AUDIT_KINDS),
  scope: z.string(),
  actor: z.string(),
  data: z.string(),
});
type LedgerAction = z.infer<typeof LedgerAction>;

export function queryActions(ledgerFile: string, query: ActionsQuery): ActionsReport {
  const since = query.sinceMs ?? 0;
  return readLedger(ledgerFile, (db) =>
    // One read transaction: the count and the rows come from the same snapshot while the daemon writes.
    db.transaction(() => {
      const total = z.number().int().parse(db.prepare(`SELECT COUNT(*) FROM actions WHERE ${WHERE}`).pluck().get(since));
      const newest = z.array(LedgerAction).parse(db.prepare(`SELECT seq, ts, kind, scope, actor, data FROM actions WHERE ${WHERE} ORDER BY seq DESC LIMIT ?`).all(since, query.limit));
      return { rows: newest.reverse().map(toReportRow), total };
    })(),
  );
}

function toReportRow(row: LedgerAction): ActionReportRow {
  const { seq, ts, kind, scope, actor } = row;
  let data: unknown;
  try {
    data = JSON.parse(row.data);
  } catch {
    data = undefined;
  }
  const record = isRecord(data) ? data : {};
  const parsed = ActionRowSchema.safeParse({ ts, kind, scope, actor, data });
  // A row this version cannot read is still listed: an audit trail does not hide what it cannot parse.
  const detail = parsed.success ? actionDetail(parsed.data) : '(unreadable details)';
  return { seq, at: new Date(ts).toISOString(), kind, scope, actor, detail, data: record };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The short what of an action: `+$5.00 for p3-1`, `deny p3-1`, a kill's reason, a key's label, a config path. */
export function actionDetail(row: ActionRow): string {
  switch (row.kind) {
    case 'kill':
      return row.data.reason;
    case 'resume':
      return '';
    case 'grant': {
      const parts = [row.data.cost_nano !== 0 ? `+${usd(nanoToUsd(row.data.cost_nano))}` : '', row.data.tokens !== 0 ? `+${row.data.tokens.toLocaleString('en-US')} tokens` : ''].filter(Boolean);
      const what = parts.length > 0 ? parts.join(' ') : '+$0.00';
      return row.data.prompt === undefined ? what : `${what} for ${row.data.prompt}`;
    }
    case 'prompt_answer':
      return `${row.data.answer} ${row.data.prompt}`;
    case 'key_create':
      return row.data.agent === null ? row.data.label : `${row.data.label} as agent ${row.data.agent}`;
    case 'key_revoke':
      return row.data.label;
    case 'limits':
      return row.actor.startsWith('config:') ? row.actor.slice('config:'.length) : row.actor;
    case 'prompt':
    case 'delegate':
    case 'delegation_end':
      // Not in AUDIT_KINDS; described anyway should they ever be listed.
      return '';
    default:
      return row satisfies never;
  }
}
