import { stat } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { CLIENT, osUser, resolveAgentConnection } from '../../shared/claude-code/hook.js';
import { DaemonUnreachableError } from '../../shared/client/operator-connection.js';
import { expandHome } from '../../shared/paths.js';
import { globalOptions, optionsOf } from '../context.js';
import { CommandFailure } from '../exit.js';
import { parseSince } from '../flags.js';

/** A message without a stop reason is taken as complete after this much quiet in its file. */
const SETTLE_MS = 10_000;

function parseClient(text: string): string {
  if (text !== CLIENT) throw new InvalidArgumentError(`must be ${CLIENT}`);
  return text;
}

function startOfToday(): number {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
}

export function register(program: Command): void {
  program
    .command('watch')
    .description("follow Claude Code's session transcripts and report each message's usage to session:<session_id>")
    .argument('<client>', `whose transcripts (only ${CLIENT})`, parseClient)
    .option('--dir <dir>', 'folder of per-project transcript folders (default: $CLAUDE_CONFIG_DIR/projects, else ~/.claude/projects)')
    .option('--since <time>', 'count usage from this time on: 24h, 7d, 2025-01-31 (default: today since local midnight)', (t: string) => parseSince(t))
    .option('--once', 'read every transcript once, report, wait for the acks and exit')
    .action(async (_client: string, _options: unknown, command: Command) => {
      const options = optionsOf(command, { dir: 'string', since: 'number', once: 'boolean' });
      const { url, stateDir } = globalOptions(command);
      // Loaded here, not at the top: chokidar and the agent client are this command's alone.
      const { defaultProjectsDir, scanOnce, watchTranscripts } = await import('../../shared/claude-code/watch.js');
      const { SessionPool } = await import('../../shared/claude-code/sessions.js');
      const dir = expandHome(options.dir ?? defaultProjectsDir());
      if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
        throw new CommandFailure(`no such directory: ${dir} (Claude Code keeps transcripts in ~/.claude/projects; point at them with --dir)`);
      }
      const conn = resolveAgentConnection({ url, stateDir, env: process.env });
      if (conn.token === undefined) {
        throw new CommandFailure(`no agent token: looked in ${conn.tokenFrom} (start the daemon once to create it, or set SPENDGUARD_AGENT_TOKEN / --state-dir)`);
      }
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const since_ms = options.since ?? startOfToday();
      const pool = new SessionPool({ url: conn.url, token: conn.token, user: osUser(), retry_connect: !options.once, log });
      const run = { dir, since_ms, settle_ms: SETTLE_MS, sink: pool, log };

      if (options.once) {
        const stats = await scanOnce(run).finally(() => pool.close());
        const summary = `${stats.files} transcripts: ${stats.recorded} messages recorded ($${stats.cost_usd.toFixed(6)}), ${stats.duplicates} already counted, ${stats.malformed} malformed lines skipped`;
        process.stdout.write(`${summary}\n`);
        if (stats.lost > 0 && pool.unreachable !== undefined) throw new DaemonUnreachableError(conn.url, pool.unreachable);
        if (stats.lost + stats.rejected + stats.unsettled > 0) {
          throw new CommandFailure(`${stats.lost + stats.rejected + stats.unsettled} usage records did not reach the ledger; run again (keys make it safe)`);
        }
        return;
      }

      log(`watching ${dir} for Claude Code usage since ${new Date(since_ms).toISOString()}, reporting to ${conn.url} (Ctrl-C to stop)`);
      const watching = watchTranscripts({ ...run, onTick: () => pool.sweep() });
      await new Promise<void>((resolveStop) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolveStop();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      const stats = await watching.stop().finally(() => pool.close());
      log(`stopped: ${stats.recorded} messages recorded ($${stats.cost_usd.toFixed(6)}), ${stats.duplicates} already counted, ${stats.malformed} malformed lines skipped`);
    });
}
