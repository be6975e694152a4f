import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon } from './main.js';
import { silentLogger } from './server/log.js';
import { createPrivateFile, tightenStateDir } from './state-dir.js';

const REPO = resolve(import.meta.dirname, '..');
const BIN = join(REPO, 'bin', 'spendguard.js');

const scratch: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sg-state-dir-'));
  scratch.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function modeOf(path: string): string {
  return (lstatSync(path).mode & 0o777).toString(8).padStart(4, '0');
}

/** Every entry under `dir` (not following links), relative path → octal mode; `.` is the dir. */
function modesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': modeOf(dir) };
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isSymbolicLink()) out[path.slice(dir.length + 1)] = modeOf(path);
  }
  return out;
}

/** Loosens `dir` the way an older version or `mkdir` by hand leaves it: dir 0755, files 0644. */
function loosen(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isSymbolicLink()) chmodSync(path, entry.isDirectory() ? 0o755 : 0o644);
  }
}

/** The URL in daemon.json, or undefined while it is missing or half written. */
function endpointUrl(path: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { url: string }).url;
  } catch {
    return undefined;
  }
}

describe('tightenStateDir', () => {
  it('makes the dir and subdirs 0700 and every file 0600', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'agent.token'), 'x'.repeat(40));
    writeFileSync(join(dir, 'notes.txt'), 'by hand');
    mkdirSync(join(dir, 'old'));
    writeFileSync(join(dir, 'old', 'backup.db'), '');
    loosen(dir);
    const result = tightenStateDir(dir);
    expect(result).toEqual({ failed: [], truncated: false });
    expect(modesUnder(dir)).toEqual({ '.': '0700', 'agent.token': '0600', 'notes.txt': '0600', old: '0700', 'old/backup.db': '0600' });
  });

  it('leaves a symbolic link and its target outside the dir alone', () => {
    const dir = tempDir();
    const outside = join(tempDir(), 'shared.txt');
    writeFileSync(outside, 'not ours to hide');
    chmodSync(outside, 0o644);
    symlinkSync(outside, join(dir, 'link'));
    tightenStateDir(dir);
    expect(modeOf(outside)).toBe('0644');
  });

  it('refuses, naming the dir, when the dir cannot be made private', () => {
    expect(() => tightenStateDir(join(tempDir(), 'missing'))).toThrow(/cannot make the state dir .*missing private \(mode 0700\)/);
  });
});

describe('createPrivateFile', () => {
  it('creates a missing file 0600, and makes an existing one 0600 keeping its bytes', () => {
    const dir = tempDir();
    createPrivateFile(join(dir, 'new.db'));
    expect(modeOf(join(dir, 'new.db'))).toBe('0600');
    writeFileSync(join(dir, 'old.db'), 'bytes');
    chmodSync(join(dir, 'old.db'), 0o644);
    createPrivateFile(join(dir, 'old.db'));
    expect(modeOf(join(dir, 'old.db'))).toBe('0600');
    expect(readFileSync(join(dir, 'old.db'), 'utf8')).toBe('bytes');
  });
});

describe('the ledger is never readable by others, not even for an instant', () => {
  // Runs in a child under umask 000, the worst case, and looks at the files SQLite made while
  // the ledger is open, before anything could tighten them afterwards.
  const child = `
    import { statSync } from 'node:fs';
    import { join } from 'node:path';
    const [dir, how] = process.argv.slice(2);
    const { createPrivateFile } = await import(${JSON.stringify(join(REPO, 'daemon', 'state-dir.ts'))});
    const { Ledger } = await import(${JSON.stringify(join(REPO, 'daemon', 'ledger', 'ledger.ts'))});
    const path = join(dir, 'ledger.db');
    if (how === 'private') createPrivateFile(path);
    const ledger = new Ledger(path);
    const mode = (p) => (statSync(p).mode & 0o777).toString(8).padStart(4, '0');
    process.stdout.write(JSON.stringify({ db: mode(path), wal: mode(path + '-wal'), shm: mode(path + '-shm') }));
    ledger.close();
  `;
  function modesUnderUmask000(how: 'private' | 'plain'): unknown {
    const dir = tempDir();
    const script = join(dir, 'child.mts');
    writeFileSync(script, child);
    const r = spawnSync('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, '--import', 'tsx', script, dir, how], { cwd: REPO, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  it('created 0600 before SQLite opens it, so SQLite makes -wal and -shm 0600 too', () => {
    expect(modesUnderUmask000('private')).toEqual({ db: '0600', wal: '0600', shm: '0600' });
  });

  it('(control: left to SQLite, all three would be readable by others)', () => {
    expect(modesUnderUmask000('plain')).toEqual({ db: '0644', wal: '0644', shm: '0644' });
  });
});

describe('startDaemon makes the state dir private', () => {
  it('a dir of an older version (0755, files 0644, -wal and -shm left over) ends 0700 with every file 0600', async () => {
    const dir = tempDir();
    const first = await startDaemon({ stateDir: dir, listen: '127.0.0.1:0', log: silentLogger });
    await first.stop();
    // A connection held open keeps -wal and -shm on disk, as after a crash: SQLite reuses them as they are.
    const held = new Database(join(dir, 'ledger.db'));
    held.pragma('journal_mode = WAL');
    held.prepare("INSERT INTO meta (name, value) VALUES ('note', 'x') ON CONFLICT(name) DO UPDATE SET value = excluded.value").run();
    writeFileSync(join(dir, 'notes.txt'), 'by hand');
    writeFileSync(join(dir, 'daemon.lock.tmp-stray'), '');
    mkdirSync(join(dir, 'old'));
    writeFileSync(join(dir, 'old', 'ledger.db.bak'), '');
    loosen(dir);
    expect(modeOf(join(dir, 'ledger.db-wal'))).toBe('0644');
    const daemon = await startDaemon({ stateDir: dir, listen: '127.0.0.1:0', log: silentLogger });
    try {
      const modes = modesUnder(dir);
      expect(Object.keys(modes)).toEqual(
        expect.arrayContaining(['ledger.db', 'ledger.db-wal', 'ledger.db-shm', 'agent.token', 'operator.token', 'daemon.lock', 'daemon.json', 'notes.txt', 'old/ledger.db.bak']),
      );
      for (const [path, mode] of Object.entries(modes)) expect({ path, mode }).toEqual({ path, mode: path === '.' || path === 'old' ? '0700' : '0600' });
    } finally {
      await daemon.stop();
      held.close();
    }
  });

  it('a fresh dir: the ledger and its -wal/-shm are 0600 from the start', async () => {
    const dir = join(tempDir(), 'nested', 'state');
    const daemon = await startDaemon({ stateDir: dir, listen: '127.0.0.1:0', log: silentLogger });
    try {
      expect(modesUnder(dir)).toMatchObject({ '.': '0700', 'ledger.db': '0600', 'ledger.db-wal': '0600', 'ledger.db-shm': '0600', 'agent.token': '0600', 'operator.token': '0600' });
    } finally {
      await daemon.stop();
    }
  });

  it('the real daemon process under umask 000 keeps everything private', async () => {
    const dir = join(tempDir(), 'state');
    const child = spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, BIN, 'daemon', '--state-dir', dir, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      // Healthy, not merely listed in daemon.json: its SIGTERM handler is installed once start-up has returned.
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not start: ${stderr}`);
        const url = endpointUrl(join(dir, 'daemon.json'));
        if (url !== undefined && (await fetch(`${url.replace('ws://', 'http://')}/healthz`).then((r) => r.ok, () => false))) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const modes = modesUnder(dir);
      expect(Object.keys(modes)).toEqual(expect.arrayContaining(['ledger.db', 'ledger.db-wal', 'ledger.db-shm', 'agent.token', 'daemon.json', 'daemon.lock']));
      for (const [path, mode] of Object.entries(modes)) expect({ path, mode }).toEqual({ path, mode: path === '.' ? '0700' : '0600' });
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
