import type { Command } from 'commander';
import { z } from 'zod';
import { commandOptions, usageError, withOperator } from '../context.js';
import { CommandFailure } from '../exit.js';
import { renderStatusLine, renderStatusTable } from '../format/status.js';

const Options = z.object({ json: z.boolean().optional(), line: z.boolean().optional() });

export function register(program: Command): void {
  program
    .command('status')
    .description('budgets of every scope: spent/limit, pressure, burn rate, kills, breakers')
    .option('--json', 'print the daemon status as JSON (stable, see SPEC §5)')
    .option('--line', 'print one line for status bars and exit')
    .action(async (_options: unknown, command: Command) => {
      const options = commandOptions(command, Options);
      if (options.json && options.line) usageError(command, '--json and --line cannot be used together');
      const result = await withOperator(command, (client) => client.request({ type: 'status' }));
      const status = result.status;
      if (!status) throw new CommandFailure('the daemon answered status without a status body');
      if (options.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else if (options.line) process.stdout.write(`${renderStatusLine(status)}\n`);
      else process.stdout.write(renderStatusTable(status));
    });
}
