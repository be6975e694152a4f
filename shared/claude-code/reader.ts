import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { MessageCoalescer, type UsageRecord } from './dedupe.js';
import { isSessionId } from './hook.js';
import { readNewLines, START, type Cursor } from './line-reader.js';
import type { SendOutcome, UsageSink } from './sessions.js';
import { parseTranscriptLine } from './transcript.js';

export interface ReaderOptions {
  sink: UsageSink;
  /** Usage older than this is history, not today's spend: it is skipped. */
  since_ms: number;
  /** Quiet time after which a message without a stop reason counts as complete. */
  settle_ms: number;
  log: (line: string) => void;
  /** Re-read a file whose record was lost (live watching); a one-shot read only counts it. */
  reread_lost?: boolean;
  now?: () => number;
}

export interface ReaderStats {
  files: number;
  recorded: number;
  duplicates: number;
  cost_usd: number;
  malformed: number;
  /** Records sent and not answered yet (queued in the client while the daemon is away). */
  unsettled: number;
  /** Records that did not reach the ledger; live watching reads their file again. */
  lost: number;
  /** Records the daemon refused as invalid: re-sending would not help. */
  rejected: number;
}

interface FileState {
  cursor: Cursor;
  readonly coalescer: MessageCoalescer;
  /** Reads of one file never overlap; a change during a read asks for another. */
  busy: Promise<void> | undefined;
  again: boolean;
  /** A record was lost on the way: read the file again from the start (keys make it safe). */
  rewind_at_ms: number | undefined;
  rewinds: number;
  warnings: number;
  /** `<session_id>.jsonl`; lines carry their own `sessionId`, which wins (sub-agent files). */
  readonly fallback_session: string | undefined;
}

const MAX_FILES = 100_000;
const MAX_WARNINGS_PER_FILE = 5;
const REWIND_MIN_MS = 5_000;
const REWIND_MAX_MS = 60_000;

/**
 * Follows transcript files: reads what each gained since last time, turns assistant lines into
 * one usage record per message and sends them to the sink. Knows nothing of how changes are
 * noticed (chokidar, a one-shot scan): callers say which file changed.
 */
export class TranscriptReader {
  readonly #files = new Map<string, FileState>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #now: () => number;
  readonly stats: ReaderStats = { files: 0, recorded: 0, duplicates: 0, cost_usd: 0, malformed: 0, unsettled: 0, lost: 0, rejected: 0 };

  constructor(private readonly opts: ReaderOptions) {
    this.#now = opts.now ?? Date.now;
  }

  /** Reads what `path` gained. `skipIfOlder`: a file last written before `since` is all history. */
  read(path: string, skipIfOlder = false): Promise<void> {
    const known = this.#files.get(path);
    if (known) return this.#serial(path, known, () => this.#readNew(path, known));
    if (this.#files.size >= MAX_FILES) {
      this.opts.log(`${path}: not followed, already following ${MAX_FILES} transcripts`);
      return Promise.resolve();
    }
    const stem = basename(path, '.jsonl');
    const state: FileState = {
      cursor: START,
      coalescer: new MessageCoalescer(this.opts.settle_ms),
      busy: undefined,
      again: false,
      rewind_at_ms: undefined,
      rewinds: 0,
      warnings: 0,
      fallback_session: isSessionId(stem) ? stem : undefined,
    };
    this.#files.set(path, state);
    this.stats.files = this.#files.size;
    return this.#serial(path, state, () => (skipIfOlder ? this.#skipHistory(path, state) : this.#readNew(path, state)));
  }

  /** Sends messages that went quiet, and re-reads files that lost a record. Call about once a second. */
  tick(): void {
    const now = this.#now();
    for (const [path, state] of this.#files) {
      for (const record of state.coalescer.due(now)) this.#send(path, state, record);
      if (state.rewind_at_ms !== undefined && now >= state.rewind_at_ms && !state.busy) {
        state.rewind_at_ms = undefined;
        state.cursor = START;
        state.coalescer.reset();
        void this.read(path);
      }
    }
  }

  /** The file is gone: send what it held. */
  forget(path: string): void {
    const state = this.#files.get(path);
    if (!state) return;
    for (const record of state.coalescer.drain()) this.#send(path, state, record);
    this.#files.delete(path);
    this.stats.files = this.#files.size;
  }

  /** Waits for reads in progress, sends every held message, and waits for every answer. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#files.values()].map((s) => s.busy));
    for (const [path, state] of this.#files) for (const record of state.coalescer.drain()) this.#send(path, state, record);
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #serial(path: string, state: FileState, work: () => Promise<void>): Promise<void> {
    if (state.busy) {
      state.again = true;
      return state.busy;
    }
    const run = async (): Promise<void> => {
      try {
        await work();
        while (state.again) {
          state.again = false;
          await this.#readNew(path, state);
        }
      } catch (error) {
        // Deleted between the event and the read, or unreadable: the next event retries.
        const gone = error instanceof Error && 'code' in error && error.code === 'ENOENT';
        if (!gone) this.#warn(path, state, `cannot read: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        state.busy = undefined;
      }
    };
    state.busy = run();
    return state.busy;
  }

  async #skipHistory(path: string, state: FileState): Promise<void> {
    const info = await stat(path);
    if (info.mtimeMs < this.opts.since_ms) state.cursor = { offset: info.size, ino: info.ino, skipping: false };
    else await this.#readNew(path, state);
  }

  async #readNew(path: string, state: FileState): Promise<void> {
    const result = await readNewLines(path, state.cursor, (text, offset) => this.#line(path, state, text, offset));
    state.cursor = result.cursor;
    if (result.restarted) {
      this.opts.log(`${path}: truncated or replaced; reading it again from the start`);
      state.coalescer.reset();
    }
    if (result.oversized > 0) this.#warn(path, state, `skipped ${result.oversized} line(s) longer than the line bound`);
  }

  #line(path: string, state: FileState, text: string, offset: number): void {
    const parsed = parseTranscriptLine(text);
    if (parsed.kind === 'ignored') return;
    if (parsed.kind === 'malformed') {
      this.stats.malformed += 1;
      this.#warn(path, state, `byte ${offset}: skipped a malformed line (${parsed.reason})`);
      return;
    }
    const line = parsed.line;
    if (line.timestamp_ms !== undefined && line.timestamp_ms < this.opts.since_ms) return;
    const sessionId = line.sessionId !== undefined && isSessionId(line.sessionId) ? line.sessionId : state.fallback_session;
    if (sessionId === undefined) {
      this.#warn(path, state, `byte ${offset}: skipped usage without a usable session id`);
      return;
    }
    for (const record of state.coalescer.push({ ...line, sessionId }, this.#now())) this.#send(path, state, record);
  }

  #send(path: string, state: FileState, record: UsageRecord): void {
    this.stats.unsettled += 1;
    const done = this.opts.sink.send(record).then((outcome) => this.#settled(path, state, outcome));
    this.#inflight.add(done);
    void done.finally(() => this.#inflight.delete(done));
  }

  #settled(path: string, state: FileState, outcome: SendOutcome): void {
    switch (outcome.kind) {
      case 'recorded':
        this.stats.unsettled -= 1;
        this.stats.recorded += 1;
        this.stats.cost_usd += outcome.cost_usd;
        state.rewinds = 0;
        return;
      case 'duplicate':
        this.stats.unsettled -= 1;
        this.stats.duplicates += 1;
        return;
      case 'queued':
        return; // counted as unsettled: the client delivers it after the reconnect
      case 'retry':
        this.stats.unsettled -= 1;
        this.stats.lost += 1;
        if (this.opts.reread_lost && state.rewind_at_ms === undefined && this.#files.get(path) === state) {
          const delay_ms = Math.min(REWIND_MAX_MS, REWIND_MIN_MS * 2 ** state.rewinds);
          state.rewinds += 1;
          state.rewind_at_ms = this.#now() + delay_ms;
          this.opts.log(`${path}: ${outcome.reason}; reading it again in ${Math.round(delay_ms / 1000)} s`);
        }
        return;
      case 'rejected':
        this.stats.unsettled -= 1;
        this.stats.rejected += 1;
        this.#warn(path, state, `the daemon refused a usage record: ${outcome.reason}`);
        return;
      default:
        outcome satisfies never;
    }
  }

  #warn(path: string, state: FileState, message: string): void {
    state.warnings += 1;
    if (state.warnings <= MAX_WARNINGS_PER_FILE) this.opts.log(`${path}: ${message}`);
    if (state.warnings === MAX_WARNINGS_PER_FILE) this.opts.log(`${path}: further warnings for this file are not shown`);
  }
}
