import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JSON_OUTPUTS, jsonSchemaText } from './json-docs.js';

describe('docs/json: the --json references are the schemas the code uses', () => {
  it.each(Object.entries(JSON_OUTPUTS))('%s matches (run `npm run docs` after changing a schema)', (file, { title, schema }) => {
    expect(readFileSync(new URL(`../docs/json/${file}`, import.meta.url), 'utf8')).toBe(jsonSchemaText(title, schema));
  });
});
