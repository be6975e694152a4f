import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConnection } from '../../shared/client/operator-connection.js';
import { STATE_FILES } from '../../shared/paths.js';
import { envLines, shellExports, TOOLS, type Tool } from '../env-lines.js';
import { globalOptions, optionsOf, withOperator } from '../context.js';
import { parseKeyLabel, parseLifetime, parseScope } from '../flags.js';
import { keyCreateFrame } from './keys.js';

function parseTool(text: string): Tool {
  if (!(TOOLS as readonly string[]).includes(text)) throw new InvalidArgumentError(`must be one of ${TOOLS.join(', ')}`);
  return text as Tool;
}

/** The daemon's HTTP origin, from the URL the CLI would connect to. */
function originOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
}

function readAgentToken(stateDir: string): string | undefined {
  try {
    return readFileSync(join(stateDir, STATE_FILES.agentToken), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function register(program: Command): void {
  program
    .command('env')
    .description('print the environment lines that put a tool behind the provider proxy (eval "$(spendguard env codex --scope session:NAME)")')
    .argument('<tool>', TOOLS.join(' | '), parseTool)
    .option('--scope <scope>', 'create a key bound to this scope and use it (the daemon sends the real provider key)', parseScope)
    .option('--in <parent>', 'with --scope, where the scope belongs when it is not in use yet (a user for a session, …)', parseScope)
    .option('--name <label>', 'with --scope, the key\'s name', parseKeyLabel)
    .option('--expires <duration>', 'with --scope, the key\'s lifetime, e.g. 24h', parseLifetime)
    .action(async (tool: Tool, _options: unknown, command: Command) => {
      const o = optionsOf(command, { scope: 'string', in: 'string', name: 'string', expires: 'number' });
      const { url, stateDir } = globalOptions(command);
      const connection = resolveConnection({ url, stateDir, env: process.env });
      let key: string | undefined;
      if (o.scope !== undefined) {
        const frame = keyCreateFrame(o.scope, o);
        const result = await withOperator(command, (client) => client.request(frame));
        key = result.key;
        process.stderr.write(`${result.message}\n`);
      } else if (tool !== 'claude-code') {
        process.stderr.write(`note: ${tool} can send only a base URL and an API key: pass --scope SCOPE to create a spendguard key for it\n`);
      }
      const agentToken = tool === 'claude-code' && key === undefined ? readAgentToken(connection.stateDir) : undefined;
      process.stdout.write(shellExports(envLines(tool, { origin: originOf(connection.url), key, agentToken })));
    });
}
