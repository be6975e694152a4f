/**
 * Near matches for a mistyped scope id (`task:nope` → `task:nop3`, `task:nope-2`): what the
 * operator probably meant, named in the refusal. Bounded: at most `max` ids are returned, and
 * the edit distance is computed with a cut-off, so a fleet of 100,000 scopes costs one pass.
 */

/** Levenshtein distance, or `cap + 1` as soon as it is certain to exceed `cap`. */
export function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      row.push(v);
      if (v < best) best = v;
    }
    if (best > cap) return cap + 1;
    prev = row;
  }
  return prev[b.length] ?? cap + 1;
}

/**
 * Up to `max` of `known` close to `wanted`: ids that start with it or it starts with (same
 * kind), then ids within an edit distance of a quarter of its length (at least 2), nearest first.
 */
export function nearMatches(wanted: string, known: Iterable<string>, max = 3): string[] {
  const cap = Math.max(2, Math.floor(wanted.length / 4));
  const found: Array<{ id: string; rank: number }> = [];
  const seen = new Set<string>();
  for (const id of known) {
    if (id === wanted || seen.has(id)) continue;
    seen.add(id);
    const prefix = id.length > wanted.length ? id.startsWith(wanted) : wanted.startsWith(id) && id.includes(':');
    const rank = prefix ? 0 : editDistance(wanted, id, cap);
    if (rank > cap) continue;
    found.push({ id, rank });
    // Kept small while scanning: only the best `max` can be returned.
    if (found.length > max * 8) trim(found, max);
  }
  trim(found, max);
  return found.map((f) => f.id);
}

function trim(found: Array<{ id: string; rank: number }>, max: number): void {
  found.sort((x, y) => x.rank - y.rank || x.id.length - y.id.length || x.id.localeCompare(y.id));
  found.length = Math.min(found.length, max);
}
