import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keyTableMarkdown } from './keys.js';

describe('README key table', () => {
  it('is the one generated from tui/keys.ts', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(keyTableMarkdown());
  });
});
