import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema } from '../daemon/config/schema.js';
import { configMarkdown, configSchemaText, configSections, durationText, flow, pathText, type Row } from './config-docs.js';

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');
const markdown = configMarkdown();
const sections = configSections();

describe('docs/config.md and docs/json/config.schema.json are generated from the config schema', () => {
  it('docs/config.md matches the generator', () => {
    expect(read('../docs/config.md'), 'docs/config.md is stale: run `npm run docs`').toBe(markdown);
  });

  it('docs/json/config.schema.json matches the generator', () => {
    expect(read('../docs/json/config.schema.json'), 'docs/json/config.schema.json is stale: run `npm run docs`').toBe(configSchemaText());
  });
});

describe('what the reference says', () => {
  it('lists approvals.confirm_above_usd with its default, range and description', () => {
    expect(markdown).toMatch(/^\| `approvals\.confirm_above_usd` \| number \| `10` \| 0 – 1,000,000 \| A grant of more than this/m);
  });

  it('gives durations as the file writes them, and the defaults the schema applies', () => {
    expect(markdown).toMatch(/^\| `approvals\.timeout` \| duration \| `2m` \|/m);
    expect(markdown).toMatch(/^\| `breakers\.burn_rate\.cooldown` \| duration \| `20m` \|/m);
    const defaults = ConfigSchema.parse({});
    expect(defaults.approvals.timeout).toBe(120_000);
    expect(defaults.breakers.burn_rate.cooldown).toBe(1_200_000);
    expect(markdown).toContain(`| \`limits\` | object | \`${flow(defaults.limits)}\` |`);
  });

  it('documents the limit block once, linked from every place that holds one', () => {
    expect(markdown).toContain('| `scopes.<scope>` | [limit block](#limit-block) |');
    expect(markdown).toContain('| `limits.agent` | [limit block](#limit-block) |');
    expect(markdown).toMatch(/^## Limit block$/m);
    expect(markdown).toMatch(/^\| `mode` \| string \| — \| one of `hard`, `soft`, `approval` \|/m);
  });

  it('describes every key: a key added without .describe() fails here', () => {
    const bare = sections.flatMap((s) => s.rows.filter((r) => r.description === '').map((r) => `${s.id}: ${pathText(r.path)}`));
    expect(bare).toEqual([]);
  });

  it('documents every key config.example.yaml sets', () => {
    const example: unknown = parse(read('../config.example.yaml'));
    const topLevel = sections.filter((s) => Object.hasOwn(ConfigSchema.shape, s.id)).flatMap((s) => s.rows);
    const undocumented: string[] = [];
    undocumentedKeys(example, topLevel, [], undocumented);
    expect(undocumented).toEqual([]);
  });

  it('has one section per top-level key, then one per shared block', () => {
    expect(sections.map((s) => s.id)).toEqual([...Object.keys(ConfigSchema.shape), 'limit_block', 'dimensions']);
  });

  it('writes durations exactly', () => {
    expect([90_000, 120_000, 1_800_000, 86_400_000, 1500].map(durationText)).toEqual(['90s', '2m', '30m', '1d', '1500ms']);
  });
});

/** Walks the example alongside the documented rows: a name the file chooses matches a `<placeholder>` row. */
function undocumentedKeys(value: unknown, rows: readonly Row[], prefix: readonly string[], out: string[], where = ''): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const under = rows.filter((r) => r.path.length === prefix.length + 1 && prefix.every((p, i) => r.path[i] === p));
  for (const [key, child] of Object.entries(value)) {
    const row = under.find((r) => r.path.at(-1) === key) ?? under.find((r) => r.path.at(-1)?.startsWith('<'));
    if (!row) out.push(`${where}${pathText([...prefix, key])}`);
    else if (row.ref === undefined) undocumentedKeys(child, rows, row.path, out, where);
    else undocumentedKeys(child, sections.find((s) => s.id === row.ref)?.rows ?? [], [], out, `${where}${pathText(row.path)} → `);
  }
}
