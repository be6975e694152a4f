import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const HOOK_BIN = new URL('../../bin/spendguard-hook.js', import.meta.url);
const HOOK_SOURCE = new URL('./hook.ts', import.meta.url);

/** Specifiers a file loads: static imports and re-exports (not `import type`), and `createRequire(…)('x')`. */
function loads(source: string): string[] {
  const statics = [...source.matchAll(/^(?:import|export)(?! type )[^;]*? from '([^']+)';$/gm)].map((m) => m[1] ?? '');
  const dynamics = [...source.matchAll(/\bimport\('([^']+)'\)/g)].map((m) => m[1] ?? '');
  const requires = [...source.matchAll(/createRequire\([^)]*\)\('([^']+)'\)/g)].map((m) => m[1] ?? '');
  return [...statics, ...dynamics, ...requires];
}

describe('bin/spendguard-hook.js', () => {
  it('is executable and runs the compiled hook.ts, nothing else', () => {
    expect(statSync(HOOK_BIN).mode & 0o111).not.toBe(0);
    const bin = readFileSync(HOOK_BIN, 'utf8');
    expect(bin.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(loads(bin).filter((s) => !s.startsWith('node:'))).toEqual(['../dist/shared/claude-code/hook.js']);
  });

  it('hook.ts loads nothing but ws and node built-ins, so a tool call never waits for the CLI or the schemas', () => {
    const direct = loads(readFileSync(HOOK_SOURCE, 'utf8'));
    expect(direct.filter((s) => !s.startsWith('node:'))).toEqual(['../client/ws.js']);
    const ws = loads(readFileSync(new URL('../client/ws.ts', import.meta.url), 'utf8'));
    expect(ws.filter((s) => !s.startsWith('node:'))).toEqual(['ws']);
  });
});
