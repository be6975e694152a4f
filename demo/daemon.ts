import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../daemon/main.js';
import type { Logger } from '../daemon/server/log.js';
import { OperatorClient, resolveConnection } from '../shared/client/operator.js';
import { STATE_FILES } from '../shared/paths.js';
import { writeDemoConfig } from './config.js';
import type { DemoLog } from './log.js';
import type { Names } from './names.js';

const JOIN_TIMEOUT_MS = 5_000;

/** The daemon the demo plays against: its own embedded one, or a running one it joins. */
export interface DemoDaemon {
  readonly url: string;
  readonly agentToken: string;
  readonly operatorToken: string;
  /** The temporary state dir (embedded) or the joined daemon's. */
  readonly stateDir: string;
  /** The demo config, for an embedded daemon. */
  readonly configPath: string | undefined;
  readonly embedded: boolean;
  /** Stops an embedded daemon and removes its temporary dir; leaves a joined one alone. */
  stop(): Promise<void>;
  /** Last resort on a second Ctrl-C: remove the temporary dir without a graceful stop. */
  abandon(): void;
}

/** A daemon in this process on a free loopback port, with the demo config, in a fresh temporary dir. */
export async function startEmbeddedDaemon(names: Names, log: DemoLog): Promise<DemoDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'spendguard-demo-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const configPath = writeDemoConfig(dir, names);
    // JSON log lines would garble the TUI; the demo's own log tells the story, and daemon errors join it.
    const logger: Logger = (level, msg) => {
      if (level === 'error') log.error('daemon', msg);
    };
    const daemon = await startDaemon({ configPath, listen: '127.0.0.1:0', stateDir: dir, log: logger });
    return {
      url: daemon.url,
      agentToken: daemon.tokens.agent,
      operatorToken: daemon.tokens.operator,
      stateDir: dir,
      configPath,
      embedded: true,
      async stop() {
        try {
          await daemon.stop();
        } finally {
          remove();
        }
      },
      abandon: remove,
    };
  } catch (err) {
    remove();
    throw err;
  }
}

/**
 * A running daemon at `url`; both tokens come from its state dir (`--state-dir`, or the default
 * one). Rejects with `DaemonUnreachableError` / `OperatorError` when it cannot be reached or
 * refuses the token, before any agent starts.
 */
export async function joinDaemon(url: string, stateDirFlag: string | undefined, env: NodeJS.ProcessEnv): Promise<DemoDaemon> {
  const connection = resolveConnection({ url, stateDir: stateDirFlag, env });
  if (connection.token === undefined) {
    throw new Error(`no operator token: looked in ${join(connection.stateDir, STATE_FILES.operatorToken)} (pass the daemon's --state-dir, or set SPENDGUARD_TOKEN)`);
  }
  const agentTokenFile = join(connection.stateDir, STATE_FILES.agentToken);
  let agentToken: string;
  try {
    agentToken = readFileSync(agentTokenFile, 'utf8').trim();
  } catch {
    throw new Error(`no agent token: cannot read ${agentTokenFile} (pass the daemon's --state-dir)`);
  }
  const probe = await OperatorClient.connect({ url: connection.url, token: connection.token, timeoutMs: JOIN_TIMEOUT_MS });
  await probe.close();
  return {
    url: connection.url,
    agentToken,
    operatorToken: connection.token,
    stateDir: connection.stateDir,
    configPath: undefined,
    embedded: false,
    stop: () => Promise.resolve(),
    abandon: () => undefined,
  };
}
