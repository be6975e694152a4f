import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SpendguardClient } from '../../shared/client/agent-client.js';
import { resolveConnection } from '../../shared/client/operator.js';
import { STATE_FILES } from '../../shared/paths.js';
import type { ProviderEvent } from '../../shared/providers/index.js';
import { FakeProvider } from '../../shared/providers/testing/fake-provider.js';

const USAGE = `usage: npx tsx examples/wrappers/<name>.ts [--url ws://127.0.0.1:7878] [--state-dir DIR] [--token T] [--task ID]

Runs a few provider calls through a spendguard wrapper against a local fake provider and a
running daemon (start one with \`spendguard daemon\`), printing what was reserved and committed.
The daemon is found like the CLI finds it: --url, SPENDGUARD_URL, then DIR/daemon.json; the agent
token from --token, SPENDGUARD_AGENT_TOKEN, then DIR/agent.token.`;

export interface Example {
  /** Makes this run's response ids unique: the ledger remembers ids across runs and would call a rerun a duplicate. */
  run: string;
  client: SpendguardClient;
  provider: FakeProvider;
  close(): Promise<void>;
}

/** Connects to the daemon named on the command line and starts a fake provider. */
export async function startExample(name: string): Promise<Example> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'state-dir': { type: 'string' },
      token: { type: 'string' },
      task: { type: 'string', default: `example-${name}` },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const connection = resolveConnection({ url: values.url, stateDir: values['state-dir'], env: process.env });
  const token = values.token ?? process.env.SPENDGUARD_AGENT_TOKEN ?? readToken(join(connection.stateDir, STATE_FILES.agentToken));
  if (!token) {
    console.error(`no agent token: pass --token, set SPENDGUARD_AGENT_TOKEN, or point --state-dir at the daemon's state dir (looked in ${connection.stateDir})\n\n${USAGE}`);
    process.exit(2);
  }
  const client = new SpendguardClient({
    url: connection.url,
    token,
    hello: { agent: `${name}-example`, session: `examples-${process.pid}`, task: values.task },
  });
  try {
    await client.connect();
  } catch (err) {
    console.error(`cannot reach the daemon at ${connection.url} (${connection.urlSource}): ${err instanceof Error ? err.message : String(err)}`);
    process.exit(3);
  }
  const provider = await FakeProvider.start();
  console.log(`daemon ${connection.url} · fake provider ${provider.url} · task:${values.task}\n`);
  return {
    run: Date.now().toString(36),
    client,
    provider,
    async close() {
      await client.close();
      await provider.close();
    },
  };
}

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const usd = (n: number | undefined): string => (n === undefined ? '$?' : `$${n.toFixed(6)}`);

/** One line per reservation, denial, commit and release. */
export function printEvent(e: ProviderEvent): void {
  switch (e.type) {
    case 'reserved': {
      const g = e.grant;
      const model = g.suggested_model ? `${e.model} (suggested: ${g.suggested_model})` : e.model;
      console.log(
        `  reserved  ${g.reservation}  ${model}  ~${e.input_tokens} input tokens, max_tokens ${e.requested_max_tokens} → granted ${g.max_output_tokens}  hold ${usd(g.cost_usd)}  delay ${g.delay_ms} ms  ${g.pressure}`,
      );
      return;
    }
    case 'denied':
      console.log(`  denied    ${e.model}  ${e.deny.code} on ${e.deny.scope}: ${e.deny.message}`);
      return;
    case 'committed': {
      const u = e.usage;
      const counts = `in ${u.input_tokens} · out ${u.output_tokens} · cache read ${u.cache_read_tokens ?? 0} · cache write ${u.cache_write_tokens ?? 0}`;
      const dup = e.ack.duplicate ? '  DUPLICATE (already billed, counted once)' : '';
      console.log(`  committed ${e.reservation}  key ${e.key}  ${counts}  [${e.usage_source}] → ${usd(e.ack.cost_usd)}${dup}`);
      return;
    }
    case 'released':
      console.log(`  released  ${e.reservation}`);
      return;
    default:
      e satisfies never;
  }
}

export function step(title: string): void {
  console.log(`\n${title}`);
}

export function fail(err: unknown): never {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  process.exit(1);
}
