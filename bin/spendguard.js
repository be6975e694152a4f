#!/usr/bin/env node
// The `spendguard` command: the compiled CLI in dist/ (`npm run build`; `npm install` in a
// checkout builds it too). Plain node, no TypeScript at run time.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (error) {
  const built = new URL('../dist/cli/main.js', import.meta.url);
  if (existsSync(built)) throw error;
  process.stderr.write(`spendguard: ${fileURLToPath(built)} is missing: run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}\n`);
  process.exit(1);
}
process.exitCode = await cli.main(process.argv);
