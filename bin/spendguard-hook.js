#!/usr/bin/env node
// `spendguard-hook claude-code`: the Claude Code PreToolUse hook, compiled from
// shared/claude-code/hook.ts into dist/ (`npm run build`). It loads only that file, ws and node
// built-ins — not the CLI — because Claude Code starts it before every tool call.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let hook;
try {
  hook = await import('../dist/shared/claude-code/hook.js');
} catch (error) {
  const built = new URL('../dist/shared/claude-code/hook.js', import.meta.url);
  if (existsSync(built)) throw error;
  // Exit 2 blocks the tool call: a hook that cannot run must show at the first tool call.
  process.stderr.write(`spendguard-hook: ${fileURLToPath(built)} is missing: run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}\n`);
  process.exit(2);
}
// Exit once stderr is flushed: nothing else should keep a hook alive.
const code = await hook.hookMain(process.argv.slice(2), { stdin: process.stdin, stderr: process.stderr, env: process.env });
process.stderr.write('', () => process.exit(code));
