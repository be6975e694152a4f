import type { Command } from 'commander';
import { z } from 'zod';
import { commandOptions, globalOptions, noteIgnoredUrl } from '../context.js';
import { parseListen } from '../flags.js';

const Options = z.object({
  config: z.string().optional(),
  listen: z.string().optional(),
  requireKeys: z.boolean().optional(),
  unsafeSharedTokenOnNetwork: z.boolean().optional(),
});

export function register(program: Command): void {
  program
    .command('daemon')
    .description('run the supervisor in the foreground (logs JSON lines; stop with Ctrl-C)')
    .option('--config <file>', 'YAML config (default: safe embedded defaults)')
    .option('--listen <host:port>', 'address to listen on (default: the config, else 127.0.0.1:7878); beyond loopback keys are required', parseListen)
    .option('--require-keys', 'refuse the shared agent token: agents must use keys bound to a scope (default: the config\'s require_keys)')
    .option('--unsafe-shared-token-on-network', 'keep the shared agent token when listening beyond loopback: anyone on the network who has it can act as any agent')
    .action(async (_options: unknown, command: Command) => {
      const options = commandOptions(command, Options);
      noteIgnoredUrl(command, 'the daemon listens where --listen or the config says');
      const { stateDir } = globalOptions(command);
      // Loaded here, not at the top: every other command would pay for the whole daemon's imports.
      const { runDaemon } = await import('../../daemon/main.js');
      await runDaemon({
        ...(options.config === undefined ? {} : { configPath: options.config }),
        ...(options.listen === undefined ? {} : { listen: options.listen }),
        ...(options.requireKeys === undefined ? {} : { requireKeys: options.requireKeys }),
        ...(options.unsafeSharedTokenOnNetwork === undefined ? {} : { unsafeSharedTokenOnNetwork: options.unsafeSharedTokenOnNetwork }),
        ...(stateDir === undefined ? {} : { stateDir }),
      });
    });
}
