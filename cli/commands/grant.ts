import type { Command } from 'commander';
import { optionsOf, usageError, withOperator } from '../context.js';
import { type GrantTarget, parseGrantTarget, parseTokens, parseUsd } from '../flags.js';

export function register(program: Command): void {
  program
    .command('grant')
    .description("answer a prompt by raising its scope's limit, or raise a scope's limit directly")
    .argument('<target>', 'a prompt id (see `spendguard prompts`) or a scope (global, kind:id)', parseGrantTarget)
    .option('--add-usd <usd>', "dollars to add to the limit (default: the config's approvals.increment_usd)", parseUsd)
    .option('--add-tokens <n>', 'tokens to add to the limit', parseTokens)
    .option('--once', 'let only the prompted request through, leaving the limit as it is')
    .action(async (target: GrantTarget, _options: unknown, command: Command) => {
      const options = optionsOf(command, { addUsd: 'number', addTokens: 'number', once: 'boolean' });
      if (options.once && (options.addUsd !== undefined || options.addTokens !== undefined)) {
        usageError(command, '--once lets one request through; it cannot be combined with --add-usd or --add-tokens');
      }
      if (options.once && target.kind === 'scope') usageError(command, '--once answers a prompt; give a prompt id, not a scope');
      const result = await withOperator(command, (client) =>
        client.request({
          type: 'grant',
          target: target.kind === 'scope' ? target.scope : target.prompt,
          ...(options.addUsd === undefined ? {} : { add_usd: options.addUsd }),
          ...(options.addTokens === undefined ? {} : { add_tokens: options.addTokens }),
          ...(options.once ? { once: true } : {}),
        }),
      );
      process.stdout.write(`${result.message}\n`);
    });
}
