import type { Key } from 'ink';

/**
 * The one key table (SPEC §5). The `?` overlay, the footer hints and the README's key table
 * are generated from it; nothing else in the TUI looks at raw keys.
 */
export const Command = {
  Up: 'up',
  Down: 'down',
  PageUp: 'page-up',
  PageDown: 'page-down',
  Collapse: 'collapse',
  Expand: 'expand',
  Details: 'details',
  Approve: 'approve',
  AllowOnce: 'allow-once',
  Deny: 'deny',
  Grant: 'grant',
  Kill: 'kill',
  KillAll: 'kill-all',
  Resume: 'resume',
  Filter: 'filter',
  Sort: 'sort',
  HotOnly: 'hot-only',
  AlertLog: 'alert-log',
  Help: 'help',
  ClearSelection: 'clear-selection',
  Quit: 'quit',
  Confirm: 'confirm',
  Cancel: 'cancel',
  Submit: 'submit',
  Erase: 'erase',
  Close: 'close',
} as const;
export type Command = (typeof Command)[keyof typeof Command];

/**
 * Which bindings apply: `global` always; otherwise the context of whatever has focus, in
 * priority order too-small screen / confirm dialog / text input / details / overlay / main
 * screen (`keyContext` in state.ts decides). A key that is not bound in the focused context does
 * nothing there, so what a box lists (generated from here) is exactly what works in it.
 */
export type Context = 'global' | 'too-small' | 'main' | 'confirm' | 'input' | 'prompt-details' | 'scope-details' | 'overlay' | 'log';

/** Named keys; a binding's other keys are single printable characters. `other`: any other key. */
export type NamedKey = 'up' | 'down' | 'left' | 'right' | 'pageup' | 'pagedown' | 'enter' | 'escape' | 'backspace' | 'ctrl+c' | 'other';

export interface Binding {
  readonly command: Command;
  readonly context: Context;
  readonly keys: readonly string[];
  /** The keys as the help overlay writes them. */
  readonly label: string;
  readonly help: string;
  /** Short footer hint; lower priority numbers are dropped last when the footer is narrow. */
  readonly footer?: { readonly text: string; readonly priority: number };
  /** Changes budgets or agents: disabled by `top --readonly`. */
  readonly mutates?: true;
  /** The help overlay shows it on the row above (`↑ k ↓ j  previous / next row`), so the overlay fits 80×24. */
  readonly helpJoin?: true;
}

export const KEY_TABLE: readonly Binding[] = [
  { command: Command.Quit, context: 'global', keys: ['ctrl+c'], label: 'Ctrl-C', help: 'quit from anywhere' },

  // Nothing is drawn, so nothing may act: an action key here would fire unseen.
  { command: Command.Quit, context: 'too-small', keys: ['q'], label: 'q', help: 'quit (every other key does nothing until the terminal is enlarged)', footer: { text: 'q quit', priority: 0 } },

  { command: Command.Up, context: 'main', keys: ['up', 'k'], label: '↑ k', help: 'previous row', footer: { text: '↑↓ select', priority: 4 } },
  { command: Command.Down, context: 'main', keys: ['down', 'j'], label: '↓ j', help: 'next row', helpJoin: true },
  { command: Command.PageUp, context: 'main', keys: ['pageup'], label: 'PgUp', help: 'page up' },
  { command: Command.PageDown, context: 'main', keys: ['pagedown'], label: 'PgDn', help: 'page down', helpJoin: true },
  { command: Command.Collapse, context: 'main', keys: ['left'], label: '←', help: 'collapse / go to parent', footer: { text: '←→ fold', priority: 8 } },
  { command: Command.Expand, context: 'main', keys: ['right'], label: '→', help: 'expand / go to child' },
  { command: Command.Details, context: 'main', keys: ['enter'], label: '⏎', help: 'details of the row', footer: { text: '⏎ details', priority: 6 } },
  { command: Command.Approve, context: 'main', keys: ['a'], label: 'a', help: 'approve (+increment)', footer: { text: 'a approve', priority: 1 }, mutates: true },
  { command: Command.AllowOnce, context: 'main', keys: ['o'], label: 'o', help: 'allow the request once', footer: { text: 'o once', priority: 3 }, mutates: true },
  { command: Command.Deny, context: 'main', keys: ['d'], label: 'd', help: 'deny the prompt', footer: { text: 'd deny', priority: 2 }, mutates: true },
  { command: Command.Grant, context: 'main', keys: ['g'], label: 'g', help: 'grant a typed amount (large ones ask y)', footer: { text: 'g grant', priority: 4 }, mutates: true },
  { command: Command.Kill, context: 'main', keys: ['x'], label: 'x', help: 'kill scope (y confirms)', footer: { text: 'x kill', priority: 2 }, mutates: true },
  // Kill-all and resume are what an operator reaches for in a hurry: kept on the narrowest footer.
  { command: Command.KillAll, context: 'main', keys: ['X'], label: 'X', help: 'kill all (y confirms)', footer: { text: 'X kill all', priority: 1 }, mutates: true },
  { command: Command.Resume, context: 'main', keys: ['r'], label: 'r', help: 'resume the scope', footer: { text: 'r resume', priority: 1 }, mutates: true },
  { command: Command.Filter, context: 'main', keys: ['/'], label: '/', help: 'filter scopes by name', footer: { text: '/ filter', priority: 7 } },
  { command: Command.Sort, context: 'main', keys: ['s'], label: 's', help: 'sort siblings: name → spend → burn → pressure', footer: { text: 's sort', priority: 9 } },
  { command: Command.HotOnly, context: 'main', keys: ['h'], label: 'h', help: 'hot only: scopes under pressure, killed or tripped (h again: all)', footer: { text: 'h hot', priority: 9 } },
  { command: Command.AlertLog, context: 'main', keys: ['l'], label: 'l', help: 'the whole alert log, in full (scrolls)', footer: { text: 'l log', priority: 7 } },
  { command: Command.ClearSelection, context: 'main', keys: ['escape'], label: 'Esc', help: 'clear filter/selection' },
  { command: Command.Help, context: 'main', keys: ['?'], label: '?', help: 'this help', footer: { text: '? help', priority: 0 } },
  { command: Command.Quit, context: 'main', keys: ['q'], label: 'q', help: 'quit', footer: { text: 'q quit', priority: 0 } },

  { command: Command.Confirm, context: 'confirm', keys: ['y'], label: 'y', help: 'yes: kill, or send the large grant', footer: { text: 'y confirm', priority: 0 } },
  { command: Command.Cancel, context: 'confirm', keys: ['other'], label: 'other keys', help: 'cancel (the default)', footer: { text: 'any other key cancels', priority: 0 } },

  { command: Command.Submit, context: 'input', keys: ['enter'], label: '⏎', help: 'apply', footer: { text: '⏎ apply', priority: 0 } },
  { command: Command.Erase, context: 'input', keys: ['backspace'], label: '⌫', help: 'erase a character' },
  { command: Command.Cancel, context: 'input', keys: ['escape'], label: 'Esc', help: 'cancel', footer: { text: 'esc cancel', priority: 0 } },

  // The details of a prompt act on that prompt (and its agent), never on another row.
  { command: Command.Approve, context: 'prompt-details', keys: ['a'], label: 'a', help: 'approve this prompt (+increment)', footer: { text: 'a approve', priority: 1 }, mutates: true },
  { command: Command.AllowOnce, context: 'prompt-details', keys: ['o'], label: 'o', help: 'allow this request once', footer: { text: 'o once', priority: 2 }, mutates: true },
  { command: Command.Deny, context: 'prompt-details', keys: ['d'], label: 'd', help: 'deny this prompt', footer: { text: 'd deny', priority: 2 }, mutates: true },
  { command: Command.Grant, context: 'prompt-details', keys: ['g'], label: 'g', help: 'grant an amount for this prompt', footer: { text: 'g grant', priority: 3 }, mutates: true },
  { command: Command.Kill, context: 'prompt-details', keys: ['x'], label: 'x', help: 'kill the agent that asked (y confirms)', footer: { text: 'x kill', priority: 2 }, mutates: true },
  { command: Command.Close, context: 'prompt-details', keys: ['escape', 'enter', 'q'], label: 'Esc q ⏎', help: 'close the details', footer: { text: 'esc close', priority: 0 } },

  { command: Command.Grant, context: 'scope-details', keys: ['g'], label: 'g', help: 'grant an amount to this scope', footer: { text: 'g grant', priority: 3 }, mutates: true },
  { command: Command.Kill, context: 'scope-details', keys: ['x'], label: 'x', help: 'kill this scope (y confirms)', footer: { text: 'x kill', priority: 2 }, mutates: true },
  { command: Command.Resume, context: 'scope-details', keys: ['r'], label: 'r', help: 'resume this scope', footer: { text: 'r resume', priority: 1 }, mutates: true },
  { command: Command.Close, context: 'scope-details', keys: ['escape', 'enter', 'q'], label: 'Esc q ⏎', help: 'close the details', footer: { text: 'esc close', priority: 0 } },

  { command: Command.Up, context: 'log', keys: ['up', 'k'], label: '↑ k', help: 'newer alerts', footer: { text: '↑↓ PgUp PgDn scroll', priority: 1 } },
  { command: Command.Down, context: 'log', keys: ['down', 'j'], label: '↓ j', help: 'older alerts' },
  { command: Command.PageUp, context: 'log', keys: ['pageup'], label: 'PgUp', help: 'a page newer' },
  { command: Command.PageDown, context: 'log', keys: ['pagedown'], label: 'PgDn', help: 'a page older' },
  { command: Command.Close, context: 'log', keys: ['escape', 'enter', 'q', 'l'], label: 'Esc q l ⏎', help: 'close the log', footer: { text: 'esc close', priority: 0 } },

  { command: Command.Close, context: 'overlay', keys: ['escape', 'enter', 'q', '?'], label: 'Esc q ? ⏎', help: 'close this view', footer: { text: 'esc close', priority: 0 } },
];

/** A key press as the reducer sees it: the table's key name (if any) and the typed text. */
export interface KeyPress {
  readonly name: string | null;
  readonly text: string;
  /**
   * Arrived with other characters in one read: a paste, or a held key outrunning the screen.
   * Such a press never confirms a kill.
   */
  readonly burst?: true;
}

/**
 * Ink's `(input, key)` → the table's names: `up`, `enter`, `ctrl+c`, or the characters typed,
 * one press each (Ink hands over a run of characters read together as one string).
 */
export function keyPresses(input: string, key: Key): KeyPress[] {
  const named: NamedKey | null = key.ctrl && input === 'c' ? 'ctrl+c'
    : key.upArrow ? 'up'
    : key.downArrow ? 'down'
    : key.leftArrow ? 'left'
    : key.rightArrow ? 'right'
    : key.pageUp ? 'pageup'
    : key.pageDown ? 'pagedown'
    : key.return ? 'enter'
    : key.escape ? 'escape'
    : key.backspace || key.delete ? 'backspace'
    : null;
  if (named) return [{ name: named, text: '' }];
  if (key.ctrl || key.meta) return [];
  const chars = [...input];
  if (chars.length === 1) return [{ name: input, text: input }];
  return chars.map((c) => ({ name: c, text: c, burst: true }));
}

export type Resolved = { readonly kind: 'command'; readonly command: Command } | { readonly kind: 'text'; readonly text: string } | null;

const PRINTABLE = /^[^\p{Cc}\p{Cf}]+$/u;

/** What a key press means in `context`: a command, typed text (input context only), or nothing. */
export function resolveKey(context: Exclude<Context, 'global'>, press: KeyPress): Resolved {
  for (const ctx of ['global', context] as const) {
    const binding = KEY_TABLE.find((b) => b.context === ctx && press.name !== null && b.keys.includes(press.name));
    if (binding) return { kind: 'command', command: binding.command };
  }
  if (context === 'input' && press.text.length > 0 && PRINTABLE.test(press.text)) return { kind: 'text', text: press.text };
  const other = KEY_TABLE.find((b) => b.context === context && b.keys.includes('other'));
  return other && (press.name !== null || press.text.length > 0) ? { kind: 'command', command: other.command } : null;
}

const CONTEXT_TITLES = {
  global: 'Anywhere',
  'too-small': 'Terminal too small',
  main: 'Dashboard',
  confirm: 'Kill or large grant confirmation',
  input: 'Typing an amount or a filter',
  'prompt-details': 'Details of a prompt',
  'scope-details': 'Details of a scope',
  overlay: 'Help',
  log: 'Alert log',
} as const satisfies Record<Context, string>;

export interface HelpSection {
  readonly title: string;
  readonly rows: readonly { readonly keys: string; readonly help: string }[];
}

/**
 * The `?` overlay's text, from the table; `--readonly` leaves out what it disables. The details, log
 * views and the too-small screen list their own keys (from the same table) where they are shown,
 * so the overlay still fits 80×24.
 */
export function helpSections(readonly: boolean): HelpSection[] {
  const order: Context[] = ['main', 'confirm', 'input', 'overlay', 'global'];
  return order
    .filter((context) => !(readonly && context === 'confirm'))
    .map((context) => {
      const rows: { keys: string; help: string }[] = [];
      for (const b of KEY_TABLE.filter((b) => b.context === context && !(readonly && b.mutates))) {
        const above = rows.at(-1);
        if (b.helpJoin && above) rows[rows.length - 1] = { keys: `${above.keys} ${b.label}`, help: `${above.help} / ${b.help}` };
        else rows.push({ keys: b.label, help: b.help });
      }
      return { title: CONTEXT_TITLES[context], rows };
    });
}

/** The keys `--readonly` turns off, as the help overlay names them: `a o d g x X r`. */
export function disabledByReadonly(): string {
  return KEY_TABLE.filter((b) => b.mutates).map((b) => b.label).join(' ');
}

/**
 * The hint text for a command where the screen knows more than the table: `x kill agent:bob — 1
 * agent`. The key itself still comes from the table.
 */
export type HintText = Partial<Record<Command, string>>;

/** Bindings of `context` that the footer or a box may list: exactly those the dispatcher resolves there. */
export function contextBindings(context: Exclude<Context, 'global'>, readonly: boolean): readonly Binding[] {
  return KEY_TABLE.filter((b) => b.context === context && !(readonly && b.mutates));
}

/**
 * Footer hints for `context` that fit in `width`: the least important go first; the order on
 * screen stays the table's. `texts` replaces a hint's words (naming its target).
 */
export function footerHints(context: Exclude<Context, 'global'>, width: number, readonly: boolean, texts: HintText = {}): string {
  const SEP = '  ';
  let hints = contextBindings(context, readonly).filter((b) => b.footer);
  const text = (list: readonly Binding[]): string => list.map((b) => texts[b.command] ?? b.footer?.text).join(SEP);
  while (hints.length > 0 && text(hints).length > width) {
    const worst = hints.reduce((a, b) => ((b.footer?.priority ?? 0) >= (a.footer?.priority ?? 0) ? b : a));
    hints = hints.filter((b) => b !== worst);
  }
  return text(hints);
}

/** The key table as Markdown, for the README. */
export function keyTableMarkdown(): string {
  const lines = ['| keys | where | action |', '|---|---|---|'];
  for (const b of KEY_TABLE) lines.push(`| ${b.label} | ${CONTEXT_TITLES[b.context].toLowerCase()} | ${b.help}${b.mutates ? ' (not with `--readonly`)' : ''} |`);
  return `${lines.join('\n')}\n`;
}
