import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOOK_BIN, renderHookBin } from './hook-bin.js';

describe('bin/spendguard-hook.js', () => {
  it('is hook.ts as generated, executable (regenerate: node --import tsx shared/claude-code/hook-bin.ts)', () => {
    expect(readFileSync(HOOK_BIN, 'utf8')).toBe(renderHookBin());
    expect(statSync(HOOK_BIN).mode & 0o111).not.toBe(0);
  });

  it('imports nothing but ws and node built-ins, so it runs without tsx', () => {
    const imports = [...renderHookBin().matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.every((name) => name === 'ws' || name?.startsWith('node:'))).toBe(true);
  });
});
