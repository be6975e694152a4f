import { dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { loadConfigFile, type LoadResult } from './load.js';

/** Quiet time after the last file event before reloading: one reload per editor save. */
export const RELOAD_DEBOUNCE_MS = 100;

/**
 * Reloads one config file whenever it changes and hands each result to `onResult`
 * (valid or not: keeping the last good config is the caller's decision).
 *
 * It watches the file's directory, not the file: editors that save by writing a temp file
 * and renaming it over the config replace the inode, and a watch on the old inode goes quiet.
 */
export class ConfigWatcher {
  readonly #file: string;
  readonly #onResult: (r: LoadResult) => void;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(file: string, onResult: (r: LoadResult) => void) {
    this.#file = resolve(file);
    this.#onResult = onResult;
  }

  /** Resolves once the watch is in place; changes from then on are reported. */
  async start(): Promise<void> {
    if (this.#watcher || this.#closed) throw new Error('ConfigWatcher.start called twice or after close');
    const dir = dirname(this.#file);
    const watcher = watch(dir, {
      depth: 0,
      ignoreInitial: true,
      ignored: (path: string) => path !== dir && path !== this.#file,
      // Waits out a write made in several chunks so a half-written file is not reported as invalid.
      awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 },
    });
    this.#watcher = watcher;
    watcher.on('all', (_event, path) => {
      if (path === this.#file) this.#schedule();
    });
    watcher.on('error', (err) => {
      this.#emit({ ok: false, error: `${this.#file}: watching the config failed: ${err instanceof Error ? err.message : String(err)}` });
    });
    await new Promise<void>((ready) => watcher.once('ready', ready));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#watcher?.close();
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) this.#emit(this.#load());
    }, RELOAD_DEBOUNCE_MS);
  }

  #load(): LoadResult {
    try {
      return loadConfigFile(this.#file);
    } catch (err) {
      return { ok: false, error: `${this.#file}: cannot load config: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  /** Runs on a timer or a watcher event: a throw here would take the daemon down. */
  #emit(result: LoadResult): void {
    try {
      this.#onResult(result);
    } catch (err) {
      process.emitWarning(err instanceof Error ? err : String(err), { code: 'SPENDGUARD_CONFIG_CALLBACK' });
    }
  }
}
