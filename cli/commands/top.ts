import type { Command } from 'commander';
import { resolveConnection } from '../../shared/client/operator-connection.js';
import { globalOptions, optionsOf } from '../context.js';
import { UsageError } from '../exit.js';

export function register(program: Command): void {
  program
    .command('top')
    .description('the live operator dashboard (Ink TUI): burn rate, pressure, prompts, kill')
    .option('--readonly', 'disable kill, resume, grant, approve and deny')
    .action(async (_options: unknown, command: Command) => {
      const options = optionsOf(command, { readonly: 'boolean' });
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new UsageError('top needs an interactive terminal; for scripts use `spendguard status --json` or `spendguard prompts --json`');
      }
      const { url, stateDir } = globalOptions(command);
      const resolve = (): { url: string; token: string | undefined } => {
        const connection = resolveConnection({ url, stateDir, env: process.env });
        return { url: connection.url, token: connection.token };
      };
      // Loaded here, not at the top: Ink and React are the dashboard's alone.
      const { runTop } = await import('../../tui/run.js');
      // The dashboard waits for the daemon and says why it cannot connect, so no connect-or-fail here.
      await runTop({ ...resolve(), readonly: options.readonly ?? false, reresolve: resolve });
    });
}
