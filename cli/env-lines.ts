/**
 * The environment lines that put a tool behind the provider proxy (`spendguard env <tool>`),
 * the same ones docs/proxy/<tool>.md shows. A tool that can set only a base URL and an API key
 * gets a spendguard key (the daemon sends the upstream's own key); Claude Code can also send a
 * header, so it may keep its subscription and use the agent token instead.
 */

export const TOOLS = ['claude-code', 'codex', 'aider', 'openai-python', 'openai-node', 'anthropic-python', 'anthropic-node'] as const;
export type Tool = (typeof TOOLS)[number];

export interface EnvInput {
  /** The daemon's HTTP origin, e.g. http://127.0.0.1:7878. */
  readonly origin: string;
  /** A spendguard key (sgk_…) bound to the scope the tool should spend in. */
  readonly key?: string | undefined;
  /** The shared agent token, for tools that can send a header (Claude Code). */
  readonly agentToken?: string | undefined;
}

const KEY_PLACEHOLDER = '<a key: spendguard keys create session:NAME>';

export function envLines(tool: Tool, input: EnvInput): string[] {
  const openai = `${input.origin}/proxy/openai/v1`;
  const anthropic = `${input.origin}/proxy/anthropic`;
  const key = input.key ?? KEY_PLACEHOLDER;
  switch (tool) {
    case 'claude-code':
      if (input.key) return [`ANTHROPIC_BASE_URL=${anthropic}`, `ANTHROPIC_API_KEY=${input.key}`];
      // Keeps Claude Code's own login (a subscription works); its session id names the session.
      return [`ANTHROPIC_BASE_URL=${anthropic}`, `ANTHROPIC_CUSTOM_HEADERS=x-spendguard-token: ${input.agentToken ?? '<the agent token: cat ~/.local/state/spendguard/agent.token>'}`];
    case 'codex':
      return [`OPENAI_BASE_URL=${openai}`, `OPENAI_API_KEY=${key}`];
    case 'aider':
      return [`OPENAI_API_BASE=${openai}`, `OPENAI_API_KEY=${key}`, `ANTHROPIC_API_BASE=${anthropic}`, `ANTHROPIC_API_KEY=${key}`];
    case 'openai-python':
    case 'openai-node':
      return [`OPENAI_BASE_URL=${openai}`, `OPENAI_API_KEY=${key}`];
    case 'anthropic-python':
    case 'anthropic-node':
      return [`ANTHROPIC_BASE_URL=${anthropic}`, `ANTHROPIC_API_KEY=${key}`];
  }
}

/** `export NAME='value'` lines a POSIX shell can `eval`. */
export function shellExports(lines: readonly string[]): string {
  return lines.map((line) => {
    const eq = line.indexOf('=');
    return `export ${line.slice(0, eq)}='${line.slice(eq + 1).replaceAll("'", "'\\''")}'`;
  }).join('\n') + '\n';
}
