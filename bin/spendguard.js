#!/usr/bin/env node
// The `spendguard` command. Runs the TypeScript sources through tsx, so a fresh clone works
// after `npm install` without a build step.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// Our own tsconfig, not whichever one sits in the caller's working directory (jsx, paths).
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
