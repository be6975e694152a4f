import type { Command } from 'commander';
import { optionsOf, withOperator } from '../context.js';
import { CommandFailure } from '../exit.js';
import { renderPromptsTable } from '../format/prompts.js';

export function register(program: Command): void {
  program
    .command('prompts')
    .description('pending overdraft prompts, oldest first (answer with grant or deny)')
    .option('--json', 'print the prompts as a JSON array (stable; JSON Schema in docs/json/prompts.schema.json)')
    .action(async (_options: unknown, command: Command) => {
      const options = optionsOf(command, { json: 'boolean' });
      const result = await withOperator(command, (client) => client.request({ type: 'prompts' }));
      const prompts = result.prompts;
      if (!prompts) throw new CommandFailure('the daemon answered prompts without a prompt list');
      process.stdout.write(options.json ? `${JSON.stringify(prompts, null, 2)}\n` : renderPromptsTable(prompts));
    });
}
