import type { Effect, EngineEvent } from '../engine/events.js';
import type { ReserveLatency } from './latency.js';
import { kindIndex, SCOPE_KINDS, type KeyCounts, type UsageTally } from './tally.js';

export interface Tallies {
  readonly usage: UsageTally;
  readonly denials: KeyCounts;
  /** BUDGET_EXCEEDED denials by the kind of the scope whose limit refused. */
  readonly exceeded: KeyCounts;
  /** `kind level` pairs; alerts are rare, so the key string is fine here. */
  readonly alerts: KeyCounts;
  grants: number;
}

/**
 * The supervisor observer: runs once per engine event on the hot path. It only adds numbers and
 * stores a timestamp; histograms see at most one observation per grant.
 */
export function metricsObserver(t: Tallies, latency: ReserveLatency, observeDelay: (seconds: number) => void): (event: EngineEvent, effects: readonly Effect[]) => void {
  return (event, effects) => {
    const isReserve = event.type === 'agent' && event.frame.type === 'reserve';
    for (const e of effects) {
      switch (e.type) {
        case 'send': {
          const f = e.frame;
          if (f.type === 'grant') {
            t.grants += 1;
            observeDelay(f.delay_ms / 1000);
            if (isReserve) latency.stamp();
          } else if (f.type === 'deny') {
            t.denials.inc(f.code);
            if (f.code === 'BUDGET_EXCEEDED') t.exceeded.inc(SCOPE_KINDS[kindIndex(f.scope)] ?? 'other');
            if (isReserve) latency.stamp();
          }
          break;
        }
        case 'usage':
          t.usage.add(e.row);
          latency.rowsProduced();
          break;
        case 'action':
          latency.rowsProduced();
          break;
        case 'alert':
          t.alerts.inc(`${e.alert.kind} ${e.alert.level}`);
          break;
        case 'close':
          break;
        default:
          e satisfies never;
      }
    }
  };
}
