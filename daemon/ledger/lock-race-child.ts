/**
 * Child process for lock.test.ts: on `{ go: <epoch ms>, path }` it spins until that instant,
 * tries the ledger lock and reports `{ won: true }` or `{ won: false, error }`; a winner holds
 * the lock until the parent sends `release` (answered with `released`). `quit` ends the child.
 */
import { acquireLock } from './lock.js';

type Go = { go: number; path: string };

function isGo(m: unknown): m is Go {
  return typeof m === 'object' && m !== null && typeof (m as Go).go === 'number' && typeof (m as Go).path === 'string';
}

let release: (() => void) | undefined;

process.on('message', (m: unknown) => {
  if (isGo(m)) {
    while (Date.now() < m.go) {
      /* spin, so that every child starts at the same instant */
    }
    try {
      release = acquireLock(m.path);
      process.send?.({ won: true });
    } catch (e) {
      process.send?.({ won: false, error: e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e) });
    }
  } else if (m === 'release') {
    release?.();
    release = undefined;
    process.send?.('released');
  } else if (m === 'quit') {
    process.disconnect();
  }
});
process.send?.('ready');
