import type { Command } from 'commander';
import { cliActor } from '../../shared/client/actor.js';
import { optionsOf, usageError, withOperator } from '../context.js';
import { parseReason, parseScope } from '../flags.js';

export function register(program: Command): void {
  program
    .command('kill')
    .description('stop every agent under a scope now and deny its requests until resume')
    .argument('[scope]', 'global or kind:id (user:alice, session:s-42, task:t-7, agent:a-1)', parseScope)
    .option('--all', 'kill every scope')
    .option('--reason <text>', 'told to the killed agents and kept in the ledger', parseReason)
    .option('--create', 'kill a scope the daemon has not seen yet (a pre-emptive kill); without it an unknown scope is refused')
    .action(async (scope: string | undefined, _options: unknown, command: Command) => {
      const options = optionsOf(command, { all: 'boolean', reason: 'string', create: 'boolean' });
      if ((scope === undefined) === (options.all === undefined)) usageError(command, 'give a scope or --all (exactly one)');
      if (options.create && scope === undefined) usageError(command, '--create applies to one scope, not --all');
      const target = scope === undefined ? { all: true as const } : { scope };
      const reason = options.reason === undefined ? {} : { reason: options.reason };
      const create = options.create ? { create: true as const } : {};
      const result = await withOperator(command, (client) => client.request({ type: 'kill', ...target, ...reason, ...create, actor: cliActor() }));
      process.stdout.write(`${result.message}\n`);
    });
}
