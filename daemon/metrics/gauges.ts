import { Gauge, type Registry } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import { ratioOf } from '../engine/pressure.js';
import { PREFIX } from './counters.js';
import { BREAKER_STATES, breakerCounts, breakerOf, breakerPace, burnUsdPerMin, configuredScopes } from './scopes.js';

/** A gauge sampled from the engine when scraped; `set` receives the (reset) gauge. */
function sampled<L extends string>(registers: Registry[], name: string, help: string, labelNames: readonly L[], fill: (set: (labels: Record<L, string>, v: number) => void) => void): void {
  new Gauge({
    name: `${PREFIX}${name}`,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      fill((labels, v) => this.set(labels, v));
    },
  });
}

/** An unlabelled gauge: always present, so it is not reset. */
function value(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name: `${PREFIX}${name}`,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/** State sampled at scrape time. Scope labels only for global and the config's named scopes. */
export function registerGauges(registers: Registry[], engine: Engine, held: () => { rows: number; frames: number }): void {
  value(registers, 'ledger_writable', 'Whether the ledger can be written (1); 0 while writes fail: reserves and delegations are denied UNAVAILABLE and acks are held', () => (engine.ledger.writable ? 1 : 0));
  value(registers, 'ledger_held_rows', 'Usage and action rows waiting for the next durable batch (bounded; past the bound commits and spends are refused for a later resend)', () => held().rows);
  value(registers, 'agents_connected', 'Agent connections that have said hello', () => {
    let n = 0;
    for (const c of engine.conns.values()) if (c.state === 'live') n += 1;
    return n;
  });
  value(registers, 'prompts_pending', 'Overdraft and tool prompts waiting for the operator', () => engine.prompts.size);
  value(registers, 'reservations_in_flight', 'Live reservations and delegation holds', () => engine.reservations.size);
  value(registers, 'config_error', 'Whether the last config reload was rejected (1): the last good config stays in force', () => (engine.config_error === null ? 0 : 1));
  value(registers, 'config_loaded_timestamp_seconds', 'When the config in force was loaded, as a Unix time', () => engine.config_loaded_ms / 1000);
  sampled(registers, 'breakers', 'Circuit breakers (denial and burn-rate) that are open or half-open, over all scopes', ['state'], (set) => {
    const c = breakerCounts(engine);
    set({ state: 'open' }, c.open);
    set({ state: 'half-open' }, c['half-open']);
  });
  sampled(registers, 'scope_breaker_state', 'Breaker state of global and each scope named in the config: 1 for the current state', ['scope', 'state'], (set) => {
    for (const s of configuredScopes(engine)) {
      const current = breakerOf(engine, s);
      for (const state of BREAKER_STATES) set({ scope: s.id, state }, state === current ? 1 : 0);
    }
  });
  sampled(registers, 'scope_pressure_ratio', 'Used-or-reserved fraction of the tightest own limit of global and each configured scope (1 = at the limit)', ['scope'], (set) => {
    for (const s of configuredScopes(engine)) {
      const r = ratioOf(engine.view, s);
      if (r !== null) set({ scope: s.id }, r);
    }
  });
  sampled(registers, 'scope_burn_usd_per_minute', 'Spend rate of global and each configured scope over the last 1 or 10 minutes; absent until there is enough data', ['scope', 'window'], (set) => {
    for (const s of configuredScopes(engine)) {
      for (const [window, ms] of [['1m', 60_000], ['10m', 600_000]] as const) {
        const rate = burnUsdPerMin(engine, s, ms);
        if (rate !== null) set({ scope: s.id, window }, rate);
      }
    }
  });
  // Labelled so that it can be absent: an unlabelled gauge would read 0 when not configured.
  sampled(registers, 'burn_breaker_pace_usd_per_minute', "The burn-rate breaker's threshold as a pace (breakers.burn_rate cost_usd over its window); absent when not configured", ['window'], (set) => {
    const b = breakerPace(engine);
    if (b !== null) set({ window: b.window }, b.usd_per_min);
  });
  sampled(registers, 'scope_killed', 'Whether global or a configured scope is killed (1) or not (0)', ['scope'], (set) => {
    for (const s of configuredScopes(engine)) set({ scope: s.id }, s.killed ? 1 : 0);
  });
}
