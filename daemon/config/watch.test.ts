import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoadResult } from './load.js';
import { ConfigWatcher, RELOAD_DEBOUNCE_MS } from './watch.js';

const DEADLINE_MS = 2000;

/** Polls until `pick` finds something in the results, or fails at the deadline. */
async function waitFor<T>(results: LoadResult[], pick: (r: LoadResult) => T | undefined): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    for (const r of results) {
      const found = pick(r);
      if (found !== undefined) return found;
    }
    if (Date.now() > deadline) throw new Error(`no matching result within ${DEADLINE_MS} ms; got ${JSON.stringify(results)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const taskCost = (r: LoadResult): number | undefined => (r.ok ? r.config.limits.task?.cost_usd : undefined);

describe('ConfigWatcher', () => {
  let dir: string;
  let file: string;
  let results: LoadResult[];
  let watcher: ConfigWatcher;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendguard-watch-'));
    file = join(dir, 'config.yaml');
    writeFileSync(file, 'limits:\n  task: { cost_usd: 1 }\n');
    results = [];
    watcher = new ConfigWatcher(file, (r) => results.push(r));
    await watcher.start();
  });

  afterEach(async () => {
    await watcher.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a changed value', async () => {
    writeFileSync(file, 'limits:\n  task: { cost_usd: 2 }\n');
    expect(await waitFor(results, (r) => (taskCost(r) === 2 ? r : undefined))).toBeTruthy();
  });

  it('reports an invalid file with its position', async () => {
    writeFileSync(file, 'limits:\n  task: { cost_usd: -2 }\n');
    const error = await waitFor(results, (r) => (r.ok ? undefined : r.error));
    expect(error).toBe(`${file}:2:21: limits.task.cost_usd: must not be negative`);
  });

  it('follows a file replaced by rename, as editors save', async () => {
    for (const cost of [3, 4]) {
      const temp = join(dir, '.config.yaml.swp');
      writeFileSync(temp, `limits:\n  task: { cost_usd: ${cost} }\n`);
      renameSync(temp, file);
      await waitFor(results, (r) => (taskCost(r) === cost ? true : undefined));
    }
  });

  it('reloads once for a burst of writes, with the last content', async () => {
    for (let cost = 10; cost <= 20; cost++) writeFileSync(file, `limits:\n  task: { cost_usd: ${cost} }\n`);
    await waitFor(results, (r) => (taskCost(r) === 20 ? true : undefined));
    expect(results.filter((r) => taskCost(r) !== 20)).toEqual([]);
  });

  it('ignores other files in the directory and is silent after close', async () => {
    // Long enough for a reload that should not happen: debounce plus write-settle time, doubled.
    const quiet = () => new Promise((resolve) => setTimeout(resolve, 2 * (RELOAD_DEBOUNCE_MS + 100)));
    writeFileSync(join(dir, 'other.yaml'), 'not: watched\n');
    await quiet();
    expect(results).toEqual([]);
    await watcher.close();
    writeFileSync(file, 'limits:\n  task: { cost_usd: 5 }\n');
    await quiet();
    expect(results).toEqual([]);
  });

  it('survives a callback that throws', async () => {
    await watcher.close();
    const seen: LoadResult[] = [];
    watcher = new ConfigWatcher(file, (r) => {
      seen.push(r);
      throw new Error('callback bug');
    });
    await watcher.start();
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    writeFileSync(file, 'limits:\n  task: { cost_usd: 6 }\n');
    expect((await warned).message).toBe('callback bug');
    expect(taskCost(seen[0]!)).toBe(6);
  });
});
