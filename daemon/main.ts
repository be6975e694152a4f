export interface DaemonOptions {
  configPath?: string;
  listen?: string;
  stateDir?: string;
}

/** Runs the daemon in the foreground until SIGINT/SIGTERM. (Being written; see daemon/server.) */
export async function runDaemon(_options: DaemonOptions): Promise<void> {
  throw new Error('daemon not implemented yet');
}
