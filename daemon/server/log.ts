import { fstatSync, writeSync } from 'node:fs';

/** JSON-lines logs on stderr; never carries tokens. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/**
 * Where lines go. A log that cannot be written must not end the daemon: stderr redirected to a
 * file on a full disk (launchd's StandardErrorPath) makes Node's stream emit an unhandled
 * 'error' and then stay destroyed, so a file gets plain `writeSync` calls whose failures drop
 * that line only; any other stream gets an error listener.
 */
function sinkOf(stream: NodeJS.WritableStream): (line: string) => void {
  if (stream === process.stderr && isFile(2)) {
    return (line) => {
      try {
        writeSync(2, line);
      } catch {
        // ENOSPC and friends: this line is lost, the next one may fit.
      }
    };
  }
  if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
  return (line) => {
    stream.write(line);
  };
}

function isFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

export function jsonLogger(stream: NodeJS.WritableStream = process.stderr, minLevel: LogLevel = 'info'): Logger {
  const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  const write = sinkOf(stream);
  return (level, msg, fields) => {
    if (order[level] < order[minLevel]) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
}

export const silentLogger: Logger = () => {};

/**
 * A timer callback that logs its own errors: one uncaught throw from a timer ends the daemon and
 * every held frame with it. Operating errors (a full disk) are expected here; anything else is
 * logged at error level with its stack, so a programmer error is loud without killing the
 * supervisor that holds unacknowledged spend.
 */
export function guarded(log: Logger, what: string, run: () => void): () => void {
  let failures = 0;
  return () => {
    try {
      run();
      failures = 0;
    } catch (e) {
      failures += 1;
      // At most one line per failure streak and then one a hundred: a 100 ms tick must not flood the log.
      if (failures === 1 || failures % 100 === 0) log('error', `${what} failed`, { error: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined, failures });
    }
  };
}
