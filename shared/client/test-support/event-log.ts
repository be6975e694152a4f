import type { ClientEvent } from '../events.js';

type Of<K extends ClientEvent['type']> = Extract<ClientEvent, { type: K }>;

/** Collects client events; tests wait on them instead of sleeping. */
export class EventLog {
  readonly events: ClientEvent[] = [];
  private readonly waiters = new Set<() => void>();

  readonly push = (event: ClientEvent): void => {
    this.events.push(event);
    for (const w of [...this.waiters]) w();
  };

  all<K extends ClientEvent['type']>(type: K): Of<K>[] {
    return this.events.filter((e): e is Of<K> => e.type === type);
  }

  /** Resolves with the `n`-th event of `type` (1-based), already seen or still to come. */
  waitFor<K extends ClientEvent['type']>(type: K, n = 1, timeoutMs = 3_000): Promise<Of<K>> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.all(type)[n - 1];
        if (!found) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${type} event #${n} within ${timeoutMs} ms; saw ${this.events.map((e) => e.type).join(', ')}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

/** Polls `condition` every few ms; for state only visible on the fake daemon's side. */
export async function waitUntil(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
