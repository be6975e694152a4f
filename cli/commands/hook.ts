import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  CLIENT,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WAIT_MS,
  hookFromStdin,
  parseDurationMs,
  parseFailMode,
  timingLine,
  type FailMode,
} from '../../shared/claude-code/hook.js';
import { globalOptions, optionsOf } from '../context.js';

const FAIL_MODES: readonly FailMode[] = ['open', 'closed'];
const DEFAULT_FAIL: FailMode = 'open';

function parseClient(text: string): string {
  if (text !== CLIENT) throw new InvalidArgumentError(`must be ${CLIENT}`);
  return text;
}

function parseFail(text: string): FailMode {
  const mode = parseFailMode(text);
  if (mode === undefined) throw new InvalidArgumentError('must be open or closed');
  return mode;
}

function duration(max_ms: number): (text: string) => number {
  return (text) => {
    const value = parseDurationMs(text, max_ms);
    if (value === undefined) throw new InvalidArgumentError(`must be a duration up to ${max_ms / 1000} s, like 30s or 2m`);
    return value;
  };
}

export function register(program: Command): void {
  program
    .command('hook')
    .description('Claude Code PreToolUse hook: reads its JSON on stdin, exits 0 to allow, 2 with the reason on stderr to block')
    .argument('<client>', `the hook's host (only ${CLIENT})`, parseClient)
    .addOption(new Option('--fail <mode>', 'when the daemon does not answer: open allows the tool, closed blocks it').argParser(parseFail).default(DEFAULT_FAIL))
    .addOption(
      new Option('--wait <duration>', 'how long to wait for the operator on an approval prompt').argParser(duration(3_600_000)).default(DEFAULT_WAIT_MS, `${DEFAULT_WAIT_MS / 1000}s`),
    )
    .addOption(new Option('--timeout <duration>', 'bound on connecting and the first answer').argParser(duration(60_000)).default(DEFAULT_TIMEOUT_MS, `${DEFAULT_TIMEOUT_MS / 1000}s`))
    .option('--timing', 'print the decision time on stderr')
    // A blocked call's reason must stay one line: no help hint after it.
    .showHelpAfterError(false)
    .action(async (_client: string, _options: unknown, command: Command) => {
      const started = performance.now();
      const options = optionsOf(command, { fail: FAIL_MODES, wait: 'number', timeout: 'number', timing: 'boolean' });
      const { url, stateDir } = globalOptions(command);
      const verdict = await hookFromStdin(process.stdin, {
        url,
        stateDir,
        fail: options.fail ?? DEFAULT_FAIL,
        wait_ms: options.wait ?? DEFAULT_WAIT_MS,
        timeout_ms: options.timeout ?? DEFAULT_TIMEOUT_MS,
        env: process.env,
      });
      if (options.timing) process.stderr.write(`${timingLine(started)}\n`);
      // Exit code 2 is Claude Code's "block"; commander's error path prints the reason alone and exits 2.
      if (verdict.exitCode === 2) command.error(verdict.message ?? 'spendguard blocked this call', { exitCode: 2, code: 'spendguard.hook.blocked' });
      if (verdict.message !== undefined) process.stderr.write(`${verdict.message}\n`);
    });
}
