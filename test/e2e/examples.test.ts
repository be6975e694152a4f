import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, startDaemonProcess, type DaemonProcess } from './daemon-process.js';

/**
 * The wrapper examples as a user runs them (`npx tsx examples/wrappers/<name>.ts --state-dir D`)
 * against a running daemon: each exits 0 and leaves one ledger row per provider call.
 */

const run = promisify(execFile);
let daemon: DaemonProcess;

beforeAll(async () => {
  daemon = await startDaemonProcess();
});

afterAll(async () => {
  await daemon?.stop();
  rmSync(daemon.stateDir, { recursive: true, force: true });
});

function rowsOf(task: string): Array<{ key: string; cost_nano: number; output_tokens: number }> {
  const db = new Database(join(daemon.stateDir, 'ledger.db'), { readonly: true });
  try {
    return db.prepare('SELECT key, cost_nano, output_tokens FROM usage WHERE task = ? ORDER BY seq').all(task) as Array<{ key: string; cost_nano: number; output_tokens: number }>;
  } finally {
    db.close();
  }
}

describe('examples/wrappers', () => {
  for (const name of ['openai', 'anthropic', 'ai-sdk']) {
    it(`${name}.ts runs against the daemon: three calls, three ledger rows, the cut stream counted by the tokenizer`, async () => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', join('examples', 'wrappers', `${name}.ts`), '--state-dir', daemon.stateDir], { cwd: REPO, timeout: 60_000 });
      expect(stdout).toContain(`task:example-${name}`);
      expect(stdout).toContain('[tokenizer]');
      const rows = rowsOf(`example-${name}`);
      expect(rows).toHaveLength(3);
      for (const r of rows) expect(r.cost_nano).toBeGreaterThan(0);
      if (name === 'openai') expect(stdout).toContain('DUPLICATE (already billed, counted once)');
    });
  }
});
