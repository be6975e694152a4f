import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { ConfigSchema, Dims, Duration, LimitBlock } from '../daemon/config/schema.js';
import { START_ONLY_KEYS } from '../daemon/config/start-only.js';

/**
 * The configuration reference (docs/config.md) and the JSON Schema of the config file
 * (docs/json/config.schema.json), generated from the zod schema the daemon validates the YAML
 * with, so neither can drift from the code (a test compares them; `npm run docs` rewrites them).
 * Descriptions are the schema's own `.describe()` texts.
 */

type Json = z.core.JSONSchema.JSONSchema;

/** Blocks used in several places: one `$defs` entry and one section each. */
const SHARED = new Map<z.core.$ZodType, string>([
  [LimitBlock, 'limit_block'],
  [Dims, 'dimensions'],
]);

/** The schemas' own metadata (their `.describe()` texts), plus a `$defs` id for the shared blocks. */
class DocsMeta extends z.core.$ZodRegistry<z.core.GlobalMeta> {
  override get<S extends z.core.$ZodType>(schema: S): z.core.$replace<z.core.GlobalMeta, S> | undefined {
    const meta = z.globalRegistry.get(schema);
    const id = SHARED.get(schema);
    return id === undefined ? meta : { ...meta, id };
  }
}

const DURATION_PATTERN = z.toJSONSchema(Duration, { io: 'input' }).pattern;

/** 120000 → `2m`: a duration as the config file writes it (exact, unlike `ms()`, which rounds). */
export function durationText(ms: number): string {
  const units: ReadonlyArray<readonly [string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const unit = units.find(([, size]) => ms > 0 && ms % size === 0);
  return unit ? `${ms / unit[1]}${unit[0]}` : `${ms}ms`;
}

/**
 * zod leaves out the default of a field that transforms its input (a duration's default is in
 * milliseconds, the file says `2m`). Put back the input that gives that default, when there is one.
 */
function inputDefault({ zodSchema, jsonSchema }: { zodSchema: z.core.$ZodTypes; jsonSchema: Json }): void {
  const def = zodSchema._zod.def;
  if (def.type !== 'default' || jsonSchema.default !== undefined) return;
  const output: unknown = def.defaultValue;
  const input = jsonSchema.pattern === DURATION_PATTERN && typeof output === 'number' ? durationText(output) : output;
  const parsed = z.safeParse(zodSchema, input);
  if (parsed.success && isDeepStrictEqual(parsed.data, output)) jsonSchema.default = input;
}

/** The JSON Schema of the config file as written (durations as strings, defaults included). */
export function configJsonSchema(): Json {
  const schema: Json = z.toJSONSchema(ConfigSchema, { io: 'input', metadata: new DocsMeta(), override: inputDefault });
  return { title: 'spendguard daemon --config FILE (YAML)', ...schema };
}

export function configSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

export interface Row {
  /** Path segments; `<scope>` and the like stand for a name the file chooses. */
  readonly path: readonly string[];
  readonly type: string;
  readonly default: unknown;
  readonly allowed: string;
  readonly description: string;
  /** The shared block (a `$defs` id) this key holds, documented in its own section. */
  readonly ref?: string | undefined;
}

export interface Section {
  readonly id: string;
  readonly title: string;
  readonly intro: string;
  readonly rows: readonly Row[];
}

/** What a name-keyed map's keys stand for, by the map's own key. */
const PLACEHOLDERS: Readonly<Record<string, string>> = { scopes: 'scope', tools: 'tool', routing: 'model', models: 'model', ops: 'op', upstreams: 'name' };

const placeholder = (key: string | undefined): string => `<${PLACEHOLDERS[key ?? ''] ?? 'name'}>`;
/** GitHub's anchor of a heading. */
const anchor = (title: string): string => title.toLowerCase().replace(/[^\w\- ]/g, '').replaceAll(' ', '-');
const sharedTitle = (id: string): string => `${id[0]?.toUpperCase() ?? ''}${id.slice(1).replaceAll('_', ' ')}`;
const sharedLink = (id: string): string => `[${sharedTitle(id).toLowerCase()}](#${anchor(sharedTitle(id))})`;
const refId = (node: Json): string | undefined => node.$ref?.split('/').at(-1);
const asSchema = (node: unknown): Json | undefined => (typeof node === 'object' && node !== null && !Array.isArray(node) ? (node as Json) : undefined);
/** A map keyed by names the file chooses (`scopes`, `tools` …): what its values are. */
const mapValues = (node: Json): Json | undefined => (node.type === 'object' && !node.properties ? asSchema(node.additionalProperties) : undefined);
/** `scopes.<scope>.cost_usd`, `backpressure[n][0]`. */
export const pathText = (path: readonly string[]): string => path.map((p, i) => (i === 0 || p.startsWith('[') ? p : `.${p}`)).join('');

function typeOf(node: Json, key?: string): string {
  const ref = refId(node);
  if (ref !== undefined) return sharedLink(ref);
  if (node.anyOf) return node.anyOf.map((variant) => typeOf(variant)).join(' or ');
  if (node.pattern !== undefined && node.pattern === DURATION_PATTERN) return 'duration';
  if (node.format === 'uri') return 'URL';
  if (node.type === 'array') {
    const tuple = node.prefixItems?.map((item) => typeOf(asSchema(item) ?? {}));
    return tuple ? `[${tuple.join(', ')}]` : `list of ${typeOf(asSchema(node.items) ?? {})}`;
  }
  const values = mapValues(node);
  if (values) return `map: \`${placeholder(key)}\` → ${typeOf(values)}`;
  return Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
}

const number = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 6 });

function allowedOf(node: Json, required: boolean): string {
  const parts: string[] = required ? ['required'] : [];
  if (node.enum) parts.push(`one of ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (node.anyOf) parts.push(node.anyOf.map((v) => allowedOf(v, false)).filter(Boolean).join('; or '));
  const { minimum: min, maximum: max } = node;
  if (min !== undefined && max !== undefined) parts.push(`${number(min)} – ${number(max)}`);
  else if (min !== undefined) parts.push(`≥ ${number(min)}`);
  else if (max !== undefined) parts.push(`≤ ${number(max)}`);
  if (node.minLength === 1) parts.push('not empty');
  if (node.maxItems !== undefined && !node.prefixItems) parts.push(`at most ${number(node.maxItems)} items`);
  if (node.pattern !== undefined && node.pattern !== DURATION_PATTERN) parts.push(`matches \`${node.pattern}\``);
  const keys = asSchema(node.propertyNames);
  if (keys?.pattern !== undefined) parts.push(`names match \`${keys.pattern}\``);
  if (node.format === 'uri') parts.push('a URL');
  return parts.filter(Boolean).join('; ');
}

/** The rows of one node and everything under it, noting where each shared block is used. */
function walk(node: Json, path: string[], required: boolean, rows: Row[], uses: (ref: string, path: string[]) => void): void {
  const ref = refId(node);
  if (path.length > 0) {
    rows.push({ path, type: typeOf(node, path.at(-1)), default: node.default, allowed: allowedOf(node, required), description: node.description ?? '', ref });
  }
  if (ref !== undefined) return uses(ref, path);
  for (const variant of [node, ...(node.anyOf ?? [])]) {
    for (const [key, child] of Object.entries(variant.properties ?? {})) {
      const schema = asSchema(child);
      if (schema) walk(schema, [...path, key], variant.required?.includes(key) ?? false, rows, uses);
    }
  }
  const values = mapValues(node);
  if (values) walk(values, [...path, placeholder(path.at(-1))], false, rows, uses);
  const items = asSchema(node.items);
  for (const [i, item] of (items?.prefixItems ?? []).entries()) {
    const schema = asSchema(item);
    if (schema) walk(schema, [...path, `[n][${i}]`], true, rows, uses);
  }
}

/** One section per top-level key, then one per shared block. */
export function configSections(schema: Json = configJsonSchema()): Section[] {
  /** Where each shared block is used: its paths, by the section they are in. */
  const used = new Map<string, Map<string, string[]>>();
  const uses =
    (where: string) =>
    (ref: string, path: string[]): void => {
      const byWhere = used.get(ref) ?? new Map<string, string[]>();
      byWhere.set(where, [...(byWhere.get(where) ?? []), `\`${pathText(path)}\``]);
      used.set(ref, byWhere);
    };
  const sections: Section[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const rows: Row[] = [];
    walk(asSchema(child) ?? {}, [key], false, rows, uses(''));
    sections.push({ id: key, title: `\`${key}\``, intro: '', rows });
  }
  for (const [id, def] of Object.entries(schema.$defs ?? {})) {
    const rows: Row[] = [];
    walk(def, [], false, rows, uses(` in a ${sharedLink(id)}`));
    sections.push({ id, title: sharedTitle(id), intro: def.description ?? '', rows });
  }
  return sections.map((s) => {
    const at = [...(used.get(s.id) ?? [])].map(([where, paths]) => `${paths.join(', ')}${where}`);
    return at.length > 0 ? { ...s, intro: `${s.intro ? `${s.intro}. ` : ''}Used at ${at.join('; ')}.` } : s;
  });
}

/** A value as YAML flow style, the way the config file would write it. */
export function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => `${k}: ${flow(v)}`);
    return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
  }
  if (typeof value === 'string' && !/^[\w.:/@-]+$/.test(value)) return JSON.stringify(value);
  return String(value);
}

/** A table cell: pipes escaped, and `<` outside code spans, so `<name>` is not taken for HTML. */
function cell(text: string): string {
  return text
    .split('`')
    .map((part, i) => (i % 2 === 0 ? part.replaceAll('<', '&lt;') : part))
    .join('`')
    .replaceAll('|', '\\|');
}

const code = (text: string): string => `\`${text.replaceAll('|', '\\|')}\``;

const HEADER = `# Configuration reference

<!-- Generated from daemon/config/schema.ts by \`npm run docs\`: edit the schema's .describe() texts, not this file. -->

\`spendguard daemon --config FILE\` reads one YAML file; \`spendguard config check FILE\` validates one.
Every key is optional: a key left out takes its default, and without a file the daemon runs on safe
embedded limits. Unknown keys are errors, so a typo never silently disables a limit. The file is
watched: a valid edit applies within a second; an invalid one is rejected with file:line:column
and the last good config stays in force (${START_ONLY_KEYS.map((k) => `\`${k}\``).join(', ')}: read at start
only).

Durations are strings like \`500ms\`, \`90s\`, \`5m\`, \`2h\`, \`1d\` (at most 366d). Money is in US
dollars. A path segment in angle brackets, like \`scopes.<scope>\`, is a name the file chooses;
\`[n][0]\` is the first element of the n-th entry of a list.

[config.example.yaml](../config.example.yaml) sets every key, with comments.
[json/config.schema.json](json/config.schema.json) is the JSON Schema of the file, for editors that
validate YAML.
`;

/** docs/config.md. */
export function configMarkdown(): string {
  const sections = configSections();
  const contents = sections.map((s) => `[${s.title}](#${anchor(s.title)})`).join(' · ');
  const body = sections.map((s) => {
    const rows = s.rows.map((r) => {
      const defaultText = r.default === undefined ? '—' : code(flow(r.default));
      return `| ${code(pathText(r.path))} | ${cell(r.type)} | ${defaultText} | ${cell(r.allowed)} | ${cell(r.description)} |`;
    });
    const intro = s.intro ? `${s.intro}\n\n` : '';
    return `## ${s.title}\n\n${intro}| key | type | default | allowed | description |\n|---|---|---|---|---|\n${rows.join('\n')}\n`;
  });
  return `${HEADER}\n${contents}\n\n${body.join('\n')}`;
}
