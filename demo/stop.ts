import { setMaxListeners } from 'node:events';

export type StopReason = 'quit' | 'duration' | 'signal';

/** ~20 agents × a sleep, a guard call and its provider call each listen to the one signal, with room to spare. */
const MAX_LISTENERS = 500;

/** The one switch every part of the demo watches; the first reason to stop wins. */
export class StopSwitch {
  private readonly controller = new AbortController();
  private why: StopReason | undefined;

  constructor() {
    setMaxListeners(MAX_LISTENERS, this.controller.signal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get reason(): StopReason | undefined {
    return this.why;
  }

  stop(why: StopReason): void {
    if (this.why !== undefined) return;
    this.why = why;
    this.controller.abort(new Error(`demo stopping (${why})`));
  }

  stopped(): Promise<void> {
    const signal = this.signal;
    return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  }

  /**
   * Ctrl-C and SIGTERM stop the demo gracefully; one that comes while it is already stopping
   * gives up on grace: `abandon` removes what must not be left behind, and the process ends.
   * Returns the function that removes these triggers.
   */
  watch(durationS: number | undefined, abandon: () => void): () => void {
    const onSignal = (): void => {
      if (this.why === undefined) {
        this.stop('signal');
        return;
      }
      abandon();
      process.exit(130);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const timer = durationS === undefined ? undefined : setTimeout(() => this.stop('duration'), durationS * 1_000);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      clearTimeout(timer);
    };
  }
}
