import type { Command } from 'commander';
import type { z } from 'zod';
import type { OperatorClient } from '../shared/client/operator.js';
import type { ConnectOptions, OperatorSocket } from '../shared/client/operator-socket.js';
import { type Connection, DaemonUnreachableError, OperatorError, resolveConnection } from '../shared/client/operator-connection.js';

/**
 * What every command's action uses. Loaded by every command, so it loads nothing heavy itself:
 * the operator client (ws, the protocol's schemas) is imported when a command connects.
 */

/** `--url` and `--state-dir`, defined once on the program and readable from every command. */
export interface GlobalOptions {
  url?: string | undefined;
  stateDir?: string | undefined;
}

/** Two strings from commander (the program's own options): checked by hand, no schema library needed. */
export function globalOptions(command: Command): GlobalOptions {
  const { url, stateDir } = command.optsWithGlobals<Record<string, unknown>>();
  return { url: optionalString(url, '--url'), stateDir: optionalString(stateDir, '--state-dir') };
}

function optionalString(value: unknown, flag: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new TypeError(`${flag}: expected a string from commander, got ${typeof value}`);
}

/** Commands that act offline say so when `--url` was given, rather than silently ignoring it. */
export function noteIgnoredUrl(command: Command, why: string): void {
  if (globalOptions(command).url !== undefined) process.stderr.write(`note: --url is ignored by ${command.name()}: ${why}\n`);
}

const CONNECT_TIMEOUT_MS = 5_000;

interface Closable {
  close(): Promise<void>;
}

/** Connects with the resolved URL and token, runs `work`, and always closes the connection. */
export function withOperator<T>(command: Command, work: (client: OperatorClient) => Promise<T>): Promise<T> {
  // Imported here, not at the top: a command that fails before connecting never loads ws and the schemas.
  return withConnection(command, async (options) => (await import('../shared/client/operator.js')).OperatorClient.connect(options), work);
}

/** The same with the bare socket (no schemas): for `status --line`, which reads its reply by hand. */
export function withOperatorSocket<T>(command: Command, work: (socket: OperatorSocket) => Promise<T>): Promise<T> {
  return withConnection(command, async (options) => (await import('../shared/client/operator-socket.js')).OperatorSocket.connect(options), work);
}

async function withConnection<C extends Closable, T>(command: Command, connect: (options: ConnectOptions) => Promise<C>, work: (client: C) => Promise<T>): Promise<T> {
  const { url, stateDir } = globalOptions(command);
  const connection = resolveConnection({ url, stateDir, env: process.env });
  let client: C;
  try {
    client = await connect({ url: connection.url, token: connection.token, timeoutMs: CONNECT_TIMEOUT_MS });
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

type OptionKind = 'boolean' | 'string' | 'number';
/** What an option may hold: a kind, or the only strings allowed (commander's `.choices`). */
type OptionSpec = OptionKind | readonly string[];
type OptionValue<S extends OptionSpec> = S extends readonly (infer C)[] ? C : S extends 'boolean' ? boolean : S extends 'string' ? string : number;
export type Options<S extends Readonly<Record<string, OptionSpec>>> = { [K in keyof S]: OptionValue<S[K]> | undefined };

/**
 * A command's own options, typed and checked once: commander hands them over untyped. Plain
 * `typeof` checks, no schema library, because every command runs this first; a mismatch is a
 * programmer error (an option renamed on one side only), so it throws.
 */
export function optionsOf<const S extends Readonly<Record<string, OptionSpec>>>(command: Command, spec: S): Options<S> {
  const given = command.opts<Record<string, unknown>>();
  const read: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(spec)) {
    const value = given[name];
    const fits = value === undefined || (typeof kind === 'string' ? typeof value === kind : typeof value === 'string' && kind.includes(value));
    if (!fits) throw new TypeError(`option ${name} of ${command.name()}: expected ${typeof kind === 'string' ? `a ${kind}` : kind.join(' | ')}, got ${JSON.stringify(value)}`);
    read[name] = value;
  }
  // Every key of `spec` was checked against its kind just above.
  return read as Options<S>;
}

/** The same with a zod schema, for a command that loads zod anyway (`daemon`). */
export function commandOptions<S extends z.ZodType>(command: Command, schema: S): z.infer<S> {
  return schema.parse(command.opts());
}

/** Reports a usage error the way commander reports its own, and exits 2. */
export function usageError(command: Command, message: string): never {
  return command.error(`error: ${message}`, { exitCode: 2, code: 'spendguard.usage' });
}
