import type { Command } from 'commander';
import { OperatorError } from '../../shared/client/operator-connection.js';
import { optionsOf, usageError, withOperator, withOperatorSocket } from '../context.js';
import { CommandFailure } from '../exit.js';
import { readStatusLine, renderStatusLine, renderStatusTable } from '../format/status.js';

const NO_BODY = 'the daemon answered status without a status body';

export function register(program: Command): void {
  program
    .command('status')
    .description('budgets of every scope: spent/limit, pressure, burn rate, kills, breakers')
    .option('--json', 'print the daemon status as JSON (stable; JSON Schema in docs/json/status.schema.json)')
    .option('--line', 'print one line for status bars and exit')
    .action(async (_options: unknown, command: Command) => {
      const { json, line } = optionsOf(command, { json: 'boolean', line: 'boolean' });
      if (json && line) usageError(command, '--json and --line cannot be used together');
      if (line) {
        // Status bars run this every few seconds: the bare socket, and only the fields the line prints are read.
        const reply = await withOperatorSocket(command, (socket) => socket.send({ type: 'status', id: 'status-line' }));
        if (reply.status === undefined) throw new CommandFailure(NO_BODY);
        const status = readStatusLine(reply.status);
        if (!status.ok) throw new OperatorError('BAD_REPLY', `unreadable reply from the daemon: ${status.reason}`);
        process.stdout.write(`${renderStatusLine(status.value)}\n`);
        return;
      }
      const result = await withOperator(command, (client) => client.request({ type: 'status' }));
      const status = result.status;
      if (!status) throw new CommandFailure(NO_BODY);
      if (json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else process.stdout.write(renderStatusTable(status));
    });
}
