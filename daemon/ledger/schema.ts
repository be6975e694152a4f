/**
 * Ledger tables. `usage` is append-only, its idempotency key unique within its session; `scope_totals` holds the
 * counters of every scope as of the last committed batch (written in the same transaction as the
 * usage rows, so a restart reads aggregates instead of rescanning usage); `actions` records every
 * operator action, kill, grant and prompt transition.
 */
export const LEDGER_SCHEMA_VERSION = 2;

export const LEDGER_DDL = `
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS usage (
  seq                INTEGER PRIMARY KEY,
  key                TEXT    NOT NULL,          -- idempotency key as sent, unique within its namespace
  ns                 TEXT    NOT NULL,          -- the key's namespace: its session (session:<id>), or a narrower key's scope
  ts                 INTEGER NOT NULL,          -- ms since the Unix epoch
  kind               TEXT    NOT NULL,          -- 'commit' | 'spend'
  user               TEXT    NOT NULL,
  session            TEXT    NOT NULL,
  task               TEXT    NOT NULL,
  agent              TEXT    NOT NULL,
  chain              TEXT    NOT NULL,          -- JSON array of scope ids, global first
  model              TEXT,
  input_tokens       INTEGER NOT NULL,
  output_tokens      INTEGER NOT NULL,
  cache_read_tokens  INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  cost_nano          INTEGER NOT NULL,          -- nano-USD (1e-9 USD)
  tool               TEXT,
  op                 TEXT,
  overshoot          INTEGER NOT NULL DEFAULT 0 -- 1 when this usage crossed a limit or its reservation
) STRICT;
CREATE INDEX IF NOT EXISTS usage_ts ON usage(ts);
CREATE UNIQUE INDEX IF NOT EXISTS usage_ns_key ON usage(ns, key);

CREATE TABLE IF NOT EXISTS scope_totals (
  scope TEXT PRIMARY KEY,
  data  TEXT NOT NULL                           -- JSON ScopeCounters snapshot
) STRICT;

-- The idempotency-key filter as of a graceful stop, so a restart reads it instead of every key:
-- it covers the rows up to seq, whose key the fingerprint names; rows after it are added at start.
CREATE TABLE IF NOT EXISTS key_filter (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  format      TEXT    NOT NULL,                 -- the filter's size, probes, hash and byte order
  seq         INTEGER NOT NULL,
  fingerprint TEXT    NOT NULL,                 -- ns and key of the row at seq
  digest      TEXT    NOT NULL,                 -- SHA-256 of bits: a damaged filter is not read
  bits        BLOB    NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS actions (
  seq    INTEGER PRIMARY KEY,
  ts     INTEGER NOT NULL,
  kind   TEXT    NOT NULL,                      -- kill | resume | grant | prompt | prompt_answer | delegate | ...
  scope  TEXT    NOT NULL,
  actor  TEXT    NOT NULL,                      -- 'operator' | 'daemon' | agent scope
  data   TEXT    NOT NULL                       -- JSON details
) STRICT;
`;

/**
 * Version 1 kept keys unique across all sessions (`key … UNIQUE`, which SQLite cannot drop):
 * the table is rebuilt once, rows and sequence numbers unchanged, each key in its session's
 * namespace. Keys unique in all are unique per namespace too.
 */
const V1_COLUMNS = 'ts, kind, user, session, task, agent, chain, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nano, tool, op, overshoot';

export const MIGRATE_1_TO_2 = `
ALTER TABLE usage RENAME TO usage_v1;
${LEDGER_DDL.slice(LEDGER_DDL.indexOf('CREATE TABLE IF NOT EXISTS usage'), LEDGER_DDL.indexOf('CREATE INDEX IF NOT EXISTS usage_ts'))}
INSERT INTO usage (seq, key, ns, ${V1_COLUMNS}) SELECT seq, key, 'session:' || session, ${V1_COLUMNS} FROM usage_v1;
DROP TABLE usage_v1;
CREATE INDEX IF NOT EXISTS usage_ts ON usage(ts);
CREATE UNIQUE INDEX IF NOT EXISTS usage_ns_key ON usage(ns, key);
`;
