import { z } from 'zod';
import { describeIssue } from '../shared/protocol/parse.js';
import { type AlertJson, FeedFrame, type FeedScope } from '../shared/protocol/operator.js';

export type Prompt = FeedFrame['prompts'][number];

/** What the dashboard knows: the feed's frames merged, as of the daemon's `at_ms`. */
export interface FeedData {
  readonly at_ms: number;
  readonly agents: number;
  readonly scopes: Readonly<Record<string, FeedScope>>;
  /**
   * Replaced (a new object) whenever a scope appears or moves, and only then: the tree's shape is
   * rebuilt per shape, not per frame, which matters with 10,000 agents and 10 frames a second.
   */
  readonly structure: object;
  readonly prompts: readonly Prompt[];
  readonly burn_series_usd: readonly number[];
  readonly config: FeedFrame['config'];
  readonly approvals: FeedFrame['approvals'];
  /** Whether the daemon can write its ledger; while not, it fails closed (the header says so). */
  readonly ledger: FeedFrame['ledger'];
}

/** Bound on the alert log kept in memory; the screen shows the newest few. */
export const MAX_ALERTS = 200;

/**
 * Two frames as one, for batching between redraws: a full frame replaces the scopes, a delta
 * merges into them; prompts and totals are always whole, so the newer wins; alerts add up.
 */
export function mergeFrames(older: FeedFrame, newer: FeedFrame): FeedFrame {
  return {
    ...newer,
    full: older.full || newer.full,
    scopes: newer.full ? newer.scopes : withoutRemoved({ ...older.scopes, ...newer.scopes }, newer.removed),
    removed: newer.full ? [] : [...older.removed.filter((id) => !(id in newer.scopes)), ...newer.removed],
    alerts: [...older.alerts, ...newer.alerts].slice(-MAX_ALERTS),
  };
}

/** Scopes that left the daemon's memory leave the screen too. */
function withoutRemoved<T>(scopes: Record<string, T>, removed: readonly string[]): Record<string, T> {
  for (const id of removed) delete scopes[id];
  return scopes;
}

function reshapes(previous: FeedData | null, frame: FeedFrame): boolean {
  if (previous === null || frame.full || frame.removed.length > 0) return true;
  for (const id in frame.scopes) if (previous.scopes[id]?.parent !== frame.scopes[id]?.parent) return true;
  return false;
}

export function applyFrame(previous: FeedData | null, frame: FeedFrame): FeedData {
  return {
    at_ms: frame.at_ms,
    agents: frame.agents,
    scopes: frame.full || previous === null ? frame.scopes : withoutRemoved({ ...previous.scopes, ...frame.scopes }, frame.removed),
    structure: previous !== null && !reshapes(previous, frame) ? previous.structure : {},
    prompts: frame.prompts,
    burn_series_usd: frame.burn_series_usd,
    config: frame.config,
    approvals: frame.approvals,
    ledger: frame.ledger,
  };
}

/**
 * Appends new alerts, oldest first. A full frame after a reconnect repeats recent ones, and a
 * restarted daemon counts `seq` from 0 again, so an alert is known by its time and seq together.
 */
export function mergeAlerts(previous: readonly AlertJson[], incoming: readonly AlertJson[]): readonly AlertJson[] {
  if (incoming.length === 0) return previous;
  const seen = new Set(previous.map(alertKey));
  const fresh = incoming.filter((a) => !seen.has(alertKey(a)));
  if (fresh.length === 0) return previous;
  return [...previous, ...fresh].sort((a, b) => a.at_ms - b.at_ms || a.seq - b.seq).slice(-MAX_ALERTS);
}

function alertKey(a: AlertJson): string {
  return `${a.at_ms}/${a.seq}`;
}

const Result = z.object({ type: z.literal('result'), id: z.string(), ok: z.literal(true), message: z.string() });
/** Read leniently: a newer daemon's error code must still reach the operator. */
const ErrorReply = z.object({ type: z.literal('error'), id: z.string().optional(), code: z.string(), message: z.string() });
const Head = z.object({ type: z.string() });

export type Incoming =
  | { readonly kind: 'feed'; readonly frame: FeedFrame }
  | { readonly kind: 'reply'; readonly id: string | null; readonly ok: boolean; readonly message: string }
  | { readonly kind: 'invalid'; readonly why: string }
  | { readonly kind: 'other' };

/** One text frame from `/v1/operator`, validated once here; the rest of the TUI trusts the types. */
export function parseIncoming(text: string): Incoming {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'invalid', why: 'a frame that is not JSON' };
  }
  const head = Head.safeParse(raw);
  if (!head.success) return { kind: 'invalid', why: 'a frame without a type' };
  switch (head.data.type) {
    case 'feed': {
      const frame = FeedFrame.safeParse(raw);
      return frame.success ? { kind: 'feed', frame: frame.data } : { kind: 'invalid', why: `a feed frame this dashboard cannot read: ${describeIssue(frame.error)}` };
    }
    case 'result': {
      const result = Result.safeParse(raw);
      return result.success ? { kind: 'reply', id: result.data.id, ok: true, message: result.data.message } : { kind: 'invalid', why: 'a malformed result' };
    }
    case 'error': {
      const error = ErrorReply.safeParse(raw);
      return error.success
        ? { kind: 'reply', id: error.data.id ?? null, ok: false, message: `${error.data.code}: ${error.data.message}` }
        : { kind: 'invalid', why: 'a malformed error' };
    }
    default:
      return { kind: 'other' };
  }
}
