import { readFileSync, statSync } from 'node:fs';
import { type Alias, type Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigSchema, type Config } from './schema.js';

export type LoadResult = { ok: true; config: Config } | { ok: false; error: string };

/** A config is a few kilobytes; anything this big is a mistake, not a config. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Problems reported per load; the rest are counted in one closing line. */
const MAX_PROBLEMS = 20;

type PathKey = string | number;
type Problem = { offset: number; path: readonly PathKey[]; reason: string };

/**
 * YAML text → validated config. Every syntax or schema problem becomes one line
 * `<file>:<line>:<column>: <dotted.path>: <reason>`, earliest in the file first.
 */
export function parseConfigText(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  // prettyErrors would append a source excerpt to each message; we print our own one-line form.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });

  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length > 0) {
    return fail(file, lineCounter, syntax.map((e) => ({ offset: e.pos[0], path: pathAt(doc, e.pos[0]), reason: e.message })));
  }

  let data: unknown;
  try {
    data = doc.toJS() ?? {}; // empty or comment-only file: all defaults
  } catch (err) {
    // toJS throws only for aliases: unresolved, or past yaml's alias-count bound.
    const alias = firstAlias(doc);
    return fail(file, lineCounter, [{ offset: alias?.offset ?? 0, path: alias?.path ?? [], reason: errorMessage(err) }]);
  }

  const parsed = ConfigSchema.safeParse(data, { error: friendlyMessage });
  if (parsed.success) return { ok: true, config: parsed.data };
  return fail(file, lineCounter, parsed.error.issues.flatMap((issue) => problemsOf(doc, issue)));
}

/** Reads and parses one config file; an unreadable file is a failed load naming the file. */
export function loadConfigFile(file: string): LoadResult {
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) return { ok: false, error: `${file}: cannot read config: not a regular file` };
    if (stat.size > MAX_CONFIG_BYTES) {
      return { ok: false, error: `${file}: cannot read config: ${stat.size} bytes is over the ${MAX_CONFIG_BYTES} byte limit` };
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, error: `${file}: cannot read config: ${fsReason(err)}` };
  }
  return parseConfigText(text, file);
}

function fail(file: string, lineCounter: LineCounter, problems: Problem[]): LoadResult {
  const sorted = [...problems].sort((a, b) => a.offset - b.offset);
  const lines = sorted.slice(0, MAX_PROBLEMS).map((p) => {
    const { line, col } = lineCounter.linePos(p.offset);
    return `${file}:${line}:${col}: ${dottedPath(p.path)}: ${p.reason}`;
  });
  if (sorted.length > MAX_PROBLEMS) lines.push(`${file}: ${sorted.length - MAX_PROBLEMS} more problems not shown`);
  return { ok: false, error: lines.join('\n') };
}

function problemsOf(doc: Document, issue: z.core.$ZodIssue): Problem[] {
  const path = issue.path.filter((k): k is PathKey => typeof k !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys':
      // zod puts the issue on the object; point at each unknown key instead.
      return issue.keys.map((key) => {
        const keyPath = [...path, key];
        return { offset: locate(doc, keyPath, 'key'), path: keyPath, reason: 'unknown key' };
      });
    case 'invalid_key':
      return [{ offset: locate(doc, path, 'key'), path, reason: issue.issues.map((i) => i.message).join('; ') }];
    case 'invalid_union': {
      const branch = closestBranch(issue.errors);
      if (branch) return branch.flatMap((inner) => problemsOf(doc, { ...inner, path: [...issue.path, ...inner.path] }));
      return [{ offset: locate(doc, path, 'value'), path, reason: issue.message }];
    }
    default:
      return [{ offset: locate(doc, path, 'value'), path, reason: issue.message }];
  }
}

/**
 * The union branch the input came closest to matching: the one whose issues reach deepest,
 * and at equal depth one that got past the type check. `{ mode: nope }` against
 * `'auto' | { mode }` reports the bad mode rather than "expected string".
 */
function closestBranch(branches: z.core.$ZodIssue[][]): z.core.$ZodIssue[] | undefined {
  const score = (issues: z.core.$ZodIssue[]): number =>
    Math.max(...issues.map((i) => i.path.length * 2 + (i.code === 'invalid_type' ? 0 : 1)));
  let best: z.core.$ZodIssue[] | undefined;
  for (const branch of branches) {
    if (branch.length > 0 && (!best || score(branch) > score(best))) best = branch;
  }
  return best;
}

/** Zod's generic messages, said the way a config author thinks. Schema-specific messages win. */
function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'is required';
    return `must be ${withArticle(issue.expected === 'object' ? 'mapping' : issue.expected)}, not ${describe(issue.input)}`;
  }
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.map(String).join(', ')}`;
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
    const word = issue.code === 'too_small' ? 'least' : 'most';
    if (issue.origin === 'array') return `must have at ${word} ${bound} items`;
    if (issue.origin === 'string') return bound === 1 && word === 'least' ? 'must not be empty' : `must have at ${word} ${bound} characters`;
    if (issue.origin === 'number') return `must be at ${word} ${bound}`;
  }
  if (issue.code === 'invalid_format') return issue.format === 'url' ? 'must be a URL' : `must be a valid ${issue.format}`;
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${withArticle(typeof value)} (${JSON.stringify(value)})`;
}

function withArticle(noun: string): string {
  if (noun === 'array') return 'a list';
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/**
 * Offset of the YAML node at `path`, or of its nearest existing ancestor (a missing key is
 * reported where its parent starts). `want: 'key'` points at the key of the last step.
 */
function locate(doc: Document, path: readonly PathKey[], want: 'key' | 'value'): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [i, step] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(step));
      if (!pair) break;
      const keyStart = rangeStart(pair.key);
      if (i === path.length - 1 && want === 'key' && keyStart !== undefined) return keyStart;
      node = pair.value;
      offset = rangeStart(node) ?? keyStart ?? offset;
    } else if (isSeq(node) && typeof step === 'number') {
      node = node.items[step];
      if (node === undefined) break;
      offset = rangeStart(node) ?? offset;
    } else {
      break;
    }
  }
  return offset;
}

/**
 * Key path for a syntax error: the deepest pair whose span, from its key to the end of its
 * value, holds `offset`. Ends count as inside: yaml reports an unclosed bracket or quote at
 * the first character after it, which belongs to the construct that was left open.
 */
function pathAt(doc: Document, offset: number): PathKey[] {
  const path: PathKey[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => spans(p.key, p.value ?? p.key, offset));
      if (!pair) return path;
      path.push(keyText(pair.key));
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => spans(item, item, offset));
      if (index < 0) return path;
      path.push(index);
      node = node.items[index];
    } else {
      return path;
    }
  }
}

function firstAlias(doc: Document): { offset: number; path: PathKey[] } | undefined {
  let found: { offset: number; path: PathKey[] } | undefined;
  visit(doc, {
    Alias(_key, node: Alias) {
      const offset = rangeStart(node) ?? 0;
      found = { offset, path: pathAt(doc, offset) };
      return visit.BREAK;
    },
  });
  return found;
}

function spans(first: unknown, last: unknown, offset: number): boolean {
  const start = rangeStart(first);
  const end = (last as Node | null)?.range?.[2];
  return start !== undefined && end !== undefined && start <= offset && offset <= end;
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null)?.range?.[0];
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  if (isPair(key)) return keyText(key.key);
  return String(key);
}

/** `limits.task.cost_usd`, `scopes."user:a.b".tokens`, `backpressure.0.1`; `(root)` for the whole file. */
function dottedPath(path: readonly PathKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((k) => (typeof k === 'number' || /^[\w:@/+=-]+$/.test(k) ? String(k) : JSON.stringify(k))).join('.');
}

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return errorMessage(err);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
