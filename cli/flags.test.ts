import fc from 'fast-check';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ScopeIdSchema } from '../shared/protocol/fields.js';
import { KeyLabel } from '../shared/protocol/operator.js';
import { parseKeyLabel, parseScope } from './flags.js';

/**
 * flags.ts checks scopes and key labels with its own regular expressions (every command line
 * loads it, and zod would double the CLI's start-up): they must accept exactly what the
 * protocol's schemas accept, or a flag would pass here and be refused by the daemon, or the reverse.
 */

const accepts = (parse: (text: string) => string, text: string): boolean => {
  try {
    return parse(text) === text;
  } catch (error) {
    if (error instanceof InvalidArgumentError) return false;
    throw error;
  }
};

/** Strings near the boundary: the schemas' alphabet, a colon, a space, other characters, long runs. */
const nearScope = fc.oneof(
  fc.constantFrom('global', 'user:', 'session:', 'task:', 'agent:', 'key:', 'global:', 'User:').chain((kind) =>
    fc.string({ unit: fc.constantFrom('a', 'Z', '9', '.', '_', '@', '/', '+', '=', '-', ':', ' ', 'é', '\n'), maxLength: 140 }).map((id) => `${kind}${id}`),
  ),
  fc.string({ maxLength: 40 }),
);
const nearLabel = fc.string({ unit: fc.constantFrom('a', 'Z', '9', '.', '_', '@', '+', '=', '-', '/', ':', ' ', 'é'), maxLength: 70 });

describe('flag parsers agree with the protocol schemas', () => {
  it('scope: parseScope accepts exactly what ScopeIdSchema accepts', () => {
    fc.assert(
      fc.property(nearScope, (text) => {
        expect(accepts(parseScope, text)).toBe(ScopeIdSchema.safeParse(text).success);
      }),
      { numRuns: 2_000 },
    );
    for (const text of ['global', 'user:alice', 'session:s-42', `task:${'t'.repeat(128)}`, `task:${'t'.repeat(129)}`, 'agent:', 'global:x', 'org:acme']) {
      expect(accepts(parseScope, text), text).toBe(ScopeIdSchema.safeParse(text).success);
    }
  });

  it('key label: parseKeyLabel accepts exactly what KeyLabel accepts', () => {
    fc.assert(
      fc.property(nearLabel, (text) => {
        expect(accepts(parseKeyLabel, text)).toBe(KeyLabel.safeParse(text).success);
      }),
      { numRuns: 2_000 },
    );
    for (const text of ['key-1', 'a', 'x'.repeat(64), 'x'.repeat(65), '', 'ci/bot']) {
      expect(accepts(parseKeyLabel, text), text).toBe(KeyLabel.safeParse(text).success);
    }
  });
});
