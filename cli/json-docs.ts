import { z } from 'zod';
import { PromptJson, StatusJson } from '../shared/protocol/operator.js';
import { KeyJson } from '../shared/protocol/operator.js';
import { ActionReportRow } from './report/actions-row.js';

/**
 * The JSON Schemas of what the CLI prints with `--json`, generated from the zod schemas the
 * daemon and the CLI themselves use, so the reference in docs/json/ cannot drift from the code
 * (a test compares them; `npm run docs` rewrites them).
 */
export const JSON_OUTPUTS = {
  'status.schema.json': { title: 'spendguard status --json', schema: StatusJson },
  'prompts.schema.json': { title: 'spendguard prompts --json', schema: z.array(PromptJson) },
  'keys.schema.json': { title: 'spendguard keys list --json', schema: z.array(KeyJson) },
  'report-actions.schema.json': { title: 'spendguard report --actions --format json', schema: z.array(ActionReportRow) },
} as const;

export function jsonSchemaText(title: string, schema: z.ZodType): string {
  return `${JSON.stringify({ title, ...z.toJSONSchema(schema, { io: 'output' }) }, null, 2)}\n`;
}
