import { randomBytes } from 'node:crypto';

/**
 * Scope names of the demo. Round 1 of a scenario uses the plain name (`task:retry-loop`),
 * later rounds a numbered one (`task:retry-loop-2`): every scope keeps its spend for life, so a
 * restarted task needs a fresh id. When joining a daemon that may have run the demo before,
 * a run tag keeps this run's scopes apart (`task:retry-loop.k3x9`).
 */
export class Names {
  constructor(readonly tag: string | undefined) {}

  static fresh(): Names {
    return new Names(randomBytes(3).toString('hex'));
  }

  of(base: string, round = 1): string {
    const numbered = round > 1 ? `${base}-${round}` : base;
    return this.tag === undefined ? numbered : `${numbered}.${this.tag}`;
  }
}
