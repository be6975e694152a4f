import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

export class LockHeldError extends Error {}

/**
 * One daemon per ledger.
 *
 * The lock file holds one JSON line naming its owner:
 * `{"pid":123,"start":"84344","boot":"56f8…","host":"box","nonce":"9c1e…"}` — `start` is the
 * process start time (clock ticks since boot, field 22 of /proc/<pid>/stat) and `boot` the kernel
 * boot id, both `null` where /proc is missing (macOS), and `nonce` makes every lock file unique.
 * A bare pid (the old format) is still understood.
 *
 * - Creating: the content is written (and fsynced) to a private temp file which is then
 *   hard-linked to the lock path. `link` fails if the path exists, so creation is atomic and a
 *   lock file is never visible empty or half written.
 * - A live owner makes the next starter fail with a clear {@link LockHeldError}. The owner is
 *   judged on this machine (the state dir is assumed not to be shared between hosts): it is stale
 *   if the boot id differs (rebooted), its pid is gone or a zombie, the process now behind the
 *   pid started at another time (pid reused, e.g. after a reboot or a container restart), or the
 *   pid is ours while this process does not hold that lock.
 * - Taking over a stale lock: several starters may judge the same lock stale at once, and must
 *   not remove each other's fresh lock (read, then unlink, removes whatever is there by then).
 *   Only the starter that creates the claim file `<lock>.break-<hash of the stale content>`
 *   (again create-if-absent) may remove it. Holding the claim it re-reads the lock and, if still
 *   the stale content, renames it aside to a unique name, checks that what it moved is that
 *   content (else links it back), deletes it and drops the claim. Everyone then retries the link,
 *   and exactly one link succeeds. A claim left by a starter that died holding it is broken the
 *   same way, one level up.
 * - Unreadable content (empty, garbage) is stale once it is older than a short grace period; the
 *   grace covers an old-version daemon that creates its pid file first and writes the pid after.
 */

const CONTENTION_MS = 5_000;
const GARBAGE_GRACE_MS = 500;
const MAX_CLAIM_DEPTH = 3;

interface Owner {
  readonly pid: number;
  readonly start: string | null;
  readonly boot: string | null;
  readonly host: string | null;
  readonly nonce: string;
}

/** Nonces of the lock (and claim) files this process holds right now. */
const held = new Set<string>();

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}

function bootId(): string | null {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id.length > 0 ? id : null;
  } catch {
    return null;
  }
}

/** State letter and start time of a process from /proc/<pid>/stat; undefined where unavailable. */
function procStat(pid: number): { state: string; start: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/);
  const state = fields[0];
  const start = fields[19]; // field 22, counting pid as 1
  if (state === undefined || start === undefined || !/^\d+$/.test(start)) return undefined;
  return { state, start };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

function newOwner(): Owner {
  return { pid: process.pid, start: procStat(process.pid)?.start ?? null, boot: bootId(), host: hostname(), nonce: randomBytes(12).toString('hex') };
}

function serialize(o: Owner): string {
  return `${JSON.stringify({ pid: o.pid, start: o.start, boot: o.boot, host: o.host, nonce: o.nonce })}\n`;
}

function isPid(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}

function stringOrNull(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

/** The owner a lock file names, or undefined for content that names none (empty, garbage). */
function parseOwner(raw: string): Owner | undefined {
  const text = raw.trim();
  if (/^\d+$/.test(text)) {
    const pid = Number(text);
    return isPid(pid) ? { pid, start: null, boot: null, host: null, nonce: '' } : undefined;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const { pid, start, boot, host, nonce } = r;
  if (!isPid(pid) || !stringOrNull(start) || !stringOrNull(boot) || !stringOrNull(host) || typeof nonce !== 'string') return undefined;
  return { pid, start, boot, host, nonce };
}

/** Whether the process that wrote `o` is still running (see the module comment). */
function ownerAlive(o: Owner): boolean {
  const boot = bootId();
  if (o.boot !== null && boot !== null && o.boot !== boot) return false;
  if (o.pid === process.pid) return held.has(o.nonce);
  if (!pidExists(o.pid)) return false;
  const now = procStat(o.pid);
  if (now === undefined) return true; // no /proc: pid liveness is all we have
  if (now.state === 'Z' || now.state === 'X') return false;
  return o.start === null || o.start === now.start;
}

function modifiedWithin(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < ms;
  } catch {
    return false;
  }
}

/** Creates `path` holding `content` iff it does not exist; never exposes a partial file. */
function createExclusive(path: string, content: string, nonce: string): boolean {
  const tmp = `${path}.tmp-${nonce}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if (errno(e) === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkQuiet(tmp);
  }
}

/** Name of the claim file whose creator alone may remove `raw` from `path`. */
export function claimPath(path: string, raw: string): string {
  return `${path}.break-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
}

/**
 * Removes `path` if it still holds exactly `raw`, judged stale by the caller; or waits a moment
 * while another starter does so. Either way the caller then retries from the top.
 */
function breakStale(path: string, raw: string, depth: number): void {
  const claim = claimPath(path, raw);
  const me = newOwner();
  const mine = serialize(me);
  if (!createExclusive(claim, mine, me.nonce)) {
    // Someone else is removing this very lock, or died while doing so.
    const theirs = readOrUndefined(claim);
    if (theirs === undefined) return;
    const claimer = parseOwner(theirs);
    const abandoned = claimer === undefined ? !modifiedWithin(claim, GARBAGE_GRACE_MS) : !ownerAlive(claimer);
    if (abandoned && depth < MAX_CLAIM_DEPTH) breakStale(claim, theirs, depth + 1);
    else sleep(2 + Math.random() * 8);
    return;
  }
  held.add(me.nonce);
  try {
    // Only holders of this claim remove `raw`, and its writer is gone: if it is still there, it
    // stays there until we move it.
    if (readOrUndefined(path) !== raw) return;
    const aside = `${path}.stale-${me.nonce}`;
    try {
      renameSync(path, aside);
    } catch (e) {
      if (errno(e) === 'ENOENT') return;
      throw e;
    }
    if (readOrUndefined(aside) !== raw) {
      // Not what we judged stale (an old-version daemon wrote its pid in place meanwhile): put it
      // back unless a new lock already took the path.
      try {
        linkSync(aside, path);
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw e;
      }
    }
    unlinkQuiet(aside);
  } finally {
    if (readOrUndefined(claim) === mine) unlinkQuiet(claim);
    held.delete(me.nonce);
  }
}

function heldMessage(path: string, o: Owner): string {
  const where = o.host !== null && o.host !== hostname() ? ` on ${o.host}` : '';
  return `another spendguard daemon (pid ${o.pid}${where}) already uses this ledger; lock file ${path}`;
}

/**
 * Takes the ledger lock at `path` or throws {@link LockHeldError} naming the live owner.
 * Returns the release function, which removes the lock file if it is still this one.
 */
export function acquireLock(path: string): () => void {
  const me = newOwner();
  const content = serialize(me);
  const deadline = Date.now() + CONTENTION_MS;
  while (Date.now() < deadline) {
    if (createExclusive(path, content, me.nonce)) {
      held.add(me.nonce);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (readOrUndefined(path) === content) unlinkQuiet(path);
        } catch {
          /* the state dir went away; nothing to release */
        } finally {
          held.delete(me.nonce);
        }
      };
    }
    const current = readOrUndefined(path);
    if (current === undefined) continue; // released or removed meanwhile: link again
    const owner = parseOwner(current);
    if (owner === undefined) {
      if (modifiedWithin(path, GARBAGE_GRACE_MS)) {
        sleep(10);
        continue;
      }
    } else if (ownerAlive(owner)) {
      throw new LockHeldError(heldMessage(path, owner));
    }
    breakStale(path, current, 0);
  }
  throw new LockHeldError(`could not take the ledger lock ${path}: it kept changing hands for ${CONTENTION_MS / 1000} s`);
}
