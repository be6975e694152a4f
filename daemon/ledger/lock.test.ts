import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, claimPath, LockHeldError } from './lock.js';

const LINUX = existsSync('/proc/self/stat') && existsSync('/proc/sys/kernel/random/boot_id');

let dir: string;
let lock: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-lock-'));
  lock = join(dir, 'daemon.lock');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (r.pid === undefined) throw new Error('could not spawn');
  return r.pid;
}

function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19];
  if (start === undefined) throw new Error('no start time');
  return start;
}

function bootId(): string | null {
  return LINUX ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : null;
}

function record(o: { pid: number; start?: string | null; boot?: string | null; nonce?: string }): string {
  return `${JSON.stringify({ pid: o.pid, start: o.start ?? null, boot: o.boot === undefined ? bootId() : o.boot, host: hostname(), nonce: o.nonce ?? 'n' + o.pid })}\n`;
}

/** Backdates a file past the grace period given to unreadable lock content. */
function age(path: string): void {
  const t = new Date(Date.now() - 60_000);
  utimesSync(path, t, t);
}

/** Takes the lock (it must be free or stale), checks it names this process, releases it. */
function expectTakeover(): void {
  const release = acquireLock(lock);
  const owner = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number; start: string | null; boot: string | null; host: string };
  expect(owner.pid).toBe(process.pid);
  expect(owner.host).toBe(hostname());
  if (LINUX) {
    expect(owner.start).toBe(startTime(process.pid));
    expect(owner.boot).toBe(bootId());
  }
  release();
  expect(existsSync(lock)).toBe(false);
  // Nothing left behind: no temp, aside or claim files.
  expect(readdirSync(dir)).toEqual([]);
}

describe('acquireLock', () => {
  it('creates the lock with its owner, refuses a second taker in the same process, and releases', () => {
    const release = acquireLock(lock);
    expect(() => acquireLock(lock)).toThrow(LockHeldError);
    expect(() => acquireLock(lock)).toThrow(new RegExp(`another spendguard daemon \\(pid ${process.pid}\\) already uses this ledger; lock file`));
    release();
    release(); // idempotent
    expectTakeover();
  });

  it('release leaves a lock that is not its own alone', () => {
    const release = acquireLock(lock);
    const other = record({ pid: process.ppid, start: LINUX ? startTime(process.ppid) : null });
    writeFileSync(lock, other);
    release();
    expect(readFileSync(lock, 'utf8')).toBe(other);
  });

  it('takes over an empty lock file once it is past the grace period, and a fresh one shortly after', () => {
    writeFileSync(lock, '');
    age(lock);
    const t0 = Date.now();
    expectTakeover();
    expect(Date.now() - t0).toBeLessThan(400);

    writeFileSync(lock, ''); // just created: maybe an old-version daemon about to write its pid
    const t1 = Date.now();
    expectTakeover();
    expect(Date.now() - t1).toBeGreaterThanOrEqual(300);
  });

  it('takes over garbage content', () => {
    for (const junk of ['garbage\n', '{"pid":', '{"pid":"12"}', '-5', '0', 'null', '[1]', '\u0000\u0000']) {
      writeFileSync(lock, junk);
      age(lock);
      expectTakeover();
    }
  });

  it('takes over a lock whose pid is dead, in the new format and in the old bare-pid one', () => {
    writeFileSync(lock, record({ pid: deadPid(), start: '1' }));
    expectTakeover();
    writeFileSync(lock, `${deadPid()}`);
    expectTakeover();
  });

  it('refuses while the owner is alive, in the new format and in the old bare-pid one', () => {
    const pid = process.ppid;
    for (const content of [record({ pid, start: LINUX ? startTime(pid) : null }), `${pid}\n`]) {
      writeFileSync(lock, content);
      expect(() => acquireLock(lock)).toThrow(new RegExp(`another spendguard daemon \\(pid ${pid}\\) already uses this ledger; lock file ${lock.replace(/[.]/g, '\\.')}`));
      expect(readFileSync(lock, 'utf8')).toBe(content);
    }
  });

  it.skipIf(!LINUX)('takes over a lock whose pid is alive but started at another time (pid reuse)', () => {
    const pid = process.ppid;
    const real = startTime(pid);
    writeFileSync(lock, record({ pid, start: String(Number(real) + 1) }));
    expectTakeover();
    // Sanity: the same record with the real start time is held.
    writeFileSync(lock, record({ pid, start: real }));
    expect(() => acquireLock(lock)).toThrow(LockHeldError);
  });

  it.skipIf(!LINUX)('takes over a lock from another boot even if pid and start time match', () => {
    const pid = process.ppid;
    writeFileSync(lock, record({ pid, start: startTime(pid), boot: '00000000-0000-0000-0000-000000000000' }));
    expectTakeover();
  });

  it('takes over a lock naming its own pid that this process does not hold (e.g. pid 1 in a restarted container)', () => {
    writeFileSync(lock, record({ pid: process.pid, start: LINUX ? startTime(process.pid) : null, nonce: 'earlier-incarnation' }));
    expectTakeover();
  });

  it('gets past takeover claims left by starters that died holding them', () => {
    const stale = record({ pid: deadPid() });
    writeFileSync(lock, stale);
    const claim = claimPath(lock, stale);
    const deadClaim = record({ pid: deadPid(), nonce: 'dead-claimer' });
    writeFileSync(claim, deadClaim);
    // ...and a dead starter that was in turn breaking that claim
    writeFileSync(claimPath(claim, deadClaim), record({ pid: deadPid(), nonce: 'dead-claimer-2' }));
    expectTakeover();
  });
});

describe('acquireLock across processes', () => {
  const N = 8;
  const children: ChildProcess[] = [];

  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  type Result = { won: true } | { won: false; error: string };

  function next(child: ChildProcess): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error(`child ${child.pid} exited`));
      child.once('exit', onExit);
      child.once('message', (m: unknown) => {
        child.off('exit', onExit);
        resolve(m);
      });
    });
  }

  it(`exactly one of ${N} concurrent starters wins, over free and stale locks, repeatedly`, async () => {
    for (let i = 0; i < N; i++) {
      children.push(
        fork(join(import.meta.dirname, 'lock-race-child.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
      );
    }
    await Promise.all(children.map(async (c) => expect(await next(c)).toBe('ready')));

    const seeds: Array<[string, () => void]> = [
      ['free', () => undefined],
      ['dead pid', () => writeFileSync(lock, record({ pid: deadPid(), start: '1' }))],
      ['empty', () => (writeFileSync(lock, ''), age(lock))],
      ['old bare dead pid', () => writeFileSync(lock, `${deadPid()}\n`)],
      ['pid reused', () => writeFileSync(lock, record({ pid: process.ppid, start: LINUX ? String(Number(startTime(process.ppid)) + 7) : '1', boot: LINUX ? bootId() : 'x' }))],
      ['dead pid again', () => writeFileSync(lock, record({ pid: deadPid() }))],
    ];
    let lastWinner: ChildProcess | undefined;
    for (const [name, seed] of seeds) {
      seed();
      const go = Date.now() + 150;
      const results = await Promise.all(
        children.map((c) => {
          const r = next(c);
          c.send({ go, path: lock });
          return r as Promise<Result>;
        }),
      );
      const winners = children.filter((_, i) => results[i]?.won === true);
      expect(winners.length, `${name}: ${JSON.stringify(results)}`).toBe(1);
      const winner = winners[0] as ChildProcess;
      for (const r of results) {
        if (!r.won) expect(r.error, name).toBe(`LockHeldError: another spendguard daemon (pid ${winner.pid}) already uses this ledger; lock file ${lock}`);
      }
      expect((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid, name).toBe(winner.pid);
      lastWinner = winner;
      if (name !== seeds[seeds.length - 1]?.[0]) {
        const released = next(winner);
        winner.send('release');
        expect(await released).toBe('released');
        expect(existsSync(lock), name).toBe(false);
      }
    }

    // The last winner dies holding the lock: the next starter takes it over.
    const dead = lastWinner as ChildProcess;
    await new Promise<void>((resolve) => {
      dead.once('exit', () => resolve());
      dead.kill('SIGKILL');
    });
    for (const c of children) if (c !== dead) c.send('quit');
    expectTakeover();
  }, 60_000);
});
