/**
 * What the demo tells its user: one line per notable moment (a denial, a prompt, a fan-out),
 * printed at once in headless mode and kept in a bounded ring under the TUI, where printing
 * would garble the screen.
 */

export interface LogEntry {
  readonly at_ms: number;
  /** Scenario or part of the demo the line is about: `retry-loop`, `status`, `demo`. */
  readonly source: string;
  readonly text: string;
  readonly error: boolean;
}

const MAX_ENTRIES = 500;
const SOURCE_WIDTH = 14;
/** Kills reach every agent within milliseconds; their lines are collected this long into one. */
const GROUP_MS = 250;
const MAX_GROUP_NAMES = 6;

interface Group {
  readonly source: string;
  readonly names: string[];
  readonly render: (names: readonly string[]) => string;
  readonly timer: NodeJS.Timeout;
}

export class DemoLog {
  private readonly entries: LogEntry[] = [];
  private readonly groups = new Map<string, Group>();
  private sink: ((line: string) => void) | undefined;

  constructor(
    private readonly startedMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Where lines go as they happen; undefined keeps them only in the ring. */
  printTo(sink: ((line: string) => void) | undefined): void {
    this.sink = sink;
  }

  line(source: string, text: string): void {
    this.push({ at_ms: this.now() - this.startedMs, source, text, error: false });
  }

  error(source: string, text: string): void {
    this.push({ at_ms: this.now() - this.startedMs, source, text, error: true });
  }

  /**
   * Collects lines with the same `key` for a moment and prints one: "kill on global: 14 agents
   * stop (summarizer, test-fixer, …)" instead of fourteen.
   */
  group(key: string, source: string, name: string, render: (names: readonly string[]) => string): void {
    const open = this.groups.get(key);
    if (open) {
      open.names.push(name);
      return;
    }
    const timer = setTimeout(() => this.flushGroup(key), GROUP_MS);
    timer.unref();
    this.groups.set(key, { source, names: [name], render, timer });
  }

  /** Prints collected groups now (before the demo ends). */
  flush(): void {
    for (const key of [...this.groups.keys()]) this.flushGroup(key);
  }

  errors(): LogEntry[] {
    return this.entries.filter((e) => e.error);
  }

  private flushGroup(key: string): void {
    const group = this.groups.get(key);
    if (!group) return;
    this.groups.delete(key);
    clearTimeout(group.timer);
    this.line(group.source, group.render(group.names));
  }

  private push(entry: LogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > MAX_ENTRIES) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
    this.sink?.(formatEntry(entry));
  }
}

export function formatEntry(entry: LogEntry): string {
  const seconds = (entry.at_ms / 1000).toFixed(1).padStart(6);
  return `[${seconds}s] ${entry.source.padEnd(SOURCE_WIDTH)} ${entry.error ? 'error: ' : ''}${entry.text}`;
}

/** `a, b, c and 4 more`. */
export function nameList(names: readonly string[]): string {
  const unique = [...new Set(names)];
  if (unique.length <= MAX_GROUP_NAMES) return unique.join(', ');
  return `${unique.slice(0, MAX_GROUP_NAMES).join(', ')} and ${unique.length - MAX_GROUP_NAMES} more`;
}
