import { clientActor } from '../shared/client/actor.js';
import { render } from 'ink';
import { App } from './app.js';
import { FeedClient } from './feed-client.js';
import type { TopOptions } from './run.js';
import { wsConnect } from './socket.js';
import { themeFromEnv } from './theme.js';

const ENTER_ALT_SCREEN = '\x1b[?1049h';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Draws the dashboard until the operator quits (q, Ctrl-C), a signal arrives or `signal`
 * aborts, then restores the terminal: raw mode and cursor (Ink), and the screen the shell had
 * before (the alternate screen).
 */
export async function mountTop(options: TopOptions): Promise<void> {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  const fixed = { url: options.url, token: options.token };
  const source = new FeedClient({ connect: wsConnect(options.reresolve ?? (() => fixed)), actor: clientActor('top') });
  const fullScreen = stdout.isTTY === true;
  let restored = false;
  const restore = (): void => {
    if (restored || !fullScreen) return;
    restored = true;
    stdout.write(LEAVE_ALT_SCREEN);
  };
  if (fullScreen) stdout.write(ENTER_ALT_SCREEN);
  process.once('exit', restore);
  const instance = render(<App source={source} readonly={options.readonly} theme={themeFromEnv(options.env ?? process.env)} endpoint={options.url} />, {
    stdout,
    stdin,
    exitOnCtrlC: false,
    patchConsole: true,
    // Ink's own cap (key presses show within a third of a second), on top of the feed client's
    // 600 ms batching and a clock tick only when no frame came: a full 120×40 screen of changing
    // numbers redraws ≤ 1.7 times a second and stays under 10 % of a core (npm run bench -- --only tui).
    maxFps: 3,
    // Not Ink 6.8's incremental renderer: after a frame that ends in a newline (ours always do,
    // being one line shorter than the terminal) it moves the cursor up one line too few, so every
    // later frame lands a row lower — the first frame's top line stays stale above the header and
    // the footer falls off the bottom (Ink #909, fixed in Ink 7). The standard renderer erases and
    // rewrites the frame inside a synchronized update, which is anchor-safe.
    incrementalRendering: false,
  });
  const stop = (): void => instance.unmount();
  for (const signal of SIGNALS) process.on(signal, stop);
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  try {
    await instance.waitUntilExit();
  } finally {
    for (const signal of SIGNALS) process.off(signal, stop);
    options.signal?.removeEventListener('abort', stop);
    source.stop();
    restore();
    process.off('exit', restore);
  }
}
