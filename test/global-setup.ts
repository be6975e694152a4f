import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';

/**
 * vitest's global setup: dist/ must hold the sources as they are now, because the end-to-end
 * tests spawn bin/spendguard.js, and bin/ runs dist/. `npm test` has just built it; a lone
 * `npx vitest run test/e2e/x.test.ts` after an edit would otherwise test the previous build.
 * So: rebuild with tsc when a source is newer than everything compiled, and delete compiled files
 * whose source is gone (tsc never does, and a stale module could still be imported or packed).
 *
 * "Newer than everything compiled", not "newer than .tsbuildinfo": `tsc --noEmit` rewrites that
 * file without emitting anything. A source touched but unchanged is not re-emitted by tsc, so a
 * rebuild here leaves a stamp (BUILT) that counts as compiled now.
 */

const REPO = resolve(import.meta.dirname, '..');
const DIST = join(REPO, 'dist');
/** Written after a rebuild here; not part of the package (package.json `files`). */
const BUILT = join(DIST, '.built');
/** tsconfig.json's `include`. */
const SOURCE_DIRS = ['shared', 'daemon', 'tui', 'cli', 'bench', 'test', 'demo', 'examples'];
/** The repository has a few hundred sources; a walk past this many files is walking the wrong tree. */
const MAX_FILES = 20_000;

function* files(dir: string, budget: { left: number }): Generator<string> {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (--budget.left < 0) throw new Error(`more than ${MAX_FILES} files under ${dir}`);
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') yield* files(path, budget);
    else if (entry.isFile()) yield path;
  }
}

/** What the processes the tests spawn can run: not the tests themselves (a test edited is not rebuilt for). */
function isSource(path: string): boolean {
  return /\.tsx?$/.test(path) && !path.endsWith('.d.ts') && !/\.test\.tsx?$/.test(path);
}

function newestSourceMs(): number {
  const budget = { left: MAX_FILES };
  let newest = 0;
  for (const dir of SOURCE_DIRS) for (const path of files(join(REPO, dir), budget)) if (isSource(path)) newest = Math.max(newest, statSync(path).mtimeMs);
  // A changed compiler setting changes every output.
  return Math.max(newest, statSync(join(REPO, 'tsconfig.json')).mtimeMs);
}

/** When dist/ was last written: its newest compiled file, or this setup's last rebuild. */
function compiledMs(): number {
  const budget = { left: MAX_FILES };
  let newest = existsSync(BUILT) ? statSync(BUILT).mtimeMs : 0;
  for (const dir of SOURCE_DIRS) for (const path of files(join(DIST, dir), budget)) if (path.endsWith('.js')) newest = Math.max(newest, statSync(path).mtimeMs);
  return newest;
}

/** Compiled files under dist/ whose .ts or .tsx is gone: removed or renamed since they were built. */
function pruneOrphans(): string[] {
  const budget = { left: MAX_FILES };
  const removed: string[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const path of files(join(DIST, dir), budget)) {
      if (!path.endsWith('.js')) continue;
      const source = join(REPO, relative(DIST, path)).replace(/\.js$/, '');
      if (existsSync(`${source}.ts`) || existsSync(`${source}.tsx`)) continue;
      rmSync(path);
      removed.push(relative(REPO, path));
    }
  }
  return removed;
}

export default function setup(): void {
  if (newestSourceMs() > compiledMs()) {
    process.stderr.write('[global-setup] sources changed since dist/ was built: tsc -p tsconfig.json …\n');
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: REPO, encoding: 'utf8' });
    if (run.error) throw run.error;
    // Type errors still emit (vitest does not type-check either): show them, run the tests.
    if (run.status !== 0) process.stderr.write(`[global-setup] tsc reported errors (dist/ was written anyway; \`npm run typecheck\`):\n${run.stdout}${run.stderr}`);
    writeFileSync(BUILT, `${new Date().toISOString()}\n`);
  }
  const removed = pruneOrphans();
  if (removed.length > 0) process.stderr.write(`[global-setup] removed compiled files whose source is gone: ${removed.join(', ')}\n`);
}
