import { writeFileSync, rmSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { listenToUrl, resolveStateDir, STATE_FILES } from '../shared/paths.js';
import { loadConfigFile } from './config/load.js';
import { embeddedConfig, type Config } from './config/schema.js';
import { startOnlyChanges } from './config/start-only.js';
import { ConfigWatcher } from './config/watch.js';
import { Engine } from './engine/engine.js';
import { Ledger } from './ledger/ledger.js';
import { acquireLock } from './ledger/lock.js';
import { guarded, jsonLogger, type Logger } from './server/log.js';
import { SpendguardServer } from './server/server.js';
import { Reclaimer } from './server/reclaim.js';
import { Supervisor } from './server/supervisor.js';
import { ensureTokens, type Tokens } from './server/tokens.js';
import { installIntegrations } from './integrations.js';
import { ledgerWriter } from './ledger/durable-writer.js';
import { decideExposure, hostOfListen } from './exposure.js';
import { createPrivateFile, makeStateDirPrivate, tightenStateDir, type Tightening } from './state-dir.js';

export interface DaemonOptions {
  configPath?: string | undefined;
  listen?: string | undefined;
  stateDir?: string | undefined;
  log?: Logger | undefined;
  /** Refuse the shared agent token (`--require-keys`); else the config's `require_keys`. */
  requireKeys?: boolean | undefined;
  /** Keep the shared agent token although `listen` is beyond loopback (`--unsafe-shared-token-on-network`). */
  unsafeSharedTokenOnNetwork?: boolean | undefined;
}

export interface RunningDaemon {
  readonly url: string;
  readonly server: SpendguardServer;
  readonly supervisor: Supervisor;
  readonly stateDir: string;
  readonly tokens: Tokens;
  readonly engine: Engine;
  stop(): Promise<void>;
}

export class DaemonStartError extends Error {}

const TICK_MS = 100;
/** Exit status after a broken invariant (EX_SOFTWARE). */
const EXIT_INVARIANT = 70;
const CHECKPOINT_MS = 30_000;

function loadInitialConfig(path: string | undefined): Config {
  if (!path) return embeddedConfig();
  const r = loadConfigFile(path);
  if (!r.ok) throw new DaemonStartError(r.error);
  return r.config;
}

/** Starts a daemon in this process and resolves once it accepts agents. */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const log = options.log ?? jsonLogger();
  const configPath = options.configPath ? resolve(options.configPath) : undefined;
  const config = loadInitialConfig(configPath);
  const stateDir = resolveStateDir(options.stateDir, config.state_dir);
  reportTightening(log, stateDir, makeStateDirPrivate(stateDir));
  const release = acquireLock(join(stateDir, STATE_FILES.lock));
  let ledger: Ledger | undefined;
  try {
    const ledgerPath = join(stateDir, STATE_FILES.ledger);
    // 0600 before SQLite opens it: the -wal and -shm files it creates take the same mode.
    createPrivateFile(ledgerPath);
    ledger = new Ledger(ledgerPath);
    const tokens = ensureTokens(stateDir);
    // Again now that the ledger is open: -wal/-shm left loose by an older version were reused as they were.
    reportTightening(log, stateDir, tightenStateDir(stateDir));
    const epoch = ledger.nextEpoch();
    const restored = ledger.restore();
    const engine = new Engine({ config, config_path: configPath ?? null, epoch, restored, now: Date.now() });
    const listen = options.listen ?? config.listen;
    const host = hostOfListen(listen);
    const exposure = decideExposure({ host, requireKeys: options.requireKeys ?? config.require_keys, unsafeSharedTokenOnNetwork: options.unsafeSharedTokenOnNetwork === true });
    for (const warning of exposure.warnings) log('warn', warning, { listen, require_keys: exposure.requireKeys });
    const server = new SpendguardServer({ host, port: Number(listen.slice(host.length + 1)), tokens, log, requireKeys: exposure.requireKeys });
    // Batches are written on a thread of their own: the main thread keeps deciding during the fsync.
    const writer = ledgerWriter(ledgerPath, ledger);
    const supervisor = new Supervisor(engine, ledger, server, log, Date.now, { writer });
    server.supervisor = supervisor;
    const integrations = installIntegrations({ server, supervisor, engine, config, stateDir, tokens, log });
    const addr = await server.listen();
    const url = listenToUrl(`${addr.host}:${addr.port}`);
    const endpointFile = join(stateDir, STATE_FILES.endpoint);
    writeFileSync(endpointFile, JSON.stringify({ url, pid: process.pid }), { mode: 0o600 });
    chmodSync(endpointFile, 0o600);

    const reclaimer = new Reclaimer();
    const tick = setInterval(
      guarded(log, 'tick', () => {
        supervisor.dispatch({ type: 'tick' });
        supervisor.feedTick(Date.now());
        if (reclaimer.maybeCollect(engine.evicted_total)) log('debug', 'memory reclaimed after idle scopes left', { evicted_total: engine.evicted_total });
      }),
      TICK_MS,
    );
    const openLedger = ledger;
    // A checkpoint that fails (a full disk) is retried at the next one; the WAL keeps every row meanwhile.
    const checkpoint = setInterval(
      guarded(log, 'WAL checkpoint', () => {
        const error = openLedger.checkpoint();
        if (error !== null) log('warn', 'WAL checkpoint failed; the WAL keeps every row and the next checkpoint retries', { error });
      }),
      CHECKPOINT_MS,
    );
    let watcher: ConfigWatcher | undefined;
    if (configPath) {
      watcher = new ConfigWatcher(configPath, (r) => {
        if (r.ok) {
          for (const key of startOnlyChanges(config, r.config)) log('warn', `${key} changed in the config: it is read at start only, so the running daemon keeps its value until restarted`, { key });
          supervisor.dispatch({ type: 'config', config: r.config, path: configPath });
        } else supervisor.dispatch({ type: 'config_error', error: r.error });
      });
      await watcher.start();
    }
    server.ready = true;
    log('info', 'spendguard daemon listening', { url, state_dir: stateDir, config: configPath ?? '(embedded defaults)', epoch, restored_scopes: restored.scopes.length, keys_read: ledger.keysRead, require_keys: exposure.requireKeys });

    let stopped = false;
    const running: RunningDaemon = {
      url,
      server,
      supervisor,
      stateDir,
      tokens,
      engine,
      async stop() {
        if (stopped) return;
        stopped = true;
        clearInterval(tick);
        clearInterval(checkpoint);
        await watcher?.close();
        supervisor.flush();
        await server.stop();
        supervisor.flushAll();
        await supervisor.idle();
        await writer.close();
        // After the last flush: alerts raised while stopping still reach the webhook.
        for (const i of integrations) await i.stop();
        // Nothing writes now: the key filter is saved, so the next start need not read every key.
        try {
          openLedger.saveKeyFilter();
        } catch (e) {
          log('warn', 'could not save the key filter; the next start reads every key', { error: e instanceof Error ? e.message : String(e) });
        }
        openLedger.close();
        rmSync(endpointFile, { force: true });
        release();
        log('info', 'spendguard daemon stopped', {});
      },
    };
    // A broken invariant is a programmer error: stop taking requests rather than overspend silently.
    supervisor.onFatal = () => {
      process.exitCode = EXIT_INVARIANT;
      server.ready = false;
      void running.stop();
    };
    return running;
  } catch (e) {
    ledger?.close();
    release();
    throw e;
  }
}

/** A file that stays readable by others is logged, not fatal: the 0700 dir already hides it. */
function reportTightening(log: Logger, stateDir: string, t: Tightening): void {
  if (t.failed.length > 0) log('warn', 'could not make every file in the state dir private (0600); the dir itself is 0700', { state_dir: stateDir, failed: t.failed.slice(0, 10), failed_total: t.failed.length });
  if (t.truncated) log('warn', 'the state dir holds too many entries to check them all; the rest were left as they are', { state_dir: stateDir });
}

/** Runs the daemon in the foreground until SIGINT/SIGTERM. */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const daemon = await startDaemon(options);
  await new Promise<void>((resolveStop) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void daemon.stop().then(resolveStop);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
