import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './daemon-process.js';

/**
 * The package as `npm publish` would pack it (`npm pack --dry-run`, without rebuilding): the
 * compiled code and what users read, no tests, sources or build leftovers, and nothing in it
 * imports a package that `npm install spendguard` would not install (tsx, vitest, fast-check …).
 */

const run = promisify(execFile);

interface Manifest {
  bin: Record<string, string>;
  dependencies: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as Manifest;
let packed: string[];

beforeAll(async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
  packed = (JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path);
}, 60_000);

/** Bare specifiers a compiled file loads: static and literal dynamic imports, and `createRequire(…)('x')`. */
function bareImports(source: string): string[] {
  // Either quote: tsc writes the JSX runtime's import with double quotes.
  const specifiers = [
    ...source.matchAll(/^(?:import|export)\b[^;]*? from ['"]([^'"]+)['"];$/gm),
    ...source.matchAll(/^import ['"]([^'"]+)['"];$/gm),
    ...source.matchAll(/\bimport\(['"]([^'"]+)['"]\)/g),
    ...source.matchAll(/createRequire\([^)]*\)\(['"]([^'"]+)['"]\)/g),
  ].map((m) => m[1] ?? '');
  return specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('/'));
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? specifier);
}

const isBuiltin = (specifier: string): boolean => specifier.startsWith('node:') || builtinModules.includes(specifier);

describe('npm pack', () => {
  it('holds the bins, the compiled CLI, daemon, dashboard and hook, and the docs', () => {
    for (const bin of Object.values(manifest.bin)) expect(packed).toContain(bin);
    for (const file of ['dist/cli/main.js', 'dist/daemon/main.js', 'dist/tui/run.js', 'dist/demo/run.js', 'dist/shared/claude-code/hook.js', 'dist/shared/client/index.js']) {
      expect(packed).toContain(file);
    }
    for (const file of ['README.md', 'config.example.yaml', 'docs/protocol.md', 'docs/claude-code.md', 'examples/service/spendguard.service', 'clients/python/pyproject.toml']) {
      expect(packed).toContain(file);
    }
  });

  it('holds no tests, TypeScript sources, bench or build leftovers', () => {
    const unwanted = packed.filter((p) => /\.test\.js$|\/test-support\/|\/testing(\/|\.js$)|^dist\/\.|__pycache__|^dist\/(test|bench|examples)\/|\.tsx?$/.test(p));
    expect(unwanted).toEqual([]);
  });

  it('imports, at run time, only node built-ins and its own dependencies', () => {
    const missing = new Set<string>();
    for (const file of packed.filter((p) => p.endsWith('.js'))) {
      for (const specifier of bareImports(readFileSync(join(REPO, file), 'utf8'))) {
        if (!isBuiltin(specifier) && !(packageOf(specifier) in manifest.dependencies)) missing.add(`${file}: ${specifier}`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
