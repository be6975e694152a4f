import { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_NAMES, commandWord } from './main.js';

const argv = (...args: string[]): string[] => ['node', 'spendguard', ...args];

function program(): Command {
  return new Command('spendguard').version('0').addOption(new Option('--url <url>')).addOption(new Option('--state-dir <dir>'));
}

describe('commandWord: which command file a command line loads', () => {
  it('is the first operand, after the program options and their values', () => {
    expect(commandWord(program(), argv('status', '--line'))).toBe('status');
    expect(commandWord(program(), argv('--url', 'ws://h:1', '--state-dir', 'status', 'kill', 'task:t'))).toBe('kill');
    expect(commandWord(program(), argv('--url=ws://h:1', 'grant', 'p1'))).toBe('grant');
    expect(commandWord(program(), argv('--state-dir', '/tmp/x', 'hook', 'claude-code', '--fail', 'open'))).toBe('hook');
  });

  it('is nothing for help, the version or an empty line: every command is loaded then', () => {
    expect(commandWord(program(), argv())).toBeUndefined();
    expect(commandWord(program(), argv('--help'))).toBeUndefined();
    expect(commandWord(program(), argv('-V'))).toBeUndefined();
    expect(commandWord(program(), argv('--url', 'ws://h:1'))).toBeUndefined();
  });
});

describe('buildProgram', () => {
  const names = (p: Command): string[] => p.commands.map((c) => c.name());

  it.each(COMMAND_NAMES)('%s: the line naming it registers it alone (its file registers the name the table gives it)', async (name) => {
    expect(names(await buildProgram(argv('--state-dir', 'x', name, '--help')))).toEqual([name]);
  });

  it('registers every command, in help order, when the line names none of them', async () => {
    expect(COMMAND_NAMES).toEqual(expect.arrayContaining(['daemon', 'status', 'hook']));
    expect(names(await buildProgram(argv('--help')))).toEqual(COMMAND_NAMES);
    expect(names(await buildProgram(argv('stauts')))).toEqual(COMMAND_NAMES); // so commander can suggest `status`
    expect(names(await buildProgram(argv('help', 'status')))).toEqual(COMMAND_NAMES);
  });
});
