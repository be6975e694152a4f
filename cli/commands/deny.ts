import type { Command } from 'commander';
import { cliActor } from '../../shared/client/actor.js';
import { withOperator } from '../context.js';
import { parsePromptId } from '../flags.js';

export function register(program: Command): void {
  program
    .command('deny')
    .description('refuse a pending prompt: its request is denied APPROVAL_DENIED')
    .argument('<prompt-id>', 'the prompt to refuse (see `spendguard prompts`)', parsePromptId)
    .action(async (prompt: string, _options: unknown, command: Command) => {
      const result = await withOperator(command, (client) => client.request({ type: 'deny', prompt, actor: cliActor() }));
      process.stdout.write(`${result.message}\n`);
    });
}
