/**
 * The dashboard, loaded only when the demo shows it: `tui/run.tsx` may be absent (a build
 * without the TUI, or while it is being written), and then the demo prints status lines.
 */

export interface TopOptions {
  readonly url: string;
  readonly token: string;
  readonly readonly: boolean;
  /** Aborted when the demo stops for another reason (duration, a signal): the dashboard should unmount. */
  readonly signal?: AbortSignal;
}

/** Resolves when the user quits the dashboard. */
export type RunTop = (options: TopOptions) => Promise<void>;

export type TopLoad = { ok: true; runTop: RunTop } | { ok: false; reason: string };

// A specifier the type checker does not follow: the demo must build whether or not the TUI exists.
const TOP_MODULE: string = '../tui/run.js';

export async function loadTop(): Promise<TopLoad> {
  let mod: unknown;
  try {
    mod = await import(TOP_MODULE);
  } catch (err) {
    if (isMissing(err)) return { ok: false, reason: 'tui/run is not part of this build' };
    throw err;
  }
  const runTop = typeof mod === 'object' && mod !== null && 'runTop' in mod ? mod.runTop : undefined;
  if (!isRunTop(runTop)) return { ok: false, reason: 'tui/run does not export runTop' };
  return { ok: true, runTop };
}

function isRunTop(value: unknown): value is RunTop {
  return typeof value === 'function';
}

/** Only the dashboard module itself being absent; a dashboard that fails to load is a bug to show. */
function isMissing(err: unknown): boolean {
  if (!(err instanceof Error) || !('code' in err) || err.code !== 'ERR_MODULE_NOT_FOUND') return false;
  return /Cannot find module '[^']*[/\\]tui[/\\]run\.js'/.test(err.message);
}
