import type { Command } from 'commander';
import type { KeyJson } from '../../shared/protocol/operator.js';
import { cliActor } from '../../shared/client/actor.js';
import { optionsOf, withOperator } from '../context.js';
import { parseKeyLabel, parseLifetime, parseScope } from '../flags.js';
import { renderTable } from '../format/table.js';

/** The `key_create` frame for a scope and the options `keys create` and `env --scope` share. */
export function keyCreateFrame(scope: string, o: { in?: string | undefined; agent?: string | undefined; name?: string | undefined; expires?: number | undefined }) {
  return {
    type: 'key_create' as const,
    scope,
    ...(o.in === undefined ? {} : { in: o.in }),
    ...(o.agent === undefined ? {} : { agent: o.agent }),
    ...(o.name === undefined ? {} : { name: o.name }),
    ...(o.expires === undefined ? {} : { expires_ms: o.expires }),
  };
}

function when(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function keysTable(keys: readonly KeyJson[]): string {
  if (keys.length === 0) return 'no keys; create one with `spendguard keys create <scope> [--in <parent>]`\n';
  const rows = keys.map((k) => [k.label, k.scope, k.under.filter((id) => id !== 'global').join(' > ') || '—', k.agent ?? '—', when(k.created_ms), when(k.expires_ms), when(k.last_used_ms), k.revoked ? 'revoked' : k.expires_ms !== null && k.expires_ms <= Date.now() ? 'expired' : 'active', String(k.connections)]);
  return renderTable(['NAME', 'SCOPE', 'IN', 'AGENT', 'CREATED', 'EXPIRES', 'LAST USED', 'STATE', 'CONNS'], rows, ['left', 'left', 'left', 'left', 'left', 'left', 'left', 'left', 'right']);
}

export function register(program: Command): void {
  const keys = program
    .command('keys')
    .description('keys bound to a scope: an agent holding one may act only inside that scope (and as one agent with --agent)');

  keys
    .command('create')
    .description('create a key and print it once (the daemon keeps only its hash)')
    .argument('<scope>', 'user:NAME, session:ID, task:ID or agent:NAME', parseScope)
    .option('--in <parent>', 'where the scope belongs when it is not in use yet: a user for a session, a session for a task, a task for an agent', parseScope)
    .option('--agent <name>', 'the key may act only as this agent')
    .option('--name <label>', 'what `keys list` and `keys revoke` call it (default: key-N)', parseKeyLabel)
    .option('--expires <duration>', 'lifetime, e.g. 24h or 30d (default: until revoked)', parseLifetime)
    .action(async (scope: string, _options: unknown, command: Command) => {
      const o = optionsOf(command, { in: 'string', agent: 'string', name: 'string', expires: 'number' });
      const result = await withOperator(command, (client) => client.request({ ...keyCreateFrame(scope, o), actor: cliActor() }));
      // The key alone on stdout (for `$(spendguard keys create …)`); what it is, on stderr.
      process.stderr.write(`${result.message}\n`);
      process.stdout.write(`${result.key ?? ''}\n`);
    });

  keys
    .command('list')
    .description('every key: name, scope, created, expires, last used — never the key itself')
    .option('--json', 'machine-readable')
    .action(async (_options: unknown, command: Command) => {
      const o = optionsOf(command, { json: 'boolean' });
      const result = await withOperator(command, (client) => client.request({ type: 'key_list' }));
      const list = result.keys ?? [];
      process.stdout.write(o.json ? `${JSON.stringify(list)}\n` : keysTable(list));
    });

  keys
    .command('revoke')
    .description('revoke a key at once: connections using it are closed')
    .argument('<name|key>', 'the key\'s name (see `keys list`) or the key itself')
    .action(async (target: string, _options: unknown, command: Command) => {
      const result = await withOperator(command, (client) => client.request({ type: 'key_revoke', target, actor: cliActor() }));
      process.stdout.write(`${result.message}\n`);
    });
}
