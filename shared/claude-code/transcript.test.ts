import { describe, expect, it } from 'vitest';
import { parseTranscriptLine, usageKey } from './transcript.js';

function assistant(overrides: Record<string, unknown> = {}, message: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: 'assistant',
    sessionId: 's-1',
    requestId: 'req_1',
    timestamp: '2025-06-02T09:14:06.402Z',
    message: {
      id: 'msg_1',
      model: 'claude-sonnet-4-5',
      stop_reason: null,
      usage: { input_tokens: 4, cache_creation_input_tokens: 2135, cache_read_input_tokens: 13972, output_tokens: 187 },
      ...message,
    },
    ...overrides,
  });
}

describe('parseTranscriptLine', () => {
  it('maps Anthropic usage onto the protocol fields, keyed by message and request id', () => {
    const r = parseTranscriptLine(assistant());
    expect(r).toEqual({
      kind: 'usage',
      line: {
        key: 'cc:msg_1:req_1',
        sessionId: 's-1',
        stream: 's-1:main',
        model: 'claude-sonnet-4-5',
        usage: { input_tokens: 4, output_tokens: 187, cache_read_tokens: 13972, cache_write_tokens: 2135, cache_write_1h_tokens: 0 },
        final: false,
        timestamp_ms: Date.parse('2025-06-02T09:14:06.402Z'),
      },
    });
  });

  it('marks a line with a stop reason as final and keeps sub-agent lines in their own stream', () => {
    const r = parseTranscriptLine(assistant({ isSidechain: true, agentId: 'a1' }, { stop_reason: 'tool_use' }));
    expect(r).toMatchObject({ kind: 'usage', line: { final: true, stream: 's-1:side:a1' } });
  });

  it('ignores lines without usage, synthetic messages and zero usage', () => {
    expect(parseTranscriptLine(JSON.stringify({ type: 'user', message: { role: 'user', content: 'hi' } }))).toEqual({ kind: 'ignored' });
    expect(parseTranscriptLine(JSON.stringify({ type: 'summary', summary: 'assistant usage' }))).toEqual({ kind: 'ignored' });
    expect(parseTranscriptLine(assistant({}, { model: '<synthetic>' }))).toEqual({ kind: 'ignored' });
    const zero = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    expect(parseTranscriptLine(assistant({}, { usage: zero }))).toEqual({ kind: 'ignored' });
  });

  it('reports cut-off and misshapen assistant lines as malformed', () => {
    expect(parseTranscriptLine('{"type":"assistant","message":{"id":"m","usage":{"input_tokens":9,"out')).toEqual({ kind: 'malformed', reason: 'not JSON' });
    const bad = parseTranscriptLine(assistant({}, { usage: { input_tokens: -3 } }));
    expect(bad.kind).toBe('malformed');
    expect(parseTranscriptLine(assistant({}, { id: undefined })).kind).toBe('malformed');
  });

  it('treats missing counts as zero and a missing request id as part of the key', () => {
    const r = parseTranscriptLine(assistant({ requestId: undefined }, { usage: { input_tokens: 7, output_tokens: 1 } }));
    expect(r).toMatchObject({ kind: 'usage', line: { key: 'cc:msg_1', usage: { input_tokens: 7, output_tokens: 1, cache_read_tokens: 0, cache_write_tokens: 0 } } });
  });
});

describe('usageKey', () => {
  it('stays within the protocol bound of 128 characters', () => {
    expect(usageKey('msg_1', 'req_1')).toBe('cc:msg_1:req_1');
    const long = usageKey('m'.repeat(100), 'r'.repeat(100));
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long).toBe(usageKey('m'.repeat(100), 'r'.repeat(100)));
  });
});
