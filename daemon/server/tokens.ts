import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_FILES } from '../../shared/paths.js';

export interface Tokens {
  readonly agent: string;
  readonly operator: string;
}

function ensure(path: string): string {
  if (existsSync(path)) {
    chmodSync(path, 0o600);
    const token = readFileSync(path, 'utf8').trim();
    if (token.length >= 16) return token;
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

/** Bearer tokens generated on first start, mode 0600 (SPEC §8). */
export function ensureTokens(stateDir: string): Tokens {
  return { agent: ensure(join(stateDir, STATE_FILES.agentToken)), operator: ensure(join(stateDir, STATE_FILES.operatorToken)) };
}

export function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
