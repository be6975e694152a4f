import { mkdirSync, writeFileSync } from 'node:fs';
import { JSON_OUTPUTS, jsonSchemaText } from './json-docs.js';

// `npm run docs`: rewrites docs/json/*.schema.json from the zod schemas.
const dir = new URL('../docs/json/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [file, { title, schema }] of Object.entries(JSON_OUTPUTS)) writeFileSync(new URL(file, dir), jsonSchemaText(title, schema));
