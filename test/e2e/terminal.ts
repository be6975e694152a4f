import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A real terminal for end-to-end tests: a private tmux server (its own `-L` socket) whose panes
 * run commands in a user's environment, typed into with send-keys and read with capture-pane.
 */

/** The environment of a user's shell: none of vitest's variables, no CI flags, nothing pointing spendguard elsewhere. */
export function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(VITEST|NODE_ENV$|NODE_OPTIONS$|CI$|CONTINUOUS_INTEGRATION$|TEST$|TINYPOOL|SPENDGUARD_)/.test(name)) continue;
    env[name] = value;
  }
  env.LANG ??= 'C.UTF-8';
  return env;
}

export type ScreenWant = string | RegExp | ((screen: string) => boolean);

export class Terminal {
  readonly socket: string;
  private readonly env = userEnv();

  constructor(name: string) {
    this.socket = `${name}-${process.pid}-${Date.now()}`;
  }

  readonly tmux = (...args: string[]): string => execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env: this.env });

  /** What the pane shows now (a full-screen program's alternate screen while it is up). */
  readonly screen = (session: string): string => this.tmux('capture-pane', '-p', '-t', session);

  /** The screen the shell had before a program took over; '' when the pane is not on the alternate screen. */
  readonly shellScreen = (session: string): string => this.tmux('capture-pane', '-p', '-a', '-q', '-t', session);

  readonly pane = (session: string, format: string): string => this.tmux('display-message', '-p', '-t', session, format).trim();

  readonly keys = (session: string, input: string): void => {
    this.tmux('send-keys', '-t', session, '-l', input);
  };

  /** Polls the screen until `want` is on it; fails with the last screen shown. */
  readonly waitForScreen = async (session: string, want: ScreenWant, timeoutMs = 15_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    const test = typeof want === 'function' ? want : (s: string): boolean => (typeof want === 'string' ? s.includes(want) : want.test(s));
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen(session);
      if (test(last)) return last;
      await sleep(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(want)} on the screen:\n${last}`);
  };

  /** Ends the tmux server and everything in its panes. */
  readonly kill = (): void => {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  };
}
