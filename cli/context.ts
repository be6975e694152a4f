import type { Command } from 'commander';
import { z } from 'zod';
import { type Connection, DaemonUnreachableError, OperatorClient, OperatorError, resolveConnection } from '../shared/client/operator.js';

/** `--url` and `--state-dir`, defined once on the program and readable from every command. */
const GlobalOptions = z.object({ url: z.string().optional(), stateDir: z.string().optional() });
export type GlobalOptions = z.infer<typeof GlobalOptions>;

export function globalOptions(command: Command): GlobalOptions {
  return GlobalOptions.parse(command.optsWithGlobals());
}

/** Commands that act offline say so when `--url` was given, rather than silently ignoring it. */
export function noteIgnoredUrl(command: Command, why: string): void {
  if (globalOptions(command).url !== undefined) process.stderr.write(`note: --url is ignored by ${command.name()}: ${why}\n`);
}

const CONNECT_TIMEOUT_MS = 5_000;

/** Connects with the resolved URL and token, runs `work`, and always closes the connection. */
export async function withOperator<T>(command: Command, work: (client: OperatorClient) => Promise<T>): Promise<T> {
  const { url, stateDir } = globalOptions(command);
  const connection = resolveConnection({ url, stateDir, env: process.env });
  let client: OperatorClient;
  try {
    client = await OperatorClient.connect({ url: connection.url, token: connection.token, timeoutMs: CONNECT_TIMEOUT_MS });
  } catch (error) {
    throw explain(error, connection);
  }
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** Adds where the URL and token came from: the usual cause is looking at the wrong daemon. */
function explain(error: unknown, connection: Connection): unknown {
  const urlFrom = connection.urlSource === 'daemon.json' ? `${connection.stateDir}/daemon.json` : connection.urlSource;
  if (error instanceof DaemonUnreachableError) {
    return new DaemonUnreachableError(
      error.url,
      `${error.reason} (url from ${urlFrom}). Is the daemon running? Start it with \`spendguard daemon\`, or point at it with --url or --state-dir.`,
    );
  }
  if (error instanceof OperatorError && error.code === 'UNAUTHORIZED') {
    const tokenFrom =
      connection.tokenSource === 'none'
        ? `no operator token found (set SPENDGUARD_TOKEN or use the daemon's --state-dir; looked in ${connection.stateDir})`
        : `token from ${connection.tokenSource === 'operator.token' ? `${connection.stateDir}/operator.token` : 'SPENDGUARD_TOKEN'}`;
    return new OperatorError(error.code, `${error.message}; ${tokenFrom}`);
  }
  if (error instanceof OperatorError) return new OperatorError(error.code, `${error.message} (url from ${urlFrom})`);
  return error;
}

/** A command's own options, checked once: commander hands them over untyped. */
export function commandOptions<S extends z.ZodType>(command: Command, schema: S): z.infer<S> {
  return schema.parse(command.opts());
}

/** Reports a usage error the way commander reports its own, and exits 2. */
export function usageError(command: Command, message: string): never {
  return command.error(`error: ${message}`, { exitCode: 2, code: 'spendguard.usage' });
}
