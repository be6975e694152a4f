import type { FeedSource } from '../feed-client.js';
import type { Action } from '../reducer.js';
import type { Outgoing } from '../state.js';

/** The daemon side of the screen, driven by the test: push actions in, read what was sent. */
export class FakeSource implements FeedSource {
  readonly sent: Outgoing[] = [];
  started = false;
  stopped = false;
  #dispatch: ((action: Action) => void) | null = null;

  start(dispatch: (action: Action) => void): void {
    this.started = true;
    this.#dispatch = dispatch;
  }

  send(commands: readonly Outgoing[]): void {
    this.sent.push(...commands);
  }

  stop(): void {
    this.stopped = true;
  }

  push(...actions: Action[]): void {
    if (!this.#dispatch) throw new Error('the screen has not started the feed');
    for (const action of actions) this.#dispatch(action);
  }
}
