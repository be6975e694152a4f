import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

export class LockHeldError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One daemon per ledger: a pid file created exclusively. A lock left by a dead process (SIGKILL)
 * is taken over; a live holder makes the second daemon exit with a clear message.
 */
export function acquireLock(path: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      try {
        holder = Number(readFileSync(path, 'utf8').trim());
      } catch {
        continue;
      }
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new LockHeldError(`another spendguard daemon (pid ${holder}) already uses this ledger; lock file ${path}`);
      }
      try {
        unlinkSync(path);
      } catch {
        /* raced with another starter; retry */
      }
    }
  }
  throw new LockHeldError(`could not take the ledger lock ${path}`);
}
