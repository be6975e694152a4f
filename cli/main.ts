import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { describeFailure, type ExitCode } from './exit.js';
import { parseUrl } from './flags.js';

/** A command is one file in `commands/` exporting `register`: its commander definition only. */
interface CommandModule {
  register(program: Command): void;
}

/**
 * Every command, in help order. A command line loads the file of the command it names and no
 * other (`status --line` must not pay for the dashboard or the daemon); help, a typo or no
 * command at all loads every file, so help lists them all and commander can suggest a name.
 */
const COMMANDS: readonly { readonly name: string; readonly load: () => Promise<CommandModule> }[] = [
  { name: 'daemon', load: () => import('./commands/daemon.js') },
  { name: 'top', load: () => import('./commands/top.js') },
  { name: 'demo', load: () => import('./commands/demo.js') },
  { name: 'status', load: () => import('./commands/status.js') },
  { name: 'prompts', load: () => import('./commands/prompts.js') },
  { name: 'kill', load: () => import('./commands/kill.js') },
  { name: 'resume', load: () => import('./commands/resume.js') },
  { name: 'grant', load: () => import('./commands/grant.js') },
  { name: 'deny', load: () => import('./commands/deny.js') },
  { name: 'report', load: () => import('./commands/report.js') },
  { name: 'keys', load: () => import('./commands/keys.js') },
  { name: 'env', load: () => import('./commands/env.js') },
  { name: 'config', load: () => import('./commands/config.js') },
  { name: 'watch', load: () => import('./commands/watch.js') },
  { name: 'hook', load: () => import('./commands/hook.js') },
];

export const COMMAND_NAMES: readonly string[] = COMMANDS.map((c) => c.name);

/** package.json is one folder above cli/ in the sources and two above dist/cli/ once built. */
const MAX_PACKAGE_DEPTH = 3;

function version(): string {
  let dir = new URL('./', import.meta.url);
  for (let depth = 0; depth < MAX_PACKAGE_DEPTH; depth++) {
    dir = new URL('../', dir);
    let pkg: unknown;
    try {
      pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8'));
    } catch {
      continue; // none here (dist/), or unreadable: look one folder up
    }
    if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && pkg.name === 'spendguard' && 'version' in pkg && typeof pkg.version === 'string') {
      return pkg.version;
    }
  }
  return 'unknown';
}

/**
 * The first operand of a command line (`process.argv` form), skipping the program's options and
 * their values: the command it names, if any. A guess that names no command only costs time —
 * every command is loaded then — so an option added later without a value here stays correct.
 */
export function commandWord(program: Command, argv: readonly string[]): string | undefined {
  const takesValue = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f) => f !== undefined)));
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') return args[i + 1];
    if (takesValue.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('spendguard')
    .description('local supervisor that keeps LLM agents inside their budgets')
    .version(version())
    // Settings set here are inherited by every command registered below.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .addOption(new Option('--url <url>', 'daemon URL (env SPENDGUARD_URL; default: the state dir\'s daemon.json, else ws://127.0.0.1:7878)').argParser(parseUrl))
    .addOption(new Option('--state-dir <dir>', 'state dir: ledger, tokens, daemon.json (env SPENDGUARD_STATE_DIR)'));
  const word = commandWord(program, argv);
  const named = COMMANDS.filter((c) => c.name === word);
  const modules = await Promise.all((named.length > 0 ? named : COMMANDS).map((c) => c.load()));
  for (const command of modules) command.register(program);
  return program;
}

/** Runs one command line (`process.argv` form) and returns its exit code (SPEC §5). */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  try {
    await (await buildProgram(argv)).parseAsync([...argv]);
    return 0;
  } catch (error) {
    const failure = describeFailure(error);
    if (failure.message !== undefined) process.stderr.write(`${failure.message}\n`);
    if (process.env.SPENDGUARD_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return failure.exitCode;
  }
}
