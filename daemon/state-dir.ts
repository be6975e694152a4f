import { chmodSync, closeSync, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The state dir is private (SPEC §8): the ledger records what every agent spent, and whoever
 * reads a token file can act as any agent or as the operator. The daemon makes the dir 0700 and
 * everything in it 0600 at every start, whatever an older version or a hand-made dir left there.
 *
 * No process-wide umask: the daemon also runs inside tests, the demo and the benches, where a
 * changed umask would reach every file the host process creates afterwards (and
 * `process.umask(mask)` throws in worker threads). Instead each file the daemon creates is
 * opened with mode 0600, and the ledger is created that way before SQLite opens it: SQLite gives
 * its -wal and -shm files the permissions of the main database file, so none of the three is
 * ever readable by others, not even for an instant.
 */

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** Entries looked at per start. The dir holds a handful; past the bound the rest are left as they are (the 0700 dir still hides them). */
export const MAX_STATE_ENTRIES = 10_000;

export interface Tightening {
  /** Entries whose mode could not be changed (owned by another user, say), each with the reason. */
  readonly failed: readonly string[];
  /** More than {@link MAX_STATE_ENTRIES} entries were found; those beyond were not looked at. */
  readonly truncated: boolean;
}

/** Creates the state dir if needed and makes it private; throws if the dir itself cannot be made 0700. */
export function makeStateDirPrivate(dir: string): Tightening {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  return tightenStateDir(dir);
}

/**
 * Sets the dir to 0700, every file under it to 0600 and every subdir to 0700. A dir that cannot
 * be made private is an error (it is what keeps the rest unreachable); a file that cannot is
 * reported in the result. Symbolic links are left alone: chmod would change their target,
 * which may lie outside the state dir.
 */
export function tightenStateDir(dir: string): Tightening {
  try {
    chmodSync(dir, PRIVATE_DIR_MODE);
  } catch (e) {
    throw new Error(`cannot make the state dir ${dir} private (mode 0700): ${reason(e)}`);
  }
  const failed: string[] = [];
  const pending = [dir];
  let seen = 0;
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    let names: string[];
    try {
      names = readdirSync(current);
    } catch (e) {
      failed.push(`${current}: ${reason(e)}`);
      continue;
    }
    for (const name of names) {
      if (++seen > MAX_STATE_ENTRIES) return { failed, truncated: true };
      const path = join(current, name);
      try {
        const st = lstatSync(path);
        if (st.isSymbolicLink()) continue;
        const want = st.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
        // Only when it differs: a file of another user that is already private is no failure.
        if ((st.mode & 0o777) !== want) chmodSync(path, want);
        if (st.isDirectory()) pending.push(path);
      } catch (e) {
        // Lock temp files come and go while another starter runs; gone is private enough.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') failed.push(`${path}: ${reason(e)}`);
      }
    }
  }
  return { failed, truncated: false };
}

/** Creates `path` empty with mode 0600 if it is missing, and makes it 0600 if it exists. */
export function createPrivateFile(path: string): void {
  // The mode at open is masked by the umask, which only ever removes bits: never above 0600.
  const fd = openSync(path, 'a', PRIVATE_FILE_MODE);
  try {
    if ((fstatSync(fd).mode & 0o777) !== PRIVATE_FILE_MODE) fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
