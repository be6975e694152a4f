import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNewLines, START, type Cursor, type ReadOptions } from './line-reader.js';

async function read(path: string, cursor: Cursor, opts?: ReadOptions): Promise<{ lines: Array<[string, number]>; cursor: Cursor; restarted: boolean; oversized: number }> {
  const lines: Array<[string, number]> = [];
  const r = await readNewLines(path, cursor, (line, offset) => lines.push([line, offset]), opts);
  return { lines, ...r };
}

function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sg-lines-')), 't.jsonl');
  writeFileSync(path, content);
  return path;
}

describe('readNewLines', () => {
  it('hands out complete lines with their offsets and leaves a partial last line for later', async () => {
    const path = file('{"a":1}\n{"b":2}\n{"c":');
    const first = await read(path, START);
    expect(first.lines).toEqual([['{"a":1}', 0], ['{"b":2}', 8]]);
    expect(first.cursor.offset).toBe(16);
    appendFileSync(path, '3}\n');
    const second = await read(path, first.cursor);
    expect(second.lines).toEqual([['{"c":3}', 16]]);
    expect((await read(path, second.cursor)).lines).toEqual([]);
  });

  it('splits on bytes across chunk boundaries without breaking multi-byte characters', async () => {
    const path = file('"héllo wörld €"\n"二"\n');
    const r = await read(path, START, { chunk_bytes: 3 });
    expect(r.lines.map(([l]) => l)).toEqual(['"héllo wörld €"', '"二"']);
  });

  it('starts over when the file shrank or was replaced', async () => {
    const path = file('one\ntwo\n');
    const first = await read(path, START);
    writeFileSync(path, 'x\n');
    const shrunk = await read(path, first.cursor);
    expect(shrunk).toMatchObject({ restarted: true, lines: [['x', 0]] });
    const other = join(path, '..', 'other.jsonl');
    writeFileSync(other, 'new-1\nnew-2\n');
    renameSync(other, path);
    const replaced = await read(path, shrunk.cursor);
    expect(replaced).toMatchObject({ restarted: true, lines: [['new-1', 0], ['new-2', 6]] });
  });

  it('drops a line longer than the bound, also when its end arrives later', async () => {
    const path = file(`ok\n${'x'.repeat(50)}`);
    const first = await read(path, START, { chunk_bytes: 8, max_line_bytes: 20 });
    expect(first).toMatchObject({ lines: [['ok', 0]], oversized: 1, cursor: { skipping: true } });
    appendFileSync(path, 'xxxx\nafter\n');
    const second = await read(path, first.cursor, { chunk_bytes: 8, max_line_bytes: 20 });
    expect(second.lines.map(([l]) => l)).toEqual(['after']);
    expect(second.cursor.skipping).toBe(false);
  });
});
