import { readFileSync } from 'node:fs';
import type { ReactElement } from 'react';
import { render } from 'ink-testing-library';
import { FeedFrame, type FeedScope } from '../../shared/protocol/operator.js';
import type { Action } from '../reducer.js';
import { reducer } from '../reducer.js';
import { initialState, type State } from '../state.js';
import { COLOR_THEME, type Theme, ThemeContext } from '../theme.js';

/**
 * Feed frames recorded from a real daemon (test/e2e-style traffic: alice's session s-42 with a
 * delegated child agent, bob's session nightly over 70% with a pending prompt p1-23, task:t-8
 * killed), one JSON frame per line, validated with the protocol's own schema.
 */
export const RECORDED: readonly FeedFrame[] = readFileSync(new URL('./feed.recorded.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => FeedFrame.parse(JSON.parse(line)));

const LAST = RECORDED.at(-1) as FeedFrame;
/** The local clock of the tests: when the last recorded frame arrived. */
export const T0 = LAST.at_ms;

export function live(now_ms = T0): Action {
  return { type: 'connection', connection: { kind: 'live', since_ms: now_ms }, now_ms };
}

/** A state after `frames`, each arriving at its own `at_ms`, with the feed live. */
export function replay(frames: readonly FeedFrame[] = RECORDED, options: { readonly?: boolean; state?: State } = {}): State {
  let state = options.state ?? reducer(initialState({ readonly: options.readonly ?? false, now_ms: T0 }), live(frames[0]?.at_ms ?? T0));
  for (const frame of frames) state = reducer(state, { type: 'feed', frame, now_ms: frame.at_ms });
  return state;
}

/** A key by the table's name: a character (`x`, `X`, `?`) or a named key (`up`, `enter`, `ctrl+c`). */
export function press(name: string, now_ms = T0): Action {
  return { type: 'key', press: { name, text: name.length === 1 ? name : '' }, now_ms };
}

export function type(text: string, now_ms = T0): Action {
  return { type: 'key', press: { name: null, text }, now_ms };
}

export function run(state: State, ...actions: Action[]): State {
  return actions.reduce(reducer, state);
}

/** A scope with defaults, for frames the recording does not cover (breakers, delays, exceeded). */
export function scope(overrides: Partial<FeedScope> & Pick<FeedScope, 'kind' | 'parent'>): FeedScope {
  return {
    limit: {},
    spent: { cost_usd: 0, tokens: 0 },
    reserved: { cost_usd: 0, tokens: 0 },
    pressure: 'ok',
    ratio: null,
    killed: false,
    breaker: 'closed',
    mode: 'hard',
    agents: 0,
    agents_under: 0,
    burn_usd_per_min_1m: null,
    burn_usd_per_min_10m: null,
    burn_tokens_per_min_1m: null,
    burn_tokens_per_min_10m: null,
    exhaustion_ms: null,
    delay_ms: 0,
    state: 'idle',
    limit_source: 'none',
    kill_reason: null,
    killed_by: null,
    ...overrides,
  };
}

/** A delta frame on top of the last recorded one. */
export function delta(scopes: Record<string, FeedScope>, extra: Partial<FeedFrame> = {}): FeedFrame {
  return { ...LAST, full: false, at_ms: LAST.at_ms + 1_000, scopes, alerts: [], ...extra };
}

/**
 * ink-testing-library at a given terminal size: its stdout is 100 columns with no rows, so the
 * size is set on the instance and announced with a `resize`, as a real terminal does.
 */
export function renderSized(node: ReactElement, columns: number, rows: number) {
  const result = render(<></>);
  resize(result.stdout, columns, rows);
  result.rerender(node);
  return result;
}

export function resize(stdout: NodeJS.EventEmitter, columns: number, rows: number): void {
  Object.defineProperty(stdout, 'columns', { value: columns, configurable: true, writable: true });
  Object.defineProperty(stdout, 'rows', { value: rows, configurable: true, writable: true });
  stdout.emit('resize');
}

export function themed(node: ReactElement, theme: Theme = COLOR_THEME): ReactElement {
  return <ThemeContext.Provider value={theme}>{node}</ThemeContext.Provider>;
}

/** The frame's text without colour codes, for assertions on what the operator reads. */
export function plain(frame: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  return (frame ?? '').replace(/\x1b\[[0-9;]*m/g, '');
}

/** Every line fits the terminal: panels collapse, they never wrap. */
export function widest(frame: string | undefined): number {
  return Math.max(0, ...plain(frame).split('\n').map((l) => [...l].length));
}
