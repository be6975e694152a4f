/**
 * SPEC §10: restart with 1,000,000 ledger rows rebuilds its counters in ≤ 2 s.
 * Run: node --import tsx bench/restart.ts [rows]
 *
 * Writes `rows` usage rows straight into a fresh ledger (no counters snapshot), starts the
 * daemon once (the slow path: it replays every row, then snapshots), then times a second start,
 * which is what a restart of a running daemon looks like (snapshot + the rows after it).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEDGER_DDL } from '../daemon/ledger/schema.js';
import { startDaemon } from '../daemon/main.js';
import { silentLogger } from '../daemon/server/log.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'sg-restart-'));
try {
  const db = new Database(join(dir, 'ledger.db'));
  db.pragma('journal_mode = WAL');
  db.exec(LEDGER_DDL);
  const insert = db.prepare(
    `INSERT INTO usage (key, ns, ts, kind, user, session, task, agent, chain, model, input_tokens, output_tokens,
       cache_read_tokens, cache_write_tokens, cost_nano, tool, op, overshoot)
     VALUES (?, ?, ?, 'spend', 'default', ?, ?, ?, ?, 'gpt-4o', 100, 50, 0, 0, 1000, NULL, NULL, 0)`,
  );
  const start = Date.now() - rows;
  db.transaction(() => {
    for (let i = 0; i < rows; i++) {
      const s = `s${i % 100}`;
      const t = `t${i % 1000}`;
      const a = `a${i % 5000}`;
      insert.run(`k-${i}`, `session:${s}`, start + i, s, t, a, JSON.stringify(['global', 'user:default', `session:${s}`, `task:${t}`, `agent:${a}`]));
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  for (const label of ['first start (replays every row, no snapshot yet)', 'restart (snapshot + rows after it)']) {
    const t0 = performance.now();
    const daemon = await startDaemon({ stateDir: dir, listen: '127.0.0.1:0', log: silentLogger });
    const ms = performance.now() - t0;
    const spent = daemon.engine.scopes.get('global' as never)?.counters.life.cost ?? 0;
    const ok = spent === rows * 1000;
    process.stdout.write(`${label}: ${ms.toFixed(0)} ms for ${rows.toLocaleString()} rows, ${daemon.engine.scopes.size} scopes, global spent ${ok ? 'matches' : 'DOES NOT match'} the rows\n`);
    await daemon.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
