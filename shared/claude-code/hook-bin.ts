/**
 * Generates `bin/spendguard-hook.js` from hook.ts: the same code, types stripped, so the hook
 * runs on plain node without tsx. hook-bin.test.ts fails when the file is stale; regenerate with
 *   node --import tsx shared/claude-code/hook-bin.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SOURCE = new URL('./hook.ts', import.meta.url);
export const HOOK_BIN = fileURLToPath(new URL('../../bin/spendguard-hook.js', import.meta.url));

const HEADER = `#!/usr/bin/env node
// GENERATED from shared/claude-code/hook.ts by shared/claude-code/hook-bin.ts; do not edit.
// The Claude Code PreToolUse hook on plain node (no tsx): \`spendguard-hook claude-code\`.
`;

const MAIN = `
// Exit once stderr is flushed: nothing else should keep a hook alive.
const code = await hookMain(process.argv.slice(2), { stdin: process.stdin, stderr: process.stderr, env: process.env });
process.stderr.write('', () => process.exit(code));
`;

export function renderHookBin(): string {
  const out = ts.transpileModule(readFileSync(SOURCE, 'utf8'), {
    fileName: 'hook.ts',
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, removeComments: false },
  });
  return `${HEADER}${out.outputText}${MAIN}`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(HOOK_BIN, renderHookBin(), { mode: 0o755 });
  process.stdout.write(`wrote ${HOOK_BIN}\n`);
}
