import type { Config } from './schema.js';

/** Keys the daemon reads once, at start: the socket, the state dir and who may authenticate. */
export const START_ONLY_KEYS = ['listen', 'state_dir', 'require_keys'] as const satisfies readonly (keyof Config)[];

/** The start-only keys a reloaded config changes; a hot reload leaves them as they were. */
export function startOnlyChanges(running: Config, next: Config): Array<(typeof START_ONLY_KEYS)[number]> {
  return START_ONLY_KEYS.filter((key) => running[key] !== next[key]);
}
