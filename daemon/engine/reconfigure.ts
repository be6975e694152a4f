import type { Config } from '../config/schema.js';
import { alert, emit, markAllChanged } from './context.js';
import { priceBookOf, usesMinShare, type EngineState } from './engine-state.js';
import { retryPrompt } from './approvals.js';
import { PeriodClock } from './periods.js';
import { GLOBAL } from './scope.js';

/** Events from outside the agents: a config reload (or its rejection), the ledger's health. */

export function applyConfig(st: EngineState, config: Config, path: string | null): void {
  const before = JSON.stringify({ limits: st.config.limits, scopes: st.config.scopes });
  const after = JSON.stringify({ limits: config.limits, scopes: config.scopes });
  if (before !== after) {
    // Limits edited in the config file are audited like operator grants: who (the file), when, what.
    emit(st, { type: 'action', row: { ts: st.now, kind: 'limits', scope: GLOBAL, actor: `config:${path ?? '(embedded defaults)'}`, data: { limits: config.limits, scopes: config.scopes } } });
  }
  st.config = config;
  st.min_share_in_use = usesMinShare(config);
  st.config_path = path;
  st.config_loaded_ms = st.now;
  st.config_error = null;
  st.prices = priceBookOf(config);
  st.clock = new PeriodClock(config.timezone);
  st.runaway.setConfig(config);
  st.limits_gen += 1;
  markAllChanged(st);
  alert(st, 'info', 'config', GLOBAL, `config ${path ?? '(embedded defaults)'} applied`);
  for (const p of [...st.prompts.values()]) retryPrompt(st, p, {});
}

export function rejectConfig(st: EngineState, error: string): void {
  st.config_error = error;
  alert(st, 'critical', 'config', GLOBAL, `config rejected, last good config stays in force: ${error}`);
}

/** The shell's ledger writes fail or succeed again: while they fail, the engine fails closed. */
export function ledgerHealth(st: EngineState, writable: boolean, error: string | null): void {
  if (writable === st.ledger.writable) {
    if (!writable) st.ledger = { ...st.ledger, error };
    return;
  }
  st.ledger = writable ? { writable, error: null, since_ms: null } : { writable, error, since_ms: st.now };
  markAllChanged(st);
  if (writable) alert(st, 'info', 'ledger', GLOBAL, 'ledger writable again: reservations and delegations are granted again, held acknowledgements sent');
  else alert(st, 'critical', 'ledger', GLOBAL, `ledger cannot be written (${error ?? 'unknown error'}): failing closed — reserve and delegate are denied UNAVAILABLE and no spend is acknowledged until it can. Free disk space under the state dir.`);
}
