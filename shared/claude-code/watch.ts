import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { watch } from 'chokidar';
import { TranscriptReader, type ReaderOptions, type ReaderStats } from './reader.js';

/**
 * `<root>/<project>/<session_id>.jsonl`, and sub-agent transcripts a few levels further down
 * (`<project>/<session_id>/subagents/agent-<id>.jsonl`), whose lines name the parent session.
 */
const MAX_DEPTH = 3;
const MAX_FILES = 100_000;
const TICK_MS = 1_000;

/** Claude Code keeps its state in `$CLAUDE_CONFIG_DIR`, by default `~/.claude`. */
export function defaultProjectsDir(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.CLAUDE_CONFIG_DIR && env.CLAUDE_CONFIG_DIR.length > 0 ? env.CLAUDE_CONFIG_DIR : join(homedir(), '.claude');
  return join(config, 'projects');
}

export type WatchOptions = ReaderOptions & {
  dir: string;
  /** Called every tick, e.g. to close idle connections. */
  onTick?: () => void;
};

/** Reads every transcript once, sends every message (complete or not), and waits for the answers. */
export async function scanOnce(opts: WatchOptions): Promise<ReaderStats> {
  const reader = new TranscriptReader(opts);
  for (const file of await transcripts(opts.dir)) await reader.read(file, true);
  await reader.drain();
  return reader.stats;
}

export interface Watching {
  readonly stats: ReaderStats;
  /** Resolves once the transcripts present at start have been read. */
  readonly ready: Promise<void>;
  /** Stops watching, sends what is held, and waits for the answers. */
  stop(): Promise<ReaderStats>;
}

export function watchTranscripts(opts: WatchOptions): Watching {
  const reader = new TranscriptReader({ ...opts, reread_lost: true });
  let initial = true;
  const watcher = watch(opts.dir, {
    depth: MAX_DEPTH,
    ignoreInitial: false,
    ignored: (path, stats) => stats?.isFile() === true && !path.endsWith('.jsonl'),
  });
  const initialReads: Promise<void>[] = [];
  watcher.on('add', (path: string) => {
    if (!path.endsWith('.jsonl')) return;
    const read = reader.read(path, initial);
    if (initial) initialReads.push(read);
  });
  watcher.on('change', (path: string) => {
    if (path.endsWith('.jsonl')) void reader.read(path);
  });
  watcher.on('unlink', (path: string) => reader.forget(path));
  watcher.on('error', (error: unknown) => opts.log(`watching ${opts.dir}: ${error instanceof Error ? error.message : String(error)}`));
  const ready = new Promise<void>((resolve) => {
    watcher.once('ready', () => {
      initial = false;
      void Promise.allSettled(initialReads).then(() => resolve());
    });
  });
  const ticker = setInterval(() => {
    reader.tick();
    opts.onTick?.();
  }, TICK_MS);
  return {
    stats: reader.stats,
    ready,
    async stop() {
      clearInterval(ticker);
      await watcher.close();
      await reader.drain();
      return reader.stats;
    },
  };
}

/** Every `.jsonl` under `dir`, at most `MAX_DEPTH` directories down, sorted for a stable order. */
export async function transcripts(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string, depth: number): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true });
    for (const entry of entries) {
      if (found.length >= MAX_FILES) return;
      const path = join(at, entry.name);
      if (entry.isFile() && entry.name.endsWith('.jsonl')) found.push(path);
      else if (entry.isDirectory() && depth < MAX_DEPTH) await walk(path, depth + 1);
    }
  };
  await walk(dir, 0);
  return found.sort();
}
