import { homedir } from 'node:os';
import { join } from 'node:path';

/** Files the daemon keeps in its state dir; the CLI and TUI find the daemon through them. */
export const STATE_FILES = {
  ledger: 'ledger.db',
  agentToken: 'agent.token',
  operatorToken: 'operator.token',
  lock: 'daemon.lock',
  /** `{ "url": "ws://127.0.0.1:7878", "pid": 123 }`, written once the daemon listens. */
  endpoint: 'daemon.json',
} as const;

export const DEFAULT_LISTEN = '127.0.0.1:7878';

export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** --state-dir, then SPENDGUARD_STATE_DIR, then the config's state_dir, then $XDG_STATE_HOME/spendguard. */
export function resolveStateDir(flag?: string, configured?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env.SPENDGUARD_STATE_DIR ?? configured;
  if (chosen) return expandHome(chosen);
  const xdg = env.XDG_STATE_HOME && env.XDG_STATE_HOME.length > 0 ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(xdg, 'spendguard');
}

/** `127.0.0.1:7878` → `ws://127.0.0.1:7878`. */
export function listenToUrl(listen: string): string {
  return `ws://${listen}`;
}

/**
 * `ws://h:p` → `ws://h:p/v1/agent` (or `/v1/operator`); http(s) is accepted as ws(s), and a URL
 * that already names the endpoint is kept.
 */
export function endpointUrl(url: string, endpoint: '/v1/agent' | '/v1/operator'): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith(endpoint)) u.pathname = `${u.pathname.replace(/\/+$/, '')}${endpoint}`;
  return u.toString();
}
