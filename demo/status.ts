import { setTimeout as sleep } from 'node:timers/promises';
import { renderStatusLine } from '../cli/format/status.js';
import { OperatorClient } from '../shared/client/operator.js';
import type { StatusJson } from '../shared/protocol/operator.js';
import type { DemoLog } from './log.js';

const TIMEOUT_MS = 3_000;

/** Asks the daemon for its status over the operator socket, reconnecting when the connection is gone. */
export class DaemonStatus {
  private client: OperatorClient | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  /** The status, or undefined (with `error` set) when the daemon cannot be asked. */
  async fetch(): Promise<StatusJson | undefined> {
    try {
      this.client ??= await OperatorClient.connect({ url: this.url, token: this.token, timeoutMs: TIMEOUT_MS });
      const result = await this.client.request({ type: 'status' });
      this.lastError = undefined;
      return result.status;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      const broken = this.client;
      this.client = undefined;
      await broken?.close();
      return undefined;
    }
  }

  get error(): string | undefined {
    return this.lastError;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}

/** The headless view: a `status --line` every `everyMs`, until `signal` aborts. Resolves when it has stopped. */
export async function printStatusLines(status: DaemonStatus, log: DemoLog, everyMs: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      await sleep(everyMs, undefined, { signal });
    } catch {
      return;
    }
    const s = await status.fetch();
    if (signal.aborted) return;
    log.line('status', s ? renderStatusLine(s) : `daemon unreachable: ${status.error ?? 'no answer'}`);
  }
}
