import { mkdirSync, writeFileSync } from 'node:fs';
import { configMarkdown, configSchemaText } from './config-docs.js';
import { JSON_OUTPUTS, jsonSchemaText } from './json-docs.js';

// `npm run docs`: rewrites docs/json/*.schema.json and docs/config.md from the zod schemas.
const dir = new URL('../docs/json/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [file, { title, schema }] of Object.entries(JSON_OUTPUTS)) writeFileSync(new URL(file, dir), jsonSchemaText(title, schema));
writeFileSync(new URL('config.schema.json', dir), configSchemaText());
writeFileSync(new URL('../docs/config.md', import.meta.url), configMarkdown());
