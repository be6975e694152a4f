import { type Dispatch, useEffect } from 'react';
import type { Clock } from '../feed-client.js';
import type { Action } from '../reducer.js';
import { TICK_MS } from '../state.js';

export function useTicker(clock: Clock, dispatch: Dispatch<Action>): void {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout>;
    const tick = (): void => {
      dispatch({ type: 'tick', now_ms: clock.now() });
      timer = clock.setTimeout(tick, TICK_MS);
    };
    timer = clock.setTimeout(tick, TICK_MS);
    return () => clock.clearTimeout(timer);
  }, [clock, dispatch]);
}
