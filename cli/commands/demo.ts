import { type Command, InvalidArgumentError } from 'commander';
import { MAX_SPEED, MIN_SPEED } from '../../demo/pace.js';
import { DaemonUnreachableError, OperatorError } from '../../shared/client/operator-connection.js';
import { globalOptions, optionsOf } from '../context.js';
import { CommandFailure } from '../exit.js';

const MAX_DURATION_S = 7 * 24 * 3_600;
const DEFAULT_SPEED = 1;

export function register(program: Command): void {
  program
    .command('demo')
    .description('a daemon, the dashboard and simulated agents: see spendguard stop a retry loop, a fan-out and wait for your approval')
    .option('--no-tui', 'headless: print a status line every 2 s and the notable moments (for scripts and CI)')
    .option('--duration <s>', 'stop after this many seconds', parseDuration)
    .option('--speed <x>', `play the scenarios x times faster (${MIN_SPEED}–${MAX_SPEED})`, parseSpeed, DEFAULT_SPEED)
    .addHelpText(
      'after',
      '\nWithout --url it starts its own daemon on a temporary state dir (removed on exit). With --url it joins\n' +
        'that running daemon, using the tokens in --state-dir, and runs under its limits.',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = optionsOf(command, { tui: 'boolean', duration: 'number', speed: 'number' });
      const { url, stateDir } = globalOptions(command);
      if (url === undefined && stateDir !== undefined) {
        process.stderr.write('note: --state-dir is only used with --url; the demo runs its own daemon on a temporary state dir\n');
      }
      // Loaded here, not at the top: the demo brings the daemon, the SDK and the dashboard.
      const { runDemo } = await import('../../demo/run.js');
      let result;
      try {
        result = await runDemo({
          tui: options.tui ?? true,
          terminal: process.stdin.isTTY === true && process.stdout.isTTY === true,
          durationS: options.duration,
          speed: options.speed ?? DEFAULT_SPEED,
          join: url === undefined ? undefined : { url, stateDir },
          stdout: process.stdout,
          stderr: process.stderr,
          env: process.env,
        });
      } catch (err) {
        // Unreachable (exit 3) and refused (exit 1) keep their own exit codes and messages.
        if (err instanceof DaemonUnreachableError || err instanceof OperatorError) throw err;
        throw new CommandFailure(`demo: ${err instanceof Error ? err.message : String(err)}`);
      }
      // Ink holds stdin in raw mode until it unmounts; ending the process is what gives the terminal back.
      if (result.dashboardStillUp) process.exit(0);
    });
}

function parseDuration(text: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(value > 0) || value > MAX_DURATION_S) {
    throw new InvalidArgumentError(`must be a number of seconds above 0 and at most ${MAX_DURATION_S}`);
  }
  return value;
}

function parseSpeed(text: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value < MIN_SPEED || value > MAX_SPEED) {
    throw new InvalidArgumentError(`must be a number from ${MIN_SPEED} to ${MAX_SPEED}`);
  }
  return value;
}
