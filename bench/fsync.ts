import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { removeDir, trackDir } from './proc.js';

/**
 * The floor a durable ledger puts under the daemon on this disk: the time of one small SQLite
 * transaction in WAL mode with synchronous=FULL (what the daemon uses) against synchronous=OFF,
 * in the same temp filesystem as the bench's state dirs. Blocking calls: the loop waits this
 * long for every group commit.
 */

export interface FsyncFloor {
  readonly txPerRun: number;
  /** ms per transaction of 20 small rows. */
  readonly fullMs: number;
  readonly offMs: number;
  /** fullMs − offMs: the wait for durability per commit. */
  readonly durabilityMs: number;
}

export function measureFsyncFloor(txPerRun = 300): FsyncFloor {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'sg-bench-fsync-')));
  try {
    const db = new Database(join(dir, 'floor.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT');
    const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const row = 'x'.repeat(200);
    const timeOne = (sync: 'FULL' | 'OFF'): number => {
      db.pragma(`synchronous = ${sync}`);
      const tx = db.transaction((i: number) => {
        for (let j = 0; j < 20; j++) ins.run(`${sync}-${i}-${j}`, row);
      });
      for (let i = 0; i < 20; i++) tx(-i - 1); // warm up
      const t0 = performance.now();
      for (let i = 0; i < txPerRun; i++) tx(i);
      return (performance.now() - t0) / txPerRun;
    };
    const fullMs = timeOne('FULL');
    const offMs = timeOne('OFF');
    db.close();
    return { txPerRun, fullMs, offMs, durabilityMs: fullMs - offMs };
  } finally {
    removeDir(dir);
  }
}
