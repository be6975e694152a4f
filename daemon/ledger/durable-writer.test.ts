import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { UsageRow } from '../engine/events.js';
import { namespacedKey } from '../engine/settlement.js';
import Database from 'better-sqlite3';
import type { ActionRow } from '../engine/events.js';
import { type Batch, BatchWriter } from './batch-writer.js';
import { PART_ROWS, type WriteOutcome, WorkerWriter } from './durable-writer.js';
import { MAX_HELD } from '../server/group-commit.js';
import type { ScopeSnapshot } from './batch-writer.js';
import { Ledger } from './ledger.js';

function row(key: string, cost_nano: number): UsageRow {
  return { key, ns: 'session:s', ts: 2, kind: 'spend', user: 'u', session: 's', task: 't', agent: 'a', chain: ['global'], model: null, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cost_nano, tool: null, op: null, overshoot: false };
}

const open: Array<{ ledger: Ledger; writer: WorkerWriter }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.writer.close();
    o.ledger.close();
  }
});

// The compiled workers (the test runner builds dist/ first): a worker cannot start from .ts.
const WORKER = new URL('../../dist/daemon/ledger/write-worker.js', import.meta.url);
const DYING_WORKER = new URL('../../dist/daemon/ledger/test-support/dying-write-worker.js', import.meta.url);

function setup(run?: string, script = WORKER): { path: string; ledger: Ledger; writer: WorkerWriter; write: (batch: Batch) => Promise<WriteOutcome> } {
  const path = join(mkdtempSync(join(tmpdir(), 'sg-writer-')), 'ledger.db');
  const ledger = new Ledger(path);
  const writer = new WorkerWriter(path, (batch) => ledger.written(batch.usage), script, run);
  open.push({ ledger, writer });
  return { path, ledger, writer, write: (batch) => new Promise((resolve) => writer.write(batch, resolve)) };
}

describe('the ledger writer thread', () => {
  it('commits a batch on its own connection; once done, the main connection finds its keys', async () => {
    const { ledger, write } = setup();
    const outcome = await write({ usage: [row('k1', 5), row('k2', 7)], actions: [], scopes: null });
    expect(outcome).toMatchObject({ ok: true });
    expect(ledger.hasKey(namespacedKey('session:s', 'k1'))).toBe(true);
    expect(ledger.hasKey(namespacedKey('session:s', 'k2'))).toBe(true);
  });

  it('a batch that fails writes nothing of itself and says why; the next one goes through', async () => {
    const { ledger, write } = setup();
    await write({ usage: [row('dup', 1)], actions: [], scopes: null });
    const failed = await write({ usage: [row('fresh', 1), row('dup', 2)], actions: [], scopes: null });
    expect(failed).toMatchObject({ ok: false, error: expect.stringMatching(/UNIQUE/) });
    expect(ledger.hasKey(namespacedKey('session:s', 'fresh'))).toBe(false);
    expect(await write({ usage: [row('fresh', 1)], actions: [], scopes: null })).toMatchObject({ ok: true });
  });

  it('refuses a second batch while one is in flight (the supervisor sends one at a time)', async () => {
    const { writer, write } = setup();
    const first = write({ usage: [row('a', 1)], actions: [], scopes: null });
    expect(() => writer.write({ usage: [row('b', 1)], actions: [], scopes: null }, () => undefined)).toThrow(/one batch at a time/);
    expect(await first).toMatchObject({ ok: true });
  });

  it('a batch in doubt (committed, its thread lost before it answered) is not written twice when sent again', async () => {
    const { path, write } = setup('run-1');
    const grant = { ts: 1, kind: 'grant', scope: 'task:t', actor: 'cli:a@h', data: { cost_nano: 5, tokens: 0 } } as unknown as ActionRow;
    // As if the first thread committed batch 1 of run-1 and died before it could say so.
    const other = new Database(path);
    new BatchWriter(other).write({ usage: [], actions: [grant], scopes: null }, 'run-1:1');
    other.close();
    expect(await write({ usage: [], actions: [grant], scopes: null })).toMatchObject({ ok: true });
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT COUNT(*) FROM actions WHERE kind = 'grant'").pluck().get()).toBe(1);
    check.close();
    // The next batch has its own token and is written.
    expect(await write({ usage: [], actions: [grant], scopes: null })).toMatchObject({ ok: true });
  });

  // The thread really dies (process.exit in the worker ends the thread), at either side of COMMIT.
  const grantsIn = (path: string): number => {
    const check = new Database(path, { readonly: true });
    try {
      return check.prepare("SELECT COUNT(*) FROM actions WHERE kind = 'grant'").pluck().get() as number;
    } finally {
      check.close();
    }
  };
  const grantRow = { ts: 1, kind: 'grant', scope: 'task:t', actor: 'cli:a@h', data: { cost_nano: 5, tokens: 0 } } as unknown as ActionRow;

  it('a thread that dies after its COMMIT, before answering: the batch is done once, on a fresh thread, never twice', async () => {
    const { path, ledger, write } = setup(undefined, DYING_WORKER);
    writeFileSync(`${path}.die-after-commit`, '');
    const outcome = await write({ usage: [row('once', 9)], actions: [grantRow], scopes: null });
    expect(outcome).toMatchObject({ ok: true });
    expect(existsSync(`${path}.die-after-commit`)).toBe(false); // the thread did die
    expect(grantsIn(path)).toBe(1);
    expect(ledger.hasKey(namespacedKey('session:s', 'once'))).toBe(true);
    // The fresh thread goes on writing.
    expect(await write({ usage: [row('next', 1)], actions: [grantRow], scopes: null })).toMatchObject({ ok: true });
    expect(grantsIn(path)).toBe(2);
  });

  it('a thread that dies before writing: the batch is written by a fresh thread, once', async () => {
    const { path, write } = setup(undefined, DYING_WORKER);
    writeFileSync(`${path}.die-before-write`, '');
    expect(await write({ usage: [row('k', 3)], actions: [grantRow], scopes: null })).toMatchObject({ ok: true });
    expect(existsSync(`${path}.die-before-write`)).toBe(false);
    expect(grantsIn(path)).toBe(1);
  });

  it('threads that keep dying: past its resends the batch fails having written nothing, and the next thread writes', async () => {
    const { path, write } = setup(undefined, DYING_WORKER);
    // The first thread and both fresh ones die before writing.
    writeFileSync(`${path}.die-before-write`, '3');
    expect(await write({ usage: [], actions: [grantRow], scopes: null })).toMatchObject({ ok: false, error: expect.stringMatching(/writer thread stopped/) });
    expect(grantsIn(path)).toBe(0);
    // The supervisor sends it again (with what gathered since): a fresh thread writes it once.
    expect(await write({ usage: [], actions: [grantRow], scopes: null })).toMatchObject({ ok: true });
    expect(grantsIn(path)).toBe(1);
  });

  // The backlog of a disk that was full: every held row at the protocol's largest field sizes, and
  // the counters of a crowd of scopes, in one batch. Whole, it would not fit the thread's heap.
  const big = (i: number): UsageRow => {
    const name = (c: string): string => `${c}${i}`.padEnd(128, c);
    return {
      ...row(name('k'), 1_000 + i),
      user: name('u'), session: name('s'), task: name('t'), agent: name('a'), ns: `session:${name('s')}`,
      chain: ['global', `user:${name('u')}`, `session:${name('s')}`, `task:${name('t')}`, `agent:${name('a')}`],
      model: 'm'.repeat(256), tool: 'x'.repeat(256), op: 'o'.repeat(256), input_tokens: 1_000_000_000, output_tokens: 1_000_000_000,
    };
  };
  const counters = (i: number): ScopeSnapshot => ({
    scope: `agent:${String(i).padEnd(128, 'a')}`,
    parent: `task:${'t'.repeat(128)}`,
    counters: {
      life: { cost: i, tokens: 2 * i, input_tokens: i, output_tokens: i, calls: 1, [`model:${'m'.repeat(256)}:tokens`]: 2 * i, [`model:${'m'.repeat(256)}:cost`]: i, [`op:${'o'.repeat(256)}`]: 1 },
      windows: { hour: { period: '2026-12-07T15', spent: { cost: i } }, day: { period: '2026-12-07', spent: { cost: i } }, week: { period: '2026-W50', spent: { cost: i } }, month: { period: '2026-12', spent: { cost: i } } },
      first_event_ms: 1,
      grace_used: false,
    },
  });
  const count = (path: string, sql: string): unknown => {
    const check = new Database(path, { readonly: true });
    try {
      return check.prepare(sql).pluck().get();
    } finally {
      check.close();
    }
  };

  it('the largest backlog (MAX_HELD rows of the largest fields, counters of 20,000 scopes) is written whole, in parts of one transaction, on the capped heap', async () => {
    const { path, ledger, write } = setup();
    const usage = Array.from({ length: MAX_HELD }, (_, i) => big(i));
    const scopes = Array.from({ length: 20_000 }, (_, i) => counters(i));
    expect(await write({ usage, actions: [grantRow], scopes })).toMatchObject({ ok: true });
    expect(count(path, 'SELECT COUNT(*) FROM usage')).toBe(MAX_HELD);
    expect(count(path, 'SELECT COUNT(*) FROM scope_totals')).toBe(20_000);
    // The snapshot covers the batch's last row, written in an earlier part than the last counters.
    expect(count(path, "SELECT value FROM meta WHERE name = 'totals_seq'")).toBe(String(count(path, 'SELECT MAX(seq) FROM usage')));
    expect(ledger.hasKey(namespacedKey(usage[MAX_HELD - 1]!.ns, usage[MAX_HELD - 1]!.key))).toBe(true);
  }, 60_000);

  it('a part that fails leaves nothing of the batch, not even the parts before it', async () => {
    const { path, write } = setup();
    const usage = Array.from({ length: PART_ROWS * 2 }, (_, i) => row(`p${i}`, 1));
    usage.push(row('p0', 1)); // the same key as the first row: the third part fails
    expect(await write({ usage, actions: [], scopes: null })).toMatchObject({ ok: false, error: expect.stringMatching(/UNIQUE/) });
    expect(count(path, 'SELECT COUNT(*) FROM usage')).toBe(0);
    expect(await write({ usage: [row('after', 1)], actions: [], scopes: null })).toMatchObject({ ok: true });
  });

  it('a thread that dies between the parts of a batch: a fresh thread writes the whole batch, once', async () => {
    const { path, write } = setup(undefined, DYING_WORKER);
    writeFileSync(`${path}.die-after-part`, '');
    const usage = Array.from({ length: PART_ROWS * 2 + 5 }, (_, i) => row(`d${i}`, 1));
    expect(await write({ usage, actions: [grantRow], scopes: null })).toMatchObject({ ok: true });
    expect(existsSync(`${path}.die-after-part`)).toBe(false);
    expect(count(path, 'SELECT COUNT(*) FROM usage')).toBe(usage.length);
    expect(grantsIn(path)).toBe(1);
  });
});
