import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, startDaemonProcess, tempStateDir, writeConfig } from '../test/e2e/daemon-process.js';
import { removeDir, sleep, track, trackDir } from './proc.js';

/** The real daemon as a child process, in a fresh temp state dir, for one bench phase. */
export interface BenchDaemon {
  readonly child: ChildProcess;
  readonly stateDir: string;
  readonly url: string;
  readonly agentToken: string;
  readonly operatorToken: string;
  /** Stops the daemon (SIGTERM, waits for exit) and removes its state and config dirs. */
  stop(): Promise<void>;
}

/**
 * Starts `spendguard daemon` with `configYaml`. Normally through the e2e helper
 * (`startDaemonProcess`); with `cpuProfDir`, spawns `node --cpu-prof --cpu-prof-dir <dir> bin/…`
 * itself (node refuses --cpu-prof in NODE_OPTIONS, and the helper takes no node flags), and
 * waits for readiness the same way the helper does.
 */
export async function startBenchDaemon(configYaml: string, opts: { cpuProfDir?: string } = {}): Promise<BenchDaemon> {
  const stateDir = trackDir(tempStateDir('sg-bench-state-'));
  // The config lives apart from the state dir, as with the defaults (~/.config vs ~/.local/state):
  // the daemon watches the config's directory, and a ledger writing into that same directory
  // would wake the watcher on every WAL write.
  const configDir = trackDir(tempStateDir('sg-bench-config-'));
  const config = writeConfig(configDir, configYaml);
  const dispose = (): void => {
    removeDir(stateDir);
    removeDir(configDir);
  };
  if (opts.cpuProfDir === undefined) {
    const d = await startDaemonProcess({ stateDir, config });
    track(d.child);
    return {
      child: d.child,
      stateDir,
      url: d.url,
      agentToken: d.agentToken,
      operatorToken: d.operatorToken,
      async stop() {
        await d.stop();
        dispose();
      },
    };
  }
  const child = track(
    spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir, BIN, 'daemon', '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const endpoint = join(stateDir, 'daemon.json');
  const deadline = Date.now() + 20_000;
  let url: string | undefined;
  while (url === undefined) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}: ${out}`);
    if (Date.now() > deadline) throw new Error(`daemon did not start: ${out}`);
    if (existsSync(endpoint)) {
      try {
        url = (JSON.parse(readFileSync(endpoint, 'utf8')) as { url: string }).url;
        const r = await fetch(`${url.replace('ws://', 'http://')}/healthz`);
        if (r.status !== 200) url = undefined;
      } catch {
        url = undefined;
      }
    }
    if (url === undefined) await sleep(25);
  }
  const read = (f: string): string => readFileSync(join(stateDir, f), 'utf8').trim();
  return {
    child,
    stateDir,
    url,
    agentToken: read('agent.token'),
    operatorToken: read('operator.token'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      dispose();
    },
  };
}
