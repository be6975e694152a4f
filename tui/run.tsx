export interface TopOptions {
  /** Daemon base URL, `ws://127.0.0.1:7878`. */
  readonly url: string;
  readonly token: string | undefined;
  /** Disables kill, resume, grant, approve and deny. */
  readonly readonly: boolean;
  /**
   * Where to connect, asked again before every reconnect: a restarted daemon may listen on a
   * new port (`--listen 127.0.0.1:0`) and say so in its state dir's daemon.json.
   */
  readonly reresolve?: () => { url: string; token: string | undefined };
  /** Aborting it closes the dashboard (the demo stops it this way). */
  readonly signal?: AbortSignal;
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs `spendguard top` in this terminal and resolves when it closes.
 *
 * React picks its build from NODE_ENV once, when first loaded, and its development build costs
 * the dashboard several times the CPU per frame. Node may evaluate CommonJS packages (React)
 * before an ES module's own body, so the variable is set here and the screen loaded after it.
 */
export async function runTop(options: TopOptions): Promise<void> {
  process.env.NODE_ENV ??= 'production';
  const { mountTop } = await import('./mount.js');
  await mountTop(options);
}
