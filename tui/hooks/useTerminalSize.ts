import { useStdout } from 'ink';
import { useEffect, useState } from 'react';
import type { Size } from '../layout.js';

function read(stdout: NodeJS.WriteStream): Size {
  // Not a TTY (or a test stream): assume the minimum the dashboard is designed for.
  return { columns: stdout.columns || 80, rows: stdout.rows || 24 };
}

/** The terminal's size, updated live on resize. */
export function useTerminalSize(): Size {
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => read(stdout));
  useEffect(() => {
    const onResize = (): void => setSize(read(stdout));
    stdout.on('resize', onResize);
    onResize();
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}
