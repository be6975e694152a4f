import { useApp, useInput } from 'ink';
import { type Dispatch, useEffect } from 'react';
import type { Clock } from '../feed-client.js';
import { keyPresses } from '../keys.js';
import type { Action } from '../reducer.js';

/** Every key goes to the reducer, which reads it through the key table in the context that has focus. */
export function useKeys(clock: Clock, dispatch: Dispatch<Action>): void {
  useInput((input, key) => {
    for (const press of keyPresses(input, key)) dispatch({ type: 'key', press, now_ms: clock.now() });
  });
}

/** Unmounts once the reducer says quit; Ink then restores the terminal. */
export function useQuit(quit: boolean): void {
  const { exit } = useApp();
  useEffect(() => {
    if (quit) exit();
  }, [quit, exit]);
}
