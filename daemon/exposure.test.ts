import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decideExposure, hostOfListen, isLoopbackHost } from './exposure.js';
import { startDaemon, type DaemonOptions } from './main.js';
import type { Logger } from './server/log.js';

describe('isLoopbackHost', () => {
  it.each([
    '127.0.0.1',
    '127.0.1.1',
    '127.255.255.254',
    'localhost',
    'LocalHost',
    'localhost.',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
  ])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each([
    // every interface, loopback among them
    '0.0.0.0',
    '::',
    '[::]',
    // the LAN and beyond
    '192.168.1.20',
    '10.0.0.1',
    '172.16.0.1',
    '128.0.0.1',
    '126.255.255.255',
    '::ffff:192.168.1.20',
    'fe80::1',
    '2001:db8::1',
    // names may resolve anywhere: only `localhost` itself is trusted
    'myhost',
    'example.com',
    'localhost.example.com',
    'app.localhost',
    'localhost6',
    '127.0.0.1.nip.io',
    '127.1',
    '',
  ])('%s is the network', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('hostOfListen', () => {
  it('takes everything before the last colon', () => {
    expect(hostOfListen('127.0.0.1:7878')).toBe('127.0.0.1');
    expect(hostOfListen('localhost:0')).toBe('localhost');
    expect(hostOfListen('[::1]:7878')).toBe('[::1]');
  });
});

describe('decideExposure', () => {
  const ask = { requireKeys: false, unsafeSharedTokenOnNetwork: false };

  it('loopback keeps the shared token unless keys are asked for, and says nothing', () => {
    expect(decideExposure({ ...ask, host: '127.0.0.1' })).toEqual({ loopback: true, requireKeys: false, warnings: [] });
    expect(decideExposure({ ...ask, host: 'localhost', requireKeys: true })).toEqual({ loopback: true, requireKeys: true, warnings: [] });
  });

  it('loopback with the unsafe flag: keys as asked, and a note that the flag does nothing', () => {
    const e = decideExposure({ ...ask, host: '::1', unsafeSharedTokenOnNetwork: true });
    expect(e.requireKeys).toBe(false);
    expect(e.warnings).toEqual(['--unsafe-shared-token-on-network has no effect: the daemon listens on loopback (::1) only']);
  });

  it.each(['0.0.0.0', '::', '192.168.1.20', 'myhost'])('%s requires keys and warns that the network can reach the daemon', (host) => {
    const e = decideExposure({ ...ask, host });
    expect(e).toMatchObject({ loopback: false, requireKeys: true });
    expect(e.warnings).toHaveLength(1);
    expect(e.warnings[0]).toContain(`listening on ${host}, beyond loopback: agents on the network can reach the daemon`);
    expect(e.warnings[0]).toContain('keys are required');
    expect(e.warnings[0]).toContain('--unsafe-shared-token-on-network would accept it anyway');
  });

  it('beyond loopback the unsafe flag keeps the shared token, and the warning says what that risks', () => {
    const e = decideExposure({ ...ask, host: '0.0.0.0', unsafeSharedTokenOnNetwork: true });
    expect(e).toMatchObject({ loopback: false, requireKeys: false });
    expect(e.warnings[0]).toContain('agents on the network can reach the daemon');
    expect(e.warnings[0]).toContain('anyone on the network who has it can act as any agent');
  });

  it('an explicit --require-keys / require_keys wins over the unsafe flag', () => {
    const e = decideExposure({ host: '0.0.0.0', requireKeys: true, unsafeSharedTokenOnNetwork: true });
    expect(e.requireKeys).toBe(true);
    expect(e.warnings[0]).toContain('is overridden by --require-keys / require_keys');
  });
});

describe('startDaemon passes the effective requireKeys to the server', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function start(options: DaemonOptions & { config?: string }): Promise<{ requireKeys: boolean; warnings: string[]; listening: Record<string, unknown> | undefined }> {
    const stateDir = mkdtempSync(join(tmpdir(), 'sg-exposure-'));
    dirs.push(stateDir);
    let configPath: string | undefined;
    if (options.config !== undefined) {
      configPath = join(stateDir, 'config.yaml');
      writeFileSync(configPath, options.config);
    }
    const warnings: string[] = [];
    let listening: Record<string, unknown> | undefined;
    const log: Logger = (level, msg, fields) => {
      if (level === 'warn') warnings.push(msg);
      if (msg === 'spendguard daemon listening') listening = fields;
    };
    const { config: _config, ...rest } = options;
    const daemon = await startDaemon({ listen: '127.0.0.1:0', ...rest, stateDir, configPath, log });
    const requireKeys = daemon.server.requireKeys;
    await daemon.stop();
    return { requireKeys, warnings, listening };
  }

  it('loopback by default: the shared token stays', async () => {
    expect(await start({})).toMatchObject({ requireKeys: false, warnings: [], listening: { require_keys: false } });
  });

  it('--require-keys, or require_keys in the config, turns it off', async () => {
    expect(await start({ requireKeys: true })).toMatchObject({ requireKeys: true, warnings: [], listening: { require_keys: true } });
    expect(await start({ config: 'require_keys: true\n' })).toMatchObject({ requireKeys: true, warnings: [] });
  });

  it('0.0.0.0 requires keys and warns', async () => {
    const r = await start({ listen: '0.0.0.0:0' });
    expect(r.requireKeys).toBe(true);
    expect(r.warnings.join('\n')).toContain('agents on the network can reach the daemon');
  });

  it('listen from the config counts the same as --listen', async () => {
    const r = await start({ listen: undefined, config: 'listen: 0.0.0.0:0\n' });
    expect(r.requireKeys).toBe(true);
    expect(r.warnings.join('\n')).toContain('listening on 0.0.0.0, beyond loopback');
  });

  it('0.0.0.0 with the unsafe flag keeps the shared token and warns what that risks; require_keys still wins', async () => {
    const unsafe = await start({ listen: '0.0.0.0:0', unsafeSharedTokenOnNetwork: true });
    expect(unsafe.requireKeys).toBe(false);
    expect(unsafe.warnings.join('\n')).toContain('anyone on the network who has it can act as any agent');
    expect((await start({ listen: '0.0.0.0:0', unsafeSharedTokenOnNetwork: true, config: 'require_keys: true\n' })).requireKeys).toBe(true);
  });
});
