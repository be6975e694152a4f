import { type Command, Option } from 'commander';
import { SORT_KEYS } from '../../shared/format/scope-tree.js';
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
    .addOption(new Option('--sort <order>', 'order siblings in the tree: by kind and name, or highest spend, burn or pressure first').choices(SORT_KEYS).default('name'))
    .option('--hot', 'only scopes under pressure, killed or with an open breaker (with their parents)')
    .action(async (_options: unknown, command: Command) => {
      const { json, line, sort, hot } = optionsOf(command, { json: 'boolean', line: 'boolean', sort: SORT_KEYS, hot: 'boolean' });
      if (json && line) usageError(command, '--json and --line cannot be used together');
      const shaped = hot === true || command.getOptionValueSource('sort') === 'cli';
      if (shaped && (json || line)) usageError(command, '--sort and --hot shape the table; --json prints every scope with its parent (sort and filter it with jq), --line prints one line');
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
      else process.stdout.write(renderStatusTable(status, { sort: sort ?? 'name', hot: hot === true }));
    });
}
