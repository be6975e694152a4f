import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { z } from 'zod';
import * as config from './commands/config.js';
import * as daemon from './commands/daemon.js';
import * as demo from './commands/demo.js';
import * as deny from './commands/deny.js';
import * as grant from './commands/grant.js';
import * as hook from './commands/hook.js';
import * as keys from './commands/keys.js';
import * as kill from './commands/kill.js';
import * as prompts from './commands/prompts.js';
import * as report from './commands/report.js';
import * as resume from './commands/resume.js';
import * as status from './commands/status.js';
import * as top from './commands/top.js';
import * as watch from './commands/watch.js';
import { describeFailure, type ExitCode } from './exit.js';
import { parseUrl } from './flags.js';

/** Every command, in help order. A command is one file in `commands/` exporting `register`. */
const COMMANDS: readonly { register(program: Command): void }[] = [daemon, top, demo, status, prompts, kill, resume, grant, deny, report, keys, config, watch, hook];

function version(): string {
  const pkg = z.object({ version: z.string() }).safeParse(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')));
  return pkg.success ? pkg.data.version : 'unknown';
}

export function buildProgram(): Command {
  const program = new Command('spendguard')
    .description('local supervisor that keeps LLM agents inside their budgets')
    .version(version())
    // Settings set here are inherited by every command registered below.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .addOption(new Option('--url <url>', 'daemon URL (env SPENDGUARD_URL; default: the state dir\'s daemon.json, else ws://127.0.0.1:7878)').argParser(parseUrl))
    .addOption(new Option('--state-dir <dir>', 'state dir: ledger, tokens, daemon.json (env SPENDGUARD_STATE_DIR)'));
  for (const command of COMMANDS) command.register(program);
  return program;
}

/** Runs one command line (`process.argv` form) and returns its exit code (SPEC §5). */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (error) {
    const failure = describeFailure(error);
    if (failure.message !== undefined) process.stderr.write(`${failure.message}\n`);
    if (process.env.SPENDGUARD_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return failure.exitCode;
  }
}
