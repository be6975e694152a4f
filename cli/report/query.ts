import Database from 'better-sqlite3';
import { z } from 'zod';
import { CommandFailure } from '../exit.js';
import type { ReportGroup, ReportRow } from './rows.js';

/** Fixed SQL per group: the group name never reaches the query text from the command line. */
const GROUP_SQL = {
  model: 'model',
  agent: 'agent',
  task: 'task',
  session: 'session',
  user: 'user',
  // The calendar day where the report runs (process TZ), like the dates an operator types for --since.
  day: "strftime('%Y-%m-%d', ts / 1000, 'unixepoch', 'localtime')",
} as const satisfies Record<ReportGroup, string>;

const Row = z.object({
  key: z.string().nullable(),
  cost_nano: z.number(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  calls: z.number(),
});

/**
 * Opens the ledger read-only, runs `read`, and closes it; an unopenable or unreadable ledger is
 * a `CommandFailure` naming the file. Shared by every report over the ledger.
 */
export function readLedger<T>(ledgerFile: string, read: (db: Database.Database) => T): T {
  let db: Database.Database;
  try {
    // Read-only beside the running daemon: WAL lets this read a consistent snapshot without blocking its writes.
    db = new Database(ledgerFile, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new CommandFailure(
      `cannot open the ledger ${ledgerFile}: ${error instanceof Error ? error.message : String(error)}. ` +
        'Has the daemon run with this state dir? (--state-dir, SPENDGUARD_STATE_DIR)',
    );
  }
  try {
    return read(db);
  } catch (error) {
    if (error instanceof CommandFailure) throw error;
    throw new CommandFailure(`cannot read the ledger ${ledgerFile}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    db.close();
  }
}

/** Aggregates the ledger's usage rows per group; days in calendar order, other groups by cost. */
export function queryReport(ledgerFile: string, by: ReportGroup, sinceMs: number | undefined): ReportRow[] {
  return readLedger(ledgerFile, (db) => {
    const order = by === 'day' ? 'key ASC' : 'cost_nano DESC, key ASC';
    const sql =
      `SELECT ${GROUP_SQL[by]} AS key, SUM(cost_nano) AS cost_nano, SUM(input_tokens) AS input_tokens, ` +
      `SUM(output_tokens) AS output_tokens, COUNT(*) AS calls FROM usage WHERE ts >= ? GROUP BY 1 ORDER BY ${order}`;
    const rows = z.array(Row).parse(db.prepare(sql).all(sinceMs ?? 0));
    return rows.map((r) => ({
      key: r.key,
      cost_usd: r.cost_nano / 1e9,
      input_tokens: r.input_tokens,
      output_tokens: r.output_tokens,
      calls: r.calls,
    }));
  });
}
