import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchDaemon } from '../daemon.js';
import { isPeerReady } from '../ipc.js';
import { forkTs, nextMessage, removeDir, trackDir } from '../proc.js';
import type { Fsync, RedisServer } from './redis-server.js';

/** The servers the peer comparison drives, each in its own process, one way to start them all. */

export const TARGETS = ['echo', 'naive', 'redis-always', 'redis-everysec', 'floor', 'spendguard'] as const;
export type TargetName = (typeof TARGETS)[number];

export const LABELS: Readonly<Record<TargetName, string>> = {
  echo: 'ws echo',
  naive: 'naive check-then-act',
  'redis-always': 'Redis+Lua, fsync always',
  'redis-everysec': 'Redis+Lua, fsync everysec',
  floor: 'durable floor (SQLite FULL)',
  spendguard: 'spendguard',
};

/** Targets that enforce a cap at all (the echo and the floor do not). */
export const hasCap = (name: TargetName): boolean => name !== 'echo' && name !== 'floor';

export interface Target {
  readonly name: TargetName;
  readonly url: string;
  readonly token: string;
  /** The load generator says hello first (every target but the echo). */
  readonly hello: boolean;
  /** The process whose CPU is sampled (for Redis: the ws peer). */
  readonly pid: number | undefined;
  /** A second process doing the target's work (redis-server), sampled apart. */
  readonly backendPid?: number | undefined;
  stop(): Promise<void>;
}

export interface Limits {
  readonly capUsd: number;
  readonly capTokens: number;
  /** The daemon's config for these limits. */
  readonly daemonConfig: string;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function startPeer(name: TargetName, args: readonly string[], onStop: () => void = () => undefined, backendPid?: number): Promise<Target> {
  const child = forkTs('peer-server.ts', args);
  const stop = async (): Promise<void> => {
    await stopChild(child);
    onStop();
  };
  try {
    const { url } = await nextMessage(child, isPeerReady, 20_000);
    return { name, url, token: 'none', hello: name !== 'echo', pid: child.pid, backendPid, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export async function startTarget(name: TargetName, limits: Limits, redis: ReadonlyMap<Fsync, RedisServer>): Promise<Target> {
  const caps = ['--cap-usd', String(limits.capUsd), '--cap-tokens', String(limits.capTokens)];
  switch (name) {
    case 'echo':
      return startPeer(name, ['--mode', 'echo']);
    case 'naive':
      return startPeer(name, ['--mode', 'naive', ...caps]);
    case 'redis-always':
    case 'redis-everysec': {
      const r = redis.get(name === 'redis-always' ? 'always' : 'everysec');
      if (r === undefined) throw new Error(`${name}: no redis-server running`);
      return startPeer(name, ['--mode', 'redis', '--redis-url', r.url, ...caps], undefined, r.pid);
    }
    case 'floor': {
      const dir = trackDir(mkdtempSync(join(tmpdir(), 'sg-bench-floor-')));
      return startPeer(name, ['--mode', 'floor', '--dir', dir], () => removeDir(dir));
    }
    case 'spendguard': {
      const d = await startBenchDaemon(limits.daemonConfig);
      return { name, url: d.url, token: d.agentToken, hello: true, pid: d.child.pid, stop: () => d.stop() };
    }
    default:
      return name satisfies never;
  }
}
