import { SpendguardClient } from '../../client/agent-client.js';
import { FakeDaemon } from '../../client/test-support/fake-daemon.js';
import type { ProviderEvent, WrapperOptions } from '../options.js';
import { FakeProvider } from './fake-provider.js';

/** A fake daemon, a fake provider and a connected client: the wrappers' unit-test bench. */
export interface Harness {
  daemon: FakeDaemon;
  provider: FakeProvider;
  client: SpendguardClient;
  events: ProviderEvent[];
  /** Wrapper options that record events and skip real sleeps; fit every wrapper's options. */
  opts: Pick<WrapperOptions, 'onEvent' | 'sleep'>;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const daemon = await FakeDaemon.start();
  const provider = await FakeProvider.start();
  const client = new SpendguardClient({
    url: daemon.url,
    token: daemon.token,
    hello: { agent: 'a-1', session: 's-1', task: 't-1' },
    requestTimeoutMs: 2_000,
    closeDrainMs: 200,
  });
  await client.connect();
  const events: ProviderEvent[] = [];
  const opts: Harness['opts'] = { onEvent: (e) => events.push(e), sleep: async () => undefined };
  return {
    daemon,
    provider,
    client,
    events,
    opts,
    async close() {
      await client.close();
      await Promise.all([daemon.close(), provider.close()]);
    },
  };
}

export function eventsOf<K extends ProviderEvent['type']>(events: ProviderEvent[], type: K): Extract<ProviderEvent, { type: K }>[] {
  return events.filter((e): e is Extract<ProviderEvent, { type: K }> => e.type === type);
}

/** A promise the test resolves when it wants a held fake response to continue. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
