import { CommanderError } from 'commander';
import { DaemonUnreachableError, OperatorError } from '../shared/client/operator-connection.js';

/** SPEC §5 exit codes: a contract for scripts. */
export const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A command that ran and failed for a reason the operator can act on (exit 1). */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  /** Printed as is, without the `error: ` prefix (messages that already say where, like `file:line:col: …`). */
  readonly bare: boolean;
  constructor(message: string, options: { bare?: boolean } = {}) {
    super(message);
    this.bare = options.bare ?? false;
  }
}

/** Bad flags or arguments found after commander's own parsing (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Failure {
  exitCode: ExitCode;
  /** The whole stderr text; undefined when commander has printed it already. */
  message: string | undefined;
}

/** Every way a command can end badly, mapped to its exit code and one message. */
export function describeFailure(error: unknown): Failure {
  if (error instanceof CommanderError) {
    // Help and version are successful exits; anything else commander raises is a usage error.
    return { exitCode: error.exitCode === 0 ? EXIT.ok : EXIT.usage, message: undefined };
  }
  if (error instanceof UsageError) return { exitCode: EXIT.usage, message: `error: ${error.message}` };
  if (error instanceof DaemonUnreachableError) return { exitCode: EXIT.unreachable, message: `error: ${error.message}` };
  if (error instanceof OperatorError) return { exitCode: EXIT.failure, message: `error: ${error.code}: ${error.message}` };
  if (error instanceof CommandFailure) return { exitCode: EXIT.failure, message: error.bare ? error.message : `error: ${error.message}` };
  return { exitCode: EXIT.failure, message: `error: ${error instanceof Error ? error.message : String(error)}` };
}
