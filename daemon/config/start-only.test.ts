import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../main.js';
import type { Logger } from '../server/log.js';
import { ConfigSchema } from './schema.js';
import { startOnlyChanges } from './start-only.js';

describe('startOnlyChanges', () => {
  it('names the start-only keys a reload changes, and nothing else', () => {
    const running = ConfigSchema.parse({});
    expect(startOnlyChanges(running, ConfigSchema.parse({ timezone: 'UTC' }))).toEqual([]);
    expect(startOnlyChanges(running, ConfigSchema.parse({ require_keys: true, listen: '0.0.0.0:7878' }))).toEqual(['listen', 'require_keys']);
  });
});

describe('require_keys is read at start only', () => {
  it('an edit turning it on is logged as waiting for a restart; the running server keeps its value', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sg-start-only-'));
    const configPath = join(stateDir, 'config.yaml');
    writeFileSync(configPath, 'require_keys: false\n');
    const warnings: Array<{ msg: string; fields: Record<string, unknown> | undefined }> = [];
    const log: Logger = (level, msg, fields) => {
      if (level === 'warn') warnings.push({ msg, fields });
    };
    const daemon = await startDaemon({ stateDir, configPath, listen: '127.0.0.1:0', log });
    try {
      writeFileSync(configPath, 'require_keys: true\n');
      const deadline = Date.now() + 10_000;
      while (!warnings.some((w) => w.fields?.key === 'require_keys')) {
        if (Date.now() > deadline) throw new Error(`no start-only warning; warnings: ${JSON.stringify(warnings)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(warnings.find((w) => w.fields?.key === 'require_keys')?.msg).toBe(
        'require_keys changed in the config: it is read at start only, so the running daemon keeps its value until restarted',
      );
      expect(daemon.server.requireKeys).toBe(false);
    } finally {
      await daemon.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
