import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { STATE_FILES, resolveStateDir } from '../../shared/paths.js';
import { globalOptions, noteIgnoredUrl, optionsOf, usageError } from '../context.js';
import { parseSince } from '../flags.js';
import { renderTable } from '../format/table.js';
import { count, usd } from '../../shared/format/units.js';
import { DEFAULT_ACTIONS_LIMIT, MAX_ACTIONS_LIMIT, cutNote, renderActionsCsv, renderActionsJson, renderActionsTable } from '../report/actions-render.js';
import { csvField } from '../report/csv.js';
import { REPORT_GROUPS, type ReportGroup, type ReportRow } from '../report/rows.js';

const FORMATS = ['table', 'csv', 'json'] as const;
const DEFAULT_GROUP: ReportGroup = 'model';
const DEFAULT_FORMAT: (typeof FORMATS)[number] = 'table';

export function renderReportTable(rows: readonly ReportRow[], by: ReportGroup): string {
  if (rows.length === 0) return 'no usage recorded in this period\n';
  const total = rows.reduce(
    (t, r) => ({
      cost_usd: t.cost_usd + r.cost_usd,
      input_tokens: t.input_tokens + r.input_tokens,
      output_tokens: t.output_tokens + r.output_tokens,
      calls: t.calls + r.calls,
    }),
    { cost_usd: 0, input_tokens: 0, output_tokens: 0, calls: 0 },
  );
  const cells = (key: string, r: Omit<ReportRow, 'key'>): string[] => [
    key,
    usd(r.cost_usd),
    count(r.input_tokens),
    count(r.output_tokens),
    String(r.calls),
  ];
  return renderTable(
    [by.toUpperCase(), 'COST', 'INPUT', 'OUTPUT', 'CALLS'],
    [...rows.map((r) => cells(r.key ?? `(no ${by})`, r)), cells('TOTAL', total)],
    ['left', 'right', 'right', 'right', 'right'],
  );
}

export function renderReportCsv(rows: readonly ReportRow[]): string {
  const lines = rows.map((r) =>
    [csvField(r.key ?? ''), plainDecimal(r.cost_usd), String(r.input_tokens), String(r.output_tokens), String(r.calls)].join(','),
  );
  return ['key,cost_usd,input_tokens,output_tokens,calls', ...lines].join('\n') + '\n';
}

/** `0.000000123`, not `1.23e-7`: nano-dollar precision, no exponent for spreadsheets to misread. */
function plainDecimal(usd: number): string {
  return usd.toFixed(9).replace(/\.?0+$/, '');
}

/** `--limit`: how many actions at most, the newest. */
function parseLimit(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ACTIONS_LIMIT) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_ACTIONS_LIMIT.toLocaleString('en-US')}`);
  }
  return n;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('spend from the ledger, grouped; or, with --actions, who did what (reads the ledger file; the daemon need not run)')
    .addOption(new Option('--by <group>', 'group rows by').choices(REPORT_GROUPS).default(DEFAULT_GROUP))
    .option('--actions', 'list operator actions instead (kill, resume, grant, prompt answers, keys, limit changes): time, kind, scope, actor, detail')
    .option('--since <when>', 'only usage (or actions) since a duration ago (24h, 7d) or an ISO date (2025-01-31)', (text: string) => parseSince(text))
    .option('--limit <n>', `with --actions: at most the newest n, listed oldest first (default ${DEFAULT_ACTIONS_LIMIT})`, parseLimit)
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default(DEFAULT_FORMAT))
    .action(async (_options: unknown, command: Command) => {
      const options = optionsOf(command, { by: REPORT_GROUPS, actions: 'boolean', since: 'number', limit: 'number', format: FORMATS });
      const by = options.by ?? DEFAULT_GROUP;
      const format = options.format ?? DEFAULT_FORMAT;
      if (options.actions === true && command.getOptionValueSource('by') !== 'default') {
        usageError(command, '--actions lists operator actions one by one and does not group them: drop --by, or drop --actions for spend by group');
      }
      if (options.actions !== true && options.limit !== undefined) usageError(command, '--limit applies to --actions only (the grouped spend report is not cut)');
      noteIgnoredUrl(command, 'report reads the ledger in the state dir');
      const ledger = join(resolveStateDir(globalOptions(command).stateDir), STATE_FILES.ledger);
      if (options.actions === true) {
        await reportActions(ledger, format, options.since, options.limit ?? DEFAULT_ACTIONS_LIMIT);
        return;
      }
      const { queryReport } = await import('../report/query.js'); // better-sqlite3: only for report
      const rows = queryReport(ledger, by, options.since);
      if (format === 'json') process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else if (format === 'csv') process.stdout.write(renderReportCsv(rows));
      else process.stdout.write(renderReportTable(rows, by));
    });
}

async function reportActions(ledger: string, format: (typeof FORMATS)[number], sinceMs: number | undefined, limit: number): Promise<void> {
  const { queryActions } = await import('../report/actions.js'); // better-sqlite3 and zod: only here
  const { rows, total } = queryActions(ledger, { sinceMs, limit });
  if (format === 'json') process.stdout.write(renderActionsJson(rows));
  else if (format === 'csv') process.stdout.write(renderActionsCsv(rows));
  else process.stdout.write(renderActionsTable(rows));
  const note = cutNote(rows.length, total);
  if (note !== null) process.stderr.write(note);
}
