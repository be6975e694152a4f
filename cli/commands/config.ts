import type { Command } from 'commander';
import { noteIgnoredUrl } from '../context.js';
import { CommandFailure } from '../exit.js';

export function register(program: Command): void {
  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate a config file; problems are printed as file:line:column: path: reason')
    .argument('<file>', 'the YAML config to check')
    .action(async (file: string, _options: unknown, command: Command) => {
      noteIgnoredUrl(command, 'config check reads only the file');
      const { loadConfigFile } = await import('../../daemon/config/load.js'); // yaml + schema: only when checking
      const result = loadConfigFile(file);
      if (!result.ok) throw new CommandFailure(result.error, { bare: true });
      process.stdout.write(`ok: ${file}\n`);
    });
}
