import type { Command } from 'commander';
import { cliActor } from '../../shared/client/actor.js';
import { optionsOf, usageError, withOperator } from '../context.js';
import { CommandFailure } from '../exit.js';
import { type GrantTarget, parseGrantTarget, parseTokens, parseUsd } from '../flags.js';

export function register(program: Command): void {
  program
    .command('grant')
    .description("answer a prompt by raising its scope's limit, or raise a scope's limit directly")
    .argument('<target>', 'a prompt id (see `spendguard prompts`) or a scope (global, kind:id)', parseGrantTarget)
    .option('--add-usd <usd>', "dollars to add to the limit, above 0 (default: the config's approvals.increment_usd)", parseUsd)
    .option('--add-tokens <n>', 'tokens to add to the limit, above 0', parseTokens)
    .option('--once', 'let only the prompted request through, leaving the limit as it is')
    .option('--yes', "grant without asking, even above approvals.confirm_above_usd or the scope's current limit")
    .option('--create', 'grant to a scope the daemon has not seen yet (ahead of its first agent); without it an unknown scope is refused')
    .action(async (target: GrantTarget, _options: unknown, command: Command) => {
      const options = optionsOf(command, { addUsd: 'number', addTokens: 'number', once: 'boolean', yes: 'boolean', create: 'boolean' });
      if (options.once && (options.addUsd !== undefined || options.addTokens !== undefined)) {
        usageError(command, '--once lets one request through; it cannot be combined with --add-usd or --add-tokens');
      }
      if (options.once && target.kind === 'scope') usageError(command, '--once answers a prompt; give a prompt id, not a scope');
      if (options.create && target.kind === 'prompt') usageError(command, '--create applies to a scope, not a prompt id');
      const frame = {
        type: 'grant' as const,
        target: target.kind === 'scope' ? target.scope : target.prompt,
        ...(options.addUsd === undefined ? {} : { add_usd: options.addUsd }),
        ...(options.addTokens === undefined ? {} : { add_tokens: options.addTokens }),
        ...(options.once ? { once: true } : {}),
        ...(options.create ? { create: true as const } : {}),
        actor: cliActor(),
      };
      const result = await withOperator(command, async (client) => {
        if (options.yes) return client.request({ ...frame, confirmed: true });
        const { OperatorError } = await import('../../shared/client/operator-connection.js');
        try {
          return await client.request(frame);
        } catch (error) {
          // The daemon alone knows the limits: it says what the grant would do, and the operator decides.
          if (!(error instanceof OperatorError) || error.code !== 'CONFIRM_REQUIRED') throw error;
          if (!process.stdin.isTTY) throw new CommandFailure(`${error.message}\nnothing was granted: there is no terminal to ask on; run it again with --yes to grant it`);
          if (!(await askYes(`${error.message}\nGrant it? [y/N] `))) throw new CommandFailure('nothing was granted');
          return client.request({ ...frame, confirmed: true });
        }
      });
      process.stdout.write(`${result.message}\n`);
    });
}

/** y or yes (any case) is yes; anything else, an empty line or end of input is no. */
async function askYes(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once('close', () => resolve(''));
      void rl.question(question).then(resolve, () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
