import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('demo')
    .description('a daemon, the dashboard and simulated agents: see spendguard stop a retry loop, a fan-out and wait for your approval')
    .action(async () => {
      throw new Error('demo: not built yet');
    });
}
