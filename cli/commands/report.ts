import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { STATE_FILES, resolveStateDir } from '../../shared/paths.js';
import { globalOptions, noteIgnoredUrl, optionsOf } from '../context.js';
import { parseSince } from '../flags.js';
import { renderTable } from '../format/table.js';
import { count, usd } from '../../shared/format/units.js';
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

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('spend from the ledger, grouped (reads the ledger file; the daemon need not run)')
    .addOption(new Option('--by <group>', 'group rows by').choices(REPORT_GROUPS).default(DEFAULT_GROUP))
    .option('--since <when>', 'only usage since a duration ago (24h, 7d) or an ISO date (2025-01-31)', (text: string) => parseSince(text))
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default(DEFAULT_FORMAT))
    .action(async (_options: unknown, command: Command) => {
      const options = optionsOf(command, { by: REPORT_GROUPS, since: 'number', format: FORMATS });
      const by = options.by ?? DEFAULT_GROUP;
      const format = options.format ?? DEFAULT_FORMAT;
      noteIgnoredUrl(command, 'report reads the ledger in the state dir');
      const ledger = join(resolveStateDir(globalOptions(command).stateDir), STATE_FILES.ledger);
      const { queryReport } = await import('../report/query.js'); // better-sqlite3: only for report
      const rows = queryReport(ledger, by, options.since);
      if (format === 'json') process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else if (format === 'csv') process.stdout.write(renderReportCsv(rows));
      else process.stdout.write(renderReportTable(rows, by));
    });
}
