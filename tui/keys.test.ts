import { describe, expect, it } from 'vitest';
import { Command, type Context, footerHints, helpSections, KEY_TABLE, keyPresses, keyTableMarkdown, resolveKey } from './keys.js';

const KEY = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false };

describe('the key table', () => {
  it('binds each key once per context and every command somewhere', () => {
    const contexts: Context[] = ['global', 'main', 'confirm', 'input', 'overlay'];
    for (const context of contexts) {
      const keys = KEY_TABLE.filter((b) => b.context === context).flatMap((b) => b.keys);
      expect(new Set(keys).size, context).toBe(keys.length);
    }
    for (const command of Object.values(Command)) expect(KEY_TABLE.some((b) => b.command === command), command).toBe(true);
  });

  it('has the keys SPEC §5 names', () => {
    const main = (key: string) => resolveKey('main', { name: key, text: key.length === 1 ? key : '' });
    expect(main('up')).toEqual({ kind: 'command', command: Command.Up });
    expect(main('k')).toEqual({ kind: 'command', command: Command.Up });
    expect(main('j')).toEqual({ kind: 'command', command: Command.Down });
    expect(main('left')).toEqual({ kind: 'command', command: Command.Collapse });
    expect(main('right')).toEqual({ kind: 'command', command: Command.Expand });
    expect(main('enter')).toEqual({ kind: 'command', command: Command.Details });
    const letters = { a: Command.Approve, o: Command.AllowOnce, d: Command.Deny, g: Command.Grant, x: Command.Kill, X: Command.KillAll, r: Command.Resume, '/': Command.Filter, '?': Command.Help, q: Command.Quit };
    for (const [key, command] of Object.entries(letters)) expect(main(key)).toEqual({ kind: 'command', command });
  });

  it('gives an open dialog the keys first: in a confirmation only y kills, any other key cancels', () => {
    expect(resolveKey('confirm', { name: 'y', text: 'y' })).toEqual({ kind: 'command', command: Command.Confirm });
    expect(resolveKey('confirm', { name: 'x', text: 'x' })).toEqual({ kind: 'command', command: Command.Cancel });
    expect(resolveKey('confirm', { name: 'enter', text: '' })).toEqual({ kind: 'command', command: Command.Cancel });
    expect(resolveKey('confirm', { name: 'Y', text: 'Y' })).toEqual({ kind: 'command', command: Command.Cancel });
    expect(resolveKey('input', { name: 'q', text: 'q' })).toEqual({ kind: 'text', text: 'q' });
    expect(resolveKey('input', { name: null, text: '1.50' })).toEqual({ kind: 'text', text: '1.50' });
    expect(resolveKey('overlay', { name: 'x', text: 'x' })).toBeNull();
    for (const context of ['main', 'confirm', 'input', 'overlay'] as const) expect(resolveKey(context, { name: 'ctrl+c', text: '' })).toEqual({ kind: 'command', command: Command.Quit });
  });

  it("names Ink's keys the way the table does", () => {
    expect(keyPresses('', { ...KEY, upArrow: true })).toEqual([{ name: 'up', text: '' }]);
    expect(keyPresses('c', { ...KEY, ctrl: true })).toEqual([{ name: 'ctrl+c', text: '' }]);
    expect(keyPresses('', { ...KEY, return: true })).toEqual([{ name: 'enter', text: '' }]);
    expect(keyPresses('X', { ...KEY, shift: true })).toEqual([{ name: 'X', text: 'X' }]);
    expect(keyPresses('z', { ...KEY, ctrl: true })).toEqual([]);
    // A held key or a paste arrives as one string: one press per character, marked as a burst.
    expect(keyPresses('jj', KEY)).toEqual([
      { name: 'j', text: 'j', burst: true },
      { name: 'j', text: 'j', burst: true },
    ]);
  });

  it('generates the help and footer from the table; --readonly leaves out what it disables', () => {
    // Joined rows (`↑ k ↓ j`) carry each binding's label as a word run of their own.
    const help = helpSections(false).flatMap((s) => s.rows.map((r) => ` ${r.keys} `));
    // The details views, the log and the too-small screen list their own keys where they are shown.
    for (const b of KEY_TABLE.filter((x) => ['main', 'confirm', 'input', 'overlay', 'global'].includes(x.context))) expect(help.some((keys) => keys.includes(` ${b.label} `))).toBe(true);
    const readonlyHelp = helpSections(true).flatMap((s) => s.rows.map((r) => r.keys));
    expect(readonlyHelp).not.toContain('x');
    expect(readonlyHelp).toContain('q');
    const wide = footerHints('main', 200, false);
    expect(wide).toContain('a approve');
    expect(wide).toContain('X kill all');
    const narrow = footerHints('main', 50, false);
    expect(narrow.length).toBeLessThanOrEqual(50);
    expect(narrow).toContain('? help');
    expect(narrow).toContain('a approve');
    expect(footerHints('main', 200, true)).not.toMatch(/approve|kill|grant|resume|deny/);
    expect(keyTableMarkdown()).toContain('| X | dashboard | kill all (y confirms) (not with `--readonly`) |');
  });
});

describe('issue 13: what a box lists is what works in it', () => {
  const contexts = ['too-small', 'main', 'confirm', 'input', 'prompt-details', 'scope-details', 'overlay'] as const;

  it('every key a context lists resolves to that binding’s command in that context', () => {
    for (const context of contexts) {
      for (const b of KEY_TABLE.filter((x) => x.context === context)) {
        for (const key of b.keys.filter((k) => k !== 'other')) expect(resolveKey(context, { name: key, text: key.length === 1 ? key : '' }), `${context} ${key}`).toEqual({ kind: 'command', command: b.command });
      }
    }
  });

  it('the too-small screen binds only q (and Ctrl-C from anywhere): action keys resolve to nothing', () => {
    for (const key of ['a', 'X', 'x', 'y', 'g', 'r', 'd', 'o', 'enter', 'escape', 'j', '?', '/']) expect(resolveKey('too-small', { name: key, text: key.length === 1 ? key : '' }), key).toBeNull();
    expect(resolveKey('too-small', { name: 'q', text: 'q' })).toEqual({ kind: 'command', command: Command.Quit });
    expect(resolveKey('too-small', { name: 'ctrl+c', text: '' })).toEqual({ kind: 'command', command: Command.Quit });
  });

  it('the 80-column footer keeps kill-all and resume, and names the target it was given', () => {
    const footer = footerHints('main', 80, false, { [Command.Kill]: 'x kill agent:bob' });
    expect(footer.length).toBeLessThanOrEqual(80);
    expect(footer).toContain('X kill all');
    expect(footer).toContain('r resume');
    expect(footer).toContain('x kill agent:bob');
  });
});
