import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfigText, type LoadResult } from './load.js';
import { ConfigSchema, embeddedConfig } from './schema.js';

const EXAMPLE = fileURLToPath(new URL('../../config.example.yaml', import.meta.url));

function errorOf(result: LoadResult): string {
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.error;
}

function configOf(result: LoadResult) {
  if (!result.ok) throw new Error(`expected a valid config, got:\n${result.error}`);
  return result.config;
}

describe('config.example.yaml', () => {
  it('parses cleanly and holds the SPEC §6 values', () => {
    const config = configOf(loadConfigFile(EXAMPLE));
    expect(config.listen).toBe('127.0.0.1:7878');
    expect(config.limits.task).toEqual({ cost_usd: 1, tokens: 100_000, wall_time: 1_800_000, mode: 'hard' });
    expect(config.limits.global).toEqual({ per_day: { cost_usd: 20 }, mode: 'hard' });
    expect(config.scopes['session:nightly-batch']).toEqual({ cost_usd: 50 });
    expect(config.approvals).toEqual({ timeout: 120_000, increment_usd: 1, confirm_above_usd: 10, grace: { tokens: 5000, cost_usd: 0.1 } });
    expect(config.reservations).toEqual({ lease: 300_000, adaptive: false, default_max_output_tokens: 4096 });
    expect(config.backpressure.at(-1)).toEqual([1, 5000]);
    expect(config.tools.bash).toEqual({ mode: 'confirm', max_cost_usd: 0.5 });
    expect(config.pricing.models['gpt-4o']).toEqual({ input: 2.5, output: 10, cache_read: 1.25 });
    // SPEC §3: per agent and per user, one N (default 5).
    expect(config.breakers.denials).toEqual({ threshold: 5, reset: 300_000, half_open: 3, user_threshold: 5 });
  });

  it('mentions every key the schema knows', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const missing = [...schemaKeyNames(ConfigSchema)].filter((key) => !new RegExp(`\\b${key}\\b`).test(text));
    expect(missing).toEqual([]);
  });
});

describe('defaults', () => {
  it('an empty or comment-only file gives the schema defaults', () => {
    const defaults = ConfigSchema.parse({});
    expect(configOf(parseConfigText('', 'cfg.yaml'))).toEqual(defaults);
    expect(configOf(parseConfigText('# nothing yet\n\n', 'cfg.yaml'))).toEqual(defaults);
  });

  it('embedded defaults are the safe ones of SPEC §6', () => {
    const config = embeddedConfig();
    expect(config.listen).toBe('127.0.0.1:7878');
    expect(config.limits.task).toEqual({ cost_usd: 1, tokens: 100_000, mode: 'hard' });
    expect(config.limits.session).toEqual({ cost_usd: 5, tokens: 500_000, mode: 'approval' });
    expect(config.limits.global).toEqual({ per_day: { cost_usd: 20 }, mode: 'hard' });
  });
});

describe('breakers', () => {
  it('user_threshold follows threshold unless set (SPEC §3), and defaults to 5', () => {
    expect(configOf(parseConfigText('', 'cfg.yaml')).breakers.denials.user_threshold).toBe(5);
    expect(configOf(parseConfigText('breakers:\n  denials: { threshold: 3 }\n', 'cfg.yaml')).breakers.denials.user_threshold).toBe(3);
    expect(configOf(parseConfigText('breakers:\n  denials: { threshold: 3, user_threshold: 40 }\n', 'cfg.yaml')).breakers.denials).toMatchObject({ threshold: 3, user_threshold: 40 });
  });

  it('burn-rate windows of an hour or a day are accepted as written', () => {
    expect(configOf(parseConfigText('breakers:\n  burn_rate: { window: 24h, cost_usd: 5 }\n', 'cfg.yaml')).breakers.burn_rate.window).toBe(86_400_000);
  });

  it('half_open is bounded: each undecided trial is remembered', () => {
    expect(errorOf(parseConfigText('breakers:\n  denials: { half_open: 5000 }\n', 'cfg.yaml'))).toBe('cfg.yaml:2:25: breakers.denials.half_open: must be at most 1000');
  });
});

describe('price overrides: a zero price only with free: true', () => {
  it('a stray zero on a catalogued model is an error at its line and column, naming the way out', () => {
    const text = 'pricing:\n  models:\n    gpt-4o: { input: 0, output: 10 }\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toBe('cfg.yaml:3:22: pricing.models.gpt-4o.input: is 0: a zero price is honoured only with free: true next to it');
  });

  it('free: true alone, or next to zeros, is honoured; next to a real price it contradicts itself', () => {
    const models = configOf(parseConfigText('pricing:\n  models:\n    local-llama: { free: true }\n    gpt-4o: { input: 0, output: 0, free: true }\n', 'cfg.yaml')).pricing.models;
    expect(models['local-llama']).toMatchObject({ input: 0, output: 0, free: true });
    expect(models['gpt-4o']).toMatchObject({ input: 0, output: 0, free: true });
    expect(errorOf(parseConfigText('pricing:\n  models:\n    m: { input: 3, free: true }\n', 'cfg.yaml'))).toBe('cfg.yaml:3:17: pricing.models.m.input: must be 0 or left out: the model is marked free: true');
  });

  it('the default price is never zero: every unknown model would pass free', () => {
    expect(errorOf(parseConfigText('pricing:\n  default: { input: 0, output: 4 }\n', 'cfg.yaml'))).toBe('cfg.yaml:2:21: pricing.default.input: must be above 0: unknown models are priced at it');
    expect(errorOf(parseConfigText('pricing:\n  default: { input: 1, output: 4, free: true }\n', 'cfg.yaml'))).toBe('cfg.yaml:2:35: pricing.default.free: unknown key');
  });
});

describe('schema problems carry file:line:column, path and reason', () => {
  it('wrong type', () => {
    const text = 'listen: 127.0.0.1:7878\nlimits:\n  task:\n    tokens: lots\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toBe('cfg.yaml:4:13: limits.task.tokens: must be a number, not a string ("lots")');
  });

  it('negative amount', () => {
    const text = 'timezone: local\nlimits:\n  task: { tokens: 10,  cost_usd: -1 }\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toBe('cfg.yaml:3:34: limits.task.cost_usd: must not be negative');
  });

  it('unknown keys, named and pointed at', () => {
    const text = 'limits:\n  task:\n    cost_usd: 1\n    cost_usdd: 2\nlisten_on: 1\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toBe(
      ['cfg.yaml:4:5: limits.task.cost_usdd: unknown key', 'cfg.yaml:5:1: listen_on: unknown key'].join('\n'),
    );
  });

  it('bad duration', () => {
    const text = 'approvals:\n  timeout: 2 minutes\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toBe(
      'cfg.yaml:2:12: approvals.timeout: must be a duration like 90s, 5m, 2h or 1d',
    );
  });

  it('a missing required key points at its parent', () => {
    const text = 'pricing:\n  models:\n    gpt-4o: { input: 2.5 }\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toBe('cfg.yaml:3:13: pricing.models.gpt-4o.output: is required');
  });

  it('a bad scope name points at the key; quoted keys stay readable', () => {
    const text = 'scopes:\n  nightly: { cost_usd: 1 }\n  "user:a.b": { tokens: 1.5 }\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toBe(
      ['cfg.yaml:2:3: scopes.nightly: must be global or kind:id', 'cfg.yaml:3:25: scopes."user:a.b".tokens: must be a whole number'].join('\n'),
    );
  });

  it('a tool policy reports the branch it nearly matched', () => {
    const text = 'tools:\n  bash: { mode: ask }\n  rm: never\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toBe(
      ['cfg.yaml:2:17: tools.bash.mode: must be one of auto, confirm, deny', 'cfg.yaml:3:7: tools.rm: must be one of auto, confirm, deny'].join('\n'),
    );
  });

  it('an empty section and a non-mapping file', () => {
    expect(errorOf(parseConfigText('limits:\n', 'cfg.yaml'))).toBe('cfg.yaml:1:8: limits: must be a mapping, not empty');
    expect(errorOf(parseConfigText('- 1\n', 'cfg.yaml'))).toBe('cfg.yaml:1:1: (root): must be a mapping, not a list');
  });

  it('lists problems in file order and bounds how many', () => {
    const text = Array.from({ length: 30 }, (_, i) => `unknown_${i}: 1`).join('\n');
    const lines = errorOf(parseConfigText(text, 'cfg.yaml')).split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe('cfg.yaml:1:1: unknown_0: unknown key');
    expect(lines[19]).toBe('cfg.yaml:20:1: unknown_19: unknown key');
    expect(lines[20]).toBe('cfg.yaml: 10 more problems not shown');
  });
});

describe('YAML syntax problems carry file:line:column, path and reason', () => {
  it('bad indentation', () => {
    const text = 'limits:\n  task:\n    cost_usd: 1\n   tokens: 2\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toMatch(/^cfg\.yaml:4:1: limits\.task\S*: .*same column/);
  });

  it('duplicate key', () => {
    const text = 'limits:\n  task:\n    cost_usd: 1\n    cost_usd: 2\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toMatch(/^cfg\.yaml:4:5: limits\.task\.cost_usd: .*unique/);
  });

  it('unclosed bracket', () => {
    const text = 'tools: { bash: deny\nrouting: {}\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toMatch(/^cfg\.yaml:2:1: tools\.bash: .*end with a \}/);
  });

  it('unclosed quote', () => {
    const text = 'listen: 127.0.0.1:7878\nstate_dir: "/var/lib\n';
    expect(errorOf(parseConfigText(text, 'cfg.yaml'))).toMatch(/^cfg\.yaml:3:1: state_dir: .*quote/);
  });

  it('unresolved alias and unknown tag are rejected, not thrown', () => {
    expect(errorOf(parseConfigText('limits:\n  task: *base\n', 'cfg.yaml'))).toMatch(/^cfg\.yaml:2:9: limits\.task: .*alias/);
    expect(errorOf(parseConfigText('limits:\n  task: { mode: !strict hard }\n', 'cfg.yaml'))).toMatch(
      /^cfg\.yaml:2:17: limits\.task\.mode: .*tag/,
    );
  });
});

describe('loadConfigFile', () => {
  it('loads a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spendguard-load-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, 'limits:\n  task: { cost_usd: 2 }\n');
      expect(configOf(loadConfigFile(file)).limits.task).toEqual({ cost_usd: 2 });
      writeFileSync(file, 'limits:\n  task: { cost_usd: -2 }\n');
      expect(errorOf(loadConfigFile(file))).toBe(`${file}:2:21: limits.task.cost_usd: must not be negative`);
      expect(errorOf(loadConfigFile(join(dir, 'missing.yaml')))).toBe(`${join(dir, 'missing.yaml')}: cannot read config: no such file`);
      expect(errorOf(loadConfigFile(dir))).toBe(`${dir}: cannot read config: not a regular file`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Every property name in a zod schema, through optional/default/record/array/union wrappers. */
type SchemaNode = { _zod: { def: { type: string } & Partial<Record<'innerType' | 'in' | 'valueType' | 'element', SchemaNode>> & {
  shape?: Record<string, SchemaNode>;
  options?: SchemaNode[];
} } };

function schemaKeyNames(schema: unknown, out = new Set<string>()): Set<string> {
  const def = (schema as SchemaNode)._zod.def;
  for (const [key, child] of Object.entries(def.shape ?? {})) {
    out.add(key);
    schemaKeyNames(child, out);
  }
  for (const child of [def.innerType, def.in, def.valueType, def.element, ...(def.options ?? [])]) {
    if (child) schemaKeyNames(child, out);
  }
  return out;
}
