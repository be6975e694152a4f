import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** The recorded-format transcripts under test/fixtures/claude-code and their hand-computed usage. */
export const FIXTURE_DIR = resolve(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'claude-code');
export const FIXTURE_PROJECTS = join(FIXTURE_DIR, 'projects');

const Price = z.object({ input: z.number(), output: z.number(), cache_read: z.number(), cache_write: z.number() });
const Expected = z.object({
  since: z.string(),
  pricing: z.record(z.string(), Price),
  messages: z.record(
    z.string(),
    z.object({ session: z.string(), input_tokens: z.number(), output_tokens: z.number(), cache_read_tokens: z.number(), cache_write_tokens: z.number(), cost_nano: z.number() }),
  ),
  sessions: z.record(z.string(), z.object({ cost_nano: z.number() })),
  total_cost_nano: z.number(),
  malformed_lines: z.number(),
});
export type Expected = z.infer<typeof Expected>;

export function expectedUsage(): Expected {
  return Expected.parse(JSON.parse(readFileSync(join(FIXTURE_DIR, 'expected.json'), 'utf8')));
}
