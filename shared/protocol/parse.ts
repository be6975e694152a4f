import type { z } from 'zod';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** First validation problem as `field: reason`, the form every boundary error takes. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown): ParseResult<z.infer<S>> {
  const r = schema.safeParse(value);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: describeIssue(r.error) };
}
