import { Counter, type Registry } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import { STAGES, type StageTimes } from '../server/stages.js';
import type { Tallies } from './observer.js';
import { SCOPE_KINDS, TOKEN_TYPES, type ModelSlot } from './tally.js';

export const PREFIX = 'spendguard_';

export interface CounterSources {
  readonly engine: Engine;
  readonly tallies: Tallies;
  readonly ledgerRows: () => number;
  readonly unsampledReserves: () => number;
  /** The shell's ledger: failed batch writes, and commits/spends refused past the held-batch bound. */
  readonly ledgerWriteFailures: () => number;
  readonly settlesRefused: () => number;
  readonly stages: StageTimes;
}

/** An unlabelled counter whose value is read from elsewhere when scraped. */
function readCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name: `${PREFIX}${name}`,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A counter with labels whose values are read from elsewhere when scraped. */
function readLabelled<L extends string>(registers: Registry[], name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Record<L, string>, number]>): void {
  new Counter({
    name: `${PREFIX}${name}`,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const [labels, n] of read()) this.inc(labels, n);
    },
  });
}

function used(s: ModelSlot, k: number): boolean {
  if ((s.cost_nano[k] ?? 0) !== 0) return true;
  for (let i = 0; i < TOKEN_TYPES.length; i++) if ((s.tokens[k * TOKEN_TYPES.length + i] ?? 0) !== 0) return true;
  return false;
}

/** Counters of what happened; the numbers come from the hot-path tallies and the engine. */
export function registerCounters(registers: Registry[], src: CounterSources): void {
  const { tallies, engine } = src;
  readLabelled(registers, 'spend_usd_total', 'USD recorded (commits and spend events) under each scope kind of the usage chain; scope_kind="global" is the total. model: the first 50 seen, then "other"', ['scope_kind', 'model'], function* () {
    for (const s of tallies.usage.slots()) {
      for (const [k, scope_kind] of SCOPE_KINDS.entries()) if (used(s, k)) yield [{ scope_kind, model: s.model }, (s.cost_nano[k] ?? 0) / 1e9];
    }
  });
  readLabelled(registers, 'tokens_total', 'Tokens recorded under each scope kind of the usage chain, by model (the first 50 seen, then "other") and token type', ['scope_kind', 'model', 'type'], function* () {
    for (const s of tallies.usage.slots()) {
      for (const [k, scope_kind] of SCOPE_KINDS.entries()) {
        if (!used(s, k)) continue;
        for (const [i, type] of TOKEN_TYPES.entries()) yield [{ scope_kind, model: s.model, type }, s.tokens[k * TOKEN_TYPES.length + i] ?? 0];
      }
    }
  });
  readLabelled(registers, 'usage_events_total', 'Usage rows recorded: commits of reservations and spend events', ['kind'], () => [
    [{ kind: 'commit' }, tallies.usage.rows.commit],
    [{ kind: 'spend' }, tallies.usage.rows.spend],
  ]);
  readCounter(registers, 'grants_total', 'Reservations granted', () => tallies.grants);
  readLabelled(registers, 'denials_total', 'Requests denied by the engine, by deny code (the per-connection flood limiter is not counted)', ['code'], function* () {
    for (const [code, n] of tallies.denials.entries()) yield [{ code }, n];
  });
  readLabelled(registers, 'budget_exceeded_total', 'Requests denied BUDGET_EXCEEDED, by the kind of the scope whose limit refused them', ['scope_kind'], function* () {
    for (const [scope_kind, n] of tallies.exceeded.entries()) yield [{ scope_kind }, n];
  });
  readCounter(registers, 'overshoot_total', 'Usage recorded above its reservation or across a limit (spent money is recorded, never refused)', () => engine.overshoot_total);
  readLabelled(registers, 'alerts_total', 'Alerts raised, by kind and level', ['kind', 'level'], function* () {
    for (const [key, n] of tallies.alerts.entries()) {
      const [kind = '', level = ''] = key.split(' ');
      yield [{ kind, level }, n];
    }
  });
  readCounter(registers, 'ledger_rows_total', 'Ledger rows (usage and actions) made durable', src.ledgerRows);
  readCounter(registers, 'ledger_write_failures_total', 'Group-commit batches the ledger failed to write (a full disk, I/O errors); each is retried, nothing is acknowledged meanwhile', src.ledgerWriteFailures);
  readCounter(registers, 'ledger_settles_refused_total', 'Commits and spends not taken because the batch waiting for the disk was at its bound; the client resends them later under their keys', src.settlesRefused);
  readLabelled(registers, 'stage_seconds_total', 'Time spent per stage of request handling: parse, engine, observers, send and handoff (a batch to the writer thread) on the main thread; bind and commit (with its fsync) on the ledger writer thread', ['stage'], () =>
    STAGES.map((stage): [Record<'stage', string>, number] => [{ stage }, src.stages.seconds(stage)]),
  );
  readCounter(registers, 'reserve_latency_unsampled_total', 'Reserves answered but not timed: one batch held more than the latency sample buffer', src.unsampledReserves);
}
