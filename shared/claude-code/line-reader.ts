import { open, stat } from 'node:fs/promises';

/** Where reading a file stopped: the byte after the last complete line handed out. */
export interface Cursor {
  offset: number;
  /** The file's identity: a different inode at the same path is a new file. */
  ino: number;
  /** Inside a line longer than the bound, dropping bytes until its newline. */
  skipping: boolean;
}

export const START: Cursor = { offset: 0, ino: -1, skipping: false };

export interface ReadResult {
  cursor: Cursor;
  /** The file shrank or was replaced: reading restarted from its beginning. */
  restarted: boolean;
  /** Lines dropped for exceeding the bound. */
  oversized: number;
}

export interface ReadOptions {
  chunk_bytes?: number;
  /** Longest line handed out; a transcript line with a pasted image can be megabytes. */
  max_line_bytes?: number;
}

const NEWLINE = 0x0a;

/**
 * Hands out every complete line appended since `cursor` (with the offset it starts at) and
 * returns the new cursor. An unterminated last line is left for the next read: the writer may
 * be in the middle of it. Memory is bounded by `max_line_bytes` + `chunk_bytes`.
 */
export async function readNewLines(path: string, cursor: Cursor, onLine: (line: string, offset: number) => void, opts: ReadOptions = {}): Promise<ReadResult> {
  const chunkBytes = opts.chunk_bytes ?? 1024 * 1024;
  const maxLine = opts.max_line_bytes ?? 64 * 1024 * 1024;
  const info = await stat(path);
  let { offset, skipping } = cursor;
  const replaced = cursor.ino !== -1 && info.ino !== cursor.ino;
  const restarted = replaced || info.size < offset;
  if (restarted) [offset, skipping] = [0, false];
  let oversized = 0;
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    let carry: Buffer[] = [];
    let carryBytes = 0;
    let lineStart = offset;
    let pos = offset;
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, chunkBytes, pos);
      if (bytesRead === 0) break;
      let from = 0;
      for (let nl = buf.indexOf(NEWLINE, 0); nl !== -1 && nl < bytesRead; nl = buf.indexOf(NEWLINE, from)) {
        if (skipping) skipping = false;
        else onLine(Buffer.concat([...carry, buf.subarray(from, nl)]).toString('utf8'), lineStart);
        carry = [];
        carryBytes = 0;
        from = nl + 1;
        lineStart = pos + from;
      }
      if (from < bytesRead && !skipping) {
        carry.push(Buffer.from(buf.subarray(from, bytesRead)));
        carryBytes += bytesRead - from;
        if (carryBytes > maxLine) {
          [carry, carryBytes, skipping] = [[], 0, true];
          oversized += 1;
        }
      }
      pos += bytesRead;
    }
    // A line being skipped is consumed as it is read; an incomplete one is read again next time.
    return { cursor: { offset: skipping ? pos : lineStart, ino: info.ino, skipping }, restarted, oversized };
  } finally {
    await handle.close();
  }
}
