import type { UsageRow } from '../engine/events.js';

/**
 * Hot-path accumulators: plain numbers in preallocated arrays, so observing a frame costs a few
 * additions. prom-client's labelled `inc` builds a label object and a hash string per call;
 * these are read into prom-client metrics only when /metrics is scraped.
 */

export const SCOPE_KINDS = ['global', 'user', 'session', 'task', 'agent'] as const;
export const TOKEN_TYPES = ['input', 'output', 'cache_read', 'cache_write'] as const;

/** Bounds the `model` label: the first models seen get their own series, the rest share `other`. */
export const MAX_MODELS = 50;
export const OTHER_MODEL = 'other';
/** Usage without a model (tool calls priced by `cost_usd`). */
export const NO_MODEL = 'none';

/** Index into SCOPE_KINDS of a scope id (`global` or `kind:id`) by its first letter; -1 otherwise. */
export function kindIndex(scope: string): number {
  switch (scope.charCodeAt(0)) {
    case 103: // g
      return 0;
    case 117: // u
      return 1;
    case 115: // s
      return 2;
    case 116: // t
      return 3;
    case 97: // a
      return 4;
    default:
      return -1;
  }
}

export interface ModelSlot {
  readonly model: string;
  /** Per scope kind. */
  readonly cost_nano: Float64Array;
  /** Per scope kind × token type, kind-major. */
  readonly tokens: Float64Array;
}

function slot(model: string): ModelSlot {
  return { model, cost_nano: new Float64Array(SCOPE_KINDS.length), tokens: new Float64Array(SCOPE_KINDS.length * TOKEN_TYPES.length) };
}

export class UsageTally {
  private readonly byModel = new Map<string, ModelSlot>();
  private readonly other = slot(OTHER_MODEL);
  private readonly none = slot(NO_MODEL);
  readonly rows = { commit: 0, spend: 0 };

  /** Counts the row once under each scope kind of its chain (a delegated chain has several agents). */
  add(row: UsageRow): void {
    const s = this.slotFor(row.model);
    this.rows[row.kind] += 1;
    let seen = 0;
    for (const id of row.chain) {
      const k = kindIndex(id);
      if (k < 0 || (seen & (1 << k)) !== 0) continue;
      seen |= 1 << k;
      s.cost_nano[k] = (s.cost_nano[k] ?? 0) + row.cost_nano;
      const t = k * TOKEN_TYPES.length;
      s.tokens[t] = (s.tokens[t] ?? 0) + row.input_tokens;
      s.tokens[t + 1] = (s.tokens[t + 1] ?? 0) + row.output_tokens;
      s.tokens[t + 2] = (s.tokens[t + 2] ?? 0) + row.cache_read_tokens;
      s.tokens[t + 3] = (s.tokens[t + 3] ?? 0) + row.cache_write_tokens;
    }
  }

  private slotFor(model: string | null): ModelSlot {
    if (model === null) return this.none;
    const known = this.byModel.get(model);
    if (known) return known;
    if (this.byModel.size >= MAX_MODELS) return this.other;
    const s = slot(model);
    this.byModel.set(model, s);
    return s;
  }

  *slots(): Iterable<ModelSlot> {
    yield* this.byModel.values();
    yield this.other;
    yield this.none;
  }
}

/** A counter per string key from a closed set (deny codes, scope kinds); the key is never built. */
export class KeyCounts {
  private readonly counts = new Map<string, number>();

  inc(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  entries(): Iterable<[string, number]> {
    return this.counts.entries();
  }
}
