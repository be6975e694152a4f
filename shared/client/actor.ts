import { hostname, userInfo } from 'node:os';

/** `Actor` in shared/protocol/operator.ts (held to it by flags.test.ts): 1–64 of these characters. */
const NOT_ACTOR_CHAR = /[^A-Za-z0-9._@+=:/-]/g;
const MAX_ACTOR_CHARS = 64;

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): the environment is the next best name.
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
}

/**
 * How an operator client names itself in the ledger and in alerts: `cli:<os user>@<host>`,
 * `top:<os user>@<host>`, so two operators' kills and grants can be told apart. Characters the
 * protocol does not take become `_`; the host is cut first when it is too long, so the user always shows.
 */
export function clientActor(client: 'cli' | 'top', user: string = osUser(), host: string = hostname()): string {
  const clean = (s: string): string => s.replace(NOT_ACTOR_CHAR, '_') || '_';
  const who = `${client}:${clean(user)}`.slice(0, MAX_ACTOR_CHARS - 2);
  return `${who}@${clean(host)}`.slice(0, MAX_ACTOR_CHARS);
}

export function cliActor(user?: string, host?: string): string {
  return clientActor('cli', user, host);
}
