import type { Command } from 'commander';
import { cliActor } from '../../shared/client/actor.js';
import { optionsOf, usageError, withOperator } from '../context.js';
import { parseScope } from '../flags.js';

export function register(program: Command): void {
  program
    .command('resume')
    .description('lift a kill from a scope')
    .argument('[scope]', 'global or kind:id', parseScope)
    .option('--all', 'lift every kill')
    .action(async (scope: string | undefined, _options: unknown, command: Command) => {
      const options = optionsOf(command, { all: 'boolean' });
      if ((scope === undefined) === (options.all === undefined)) usageError(command, 'give a scope or --all (exactly one)');
      const target = scope === undefined ? { all: true as const } : { scope };
      const result = await withOperator(command, (client) => client.request({ type: 'resume', ...target, actor: cliActor() }));
      process.stdout.write(`${result.message}\n`);
    });
}
