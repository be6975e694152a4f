import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('top')
    .description('the live operator dashboard (Ink TUI)')
    .option('--readonly', 'disable kill, resume and grant')
    .action(async () => {
      throw new Error('top: not built yet');
    });
}
