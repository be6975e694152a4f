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
  const { mountTop } = await importInteractive(() => import('./mount.js'), options.stdout ?? process.stdout);
  await mountTop(options);
}

const CI_VARIABLES = ['CI', 'CONTINUOUS_INTEGRATION'] as const;

/**
 * Ink decides once, when it is first loaded, whether it runs "in CI" (`CI` or
 * `CONTINUOUS_INTEGRATION` set), and then draws nothing until the app exits. A dashboard on a
 * real terminal is interactive wherever it runs (a shell inside a CI job, a terminal that
 * inherited `CI=true`), so those variables are hidden while Ink loads and put back after.
 */
async function importInteractive<T>(load: () => Promise<T>, stdout: NodeJS.WriteStream): Promise<T> {
  if (stdout.isTTY !== true) return load();
  const saved = CI_VARIABLES.map((name) => [name, process.env[name]] as const);
  for (const [name] of saved) delete process.env[name];
  try {
    return await load();
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}
