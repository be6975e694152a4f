export const REPORT_GROUPS = ['model', 'agent', 'task', 'session', 'user', 'day'] as const;
export type ReportGroup = (typeof REPORT_GROUPS)[number];

/** One `report --format json` row (SPEC §5). `key` is null for usage without that field (a tool spend has no model). */
export interface ReportRow {
  key: string | null;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  calls: number;
}
