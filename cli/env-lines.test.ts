import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envLines, shellExports, TOOLS, type Tool } from './env-lines.js';

/** `spendguard env` and docs/proxy/<tool>.md show the same lines: one test keeps them in step. */

const PAGE: Record<Tool, string> = {
  'claude-code': 'claude-code',
  codex: 'codex',
  aider: 'aider',
  'openai-python': 'openai-sdk',
  'openai-node': 'openai-sdk',
  'anthropic-python': 'anthropic-sdk',
  'anthropic-node': 'anthropic-sdk',
};

describe('env lines', () => {
  it.each(TOOLS)('%s: its docs page shows exactly the lines the command prints', (tool) => {
    const page = readFileSync(new URL(`../docs/proxy/${PAGE[tool]}.md`, import.meta.url), 'utf8');
    for (const line of envLines(tool, { origin: 'http://127.0.0.1:7878' })) expect(page).toContain(line);
  });

  it('a key replaces the placeholder, and the exports survive a shell', () => {
    const lines = envLines('openai-python', { origin: 'http://127.0.0.1:9', key: "sgk_it's" });
    expect(lines).toEqual(['OPENAI_BASE_URL=http://127.0.0.1:9/proxy/openai/v1', "OPENAI_API_KEY=sgk_it's"]);
    expect(shellExports(lines)).toBe("export OPENAI_BASE_URL='http://127.0.0.1:9/proxy/openai/v1'\nexport OPENAI_API_KEY='sgk_it'\\''s'\n");
  });
});
