import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { serveWrites } from '../write-service.js';

/**
 * A writer thread that dies, as a crashed thread would, at the point a marker file beside the
 * ledger names — `<ledger>.die-before-write`, `<ledger>.die-after-part` (the first part of a
 * batch in parts) or `<ledger>.die-after-commit` — as many times as
 * the marker says (empty: once). The marker goes with the last death, so the fresh thread after
 * it writes normally.
 */
if (!parentPort) throw new Error('dying-write-worker runs as a worker thread');
const path = (workerData as { path: string }).path;
const dieAt = (point: string): void => {
  const marker = `${path}.${point}`;
  if (!existsSync(marker)) return;
  const left = Number(readFileSync(marker, 'utf8') || '1') - 1;
  if (left > 0) writeFileSync(marker, String(left));
  else unlinkSync(marker);
  process.exit(70);
};
serveWrites(parentPort, path, {
  beforeWrite: () => dieAt('die-before-write'),
  afterPart: (r) => {
    if (r.part === 0 && r.parts > 1) dieAt('die-after-part');
  },
  afterCommit: () => dieAt('die-after-commit'),
});
