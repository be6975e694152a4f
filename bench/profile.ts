import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per module. */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: CallFrame }>;
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileRow {
  readonly name: string;
  readonly selfMs: number;
  /** Share of busy (non-idle) time, %. */
  readonly pct: number;
}

export interface ProfileSummary {
  readonly file: string;
  /** Sampled time inside the window (ms); busy = not idle, i.e. the event loop was running JS or blocked in a call. */
  readonly totalMs: number;
  readonly idleMs: number;
  readonly busyMs: number;
  readonly topFunctions: readonly ProfileRow[];
  readonly byModule: readonly ProfileRow[];
}

function shortUrl(url: string, repo: string): string {
  let path = url;
  if (path.startsWith('file://')) {
    try {
      path = fileURLToPath(path);
    } catch {
      // keep it as it is
    }
  }
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  if (path.startsWith(repo)) return relative(repo, path);
  return path;
}

/** A coarse bucket: the npm package, the repo directory, node's internal module, or a VM pseudo-frame. */
function moduleOf(frame: CallFrame, repo: string): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : `(native) ${functionName || '(anonymous)'}`;
  const s = shortUrl(url, repo);
  if (url.includes('/node_modules/')) {
    const parts = s.split('/');
    return `npm:${parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? s)}`;
  }
  if (s.startsWith('node:')) {
    const parts = s.split('/');
    return parts.length > 2 ? `${parts[0]}/${parts[1]}/${parts[2] ?? ''}`.replace(/\.js$/, '') : s;
  }
  const parts = s.split('/');
  return parts.length > 1 ? parts.slice(0, -1).join('/') : s;
}

/**
 * `window` ([from, to] in µs of CLOCK_MONOTONIC, the clock of the profile's timestamps and of
 * `process.hrtime`) keeps only the samples taken inside it, e.g. the measured load, not start-up.
 */
export function summarizeProfile(file: string, repo: string, window?: readonly [number, number], top = 25): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byNode = new Map<number, number>();
  let t = prof.startTime;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    if (window !== undefined && (t < window[0] || t > window[1])) return;
    byNode.set(id, (byNode.get(id) ?? 0) + dt);
  });
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const node of prof.nodes) {
    const us = byNode.get(node.id) ?? 0;
    if (us === 0) continue;
    total += us;
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    // Line numbers of tsx-transformed .ts files refer to generated code: leave them out.
    const short = shortUrl(cf.url, repo);
    const where = cf.url === '' ? '' : short.endsWith('.ts') ? ` ${short}` : ` ${short}:${cf.lineNumber + 1}`;
    const key = `${cf.functionName || '(anonymous)'}${where}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const m = moduleOf(cf, repo);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>, n: number): ProfileRow[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, selfMs: us / 1000, pct: busy > 0 ? (us / busy) * 100 : 0 }));
  return { file, totalMs: total / 1000, idleMs: idle / 1000, busyMs: busy / 1000, topFunctions: rows(fn, top), byModule: rows(mod, 15) };
}
