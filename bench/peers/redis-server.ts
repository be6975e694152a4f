import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { removeDir, track, trackDir } from '../proc.js';
import { stopChild } from './targets.js';

/**
 * A throwaway `redis-server` (Debian's) for the Redis peer: 127.0.0.1 on a free port, no RDB
 * snapshots (`--save ''`), an append-only file with the given fsync policy, in a temp dir that is
 * removed when it stops (and by the bench's cleanup on failure).
 */

export type Fsync = 'always' | 'everysec';

export interface RedisServer {
  readonly fsync: Fsync;
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** The `redis-server` on PATH, or undefined. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'redis-server');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function redisVersion(bin: string): string {
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(out)?.[1] ?? out.trim();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startRedis(bin: string, fsync: Fsync, timeoutMs = 10_000): Promise<RedisServer> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), `sg-bench-redis-${fsync}-`)));
  const port = await freePort();
  const args = [
    ...['--bind', '127.0.0.1', '--port', String(port), '--protected-mode', 'yes', '--daemonize', 'no'],
    ...['--save', '', '--appendonly', 'yes', '--appendfsync', fsync, '--dir', dir],
  ];
  const child = track(spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    removeDir(dir);
  };
  let out = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`redis-server did not start within ${timeoutMs} ms: ${out}`)), timeoutMs);
      const onData = (d: Buffer): void => {
        out = (out + d.toString()).slice(-4_000);
        if (out.includes('Ready to accept connections')) {
          clearTimeout(t);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(t);
        reject(new Error(`redis-server exited (${code ?? signal}): ${out}`));
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  // Keep draining its log so a full pipe never blocks it.
  child.stdout?.resume();
  child.stderr?.resume();
  return { fsync, url: `redis://127.0.0.1:${port}`, pid: child.pid, stop };
}
