import { useStdout } from 'ink';
import { type Dispatch, useEffect } from 'react';
import type { Clock } from '../feed-client.js';
import type { Size } from '../layout.js';
import type { Action } from '../reducer.js';
import { DEFAULT_SIZE } from '../state.js';

/** The terminal's size now; a stream that is not a TTY (or a test stream) is taken to be the minimum. */
export function readSize(stdout: NodeJS.WriteStream): Size {
  return { columns: stdout.columns || DEFAULT_SIZE.columns, rows: stdout.rows || DEFAULT_SIZE.rows };
}

/**
 * Hands every resize to the reducer, which both draws from the size and reads keys by it (the
 * too-small screen binds only q): one size for what is seen and what keys do.
 */
export function useTerminalSize(clock: Clock, dispatch: Dispatch<Action>): void {
  const { stdout } = useStdout();
  useEffect(() => {
    const onResize = (): void => dispatch({ type: 'resize', size: readSize(stdout), now_ms: clock.now() });
    stdout.on('resize', onResize);
    onResize();
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, clock, dispatch]);
}
