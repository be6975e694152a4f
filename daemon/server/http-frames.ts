import type { AgentFrame } from '../../shared/protocol/agent.js';
import { decodeAgentFrame, type Decoded } from './frames.js';
import type { OutFrame } from './http-session.js';

/** The protocol's error codes, plus `UNAVAILABLE` for HTTP-only conditions (503). */
export type HttpErrorCode = 'INVALID' | 'TOO_LARGE' | 'UNKNOWN_RESERVATION' | 'UNSUPPORTED_VERSION' | 'UNAUTHORIZED' | 'UNAVAILABLE';

export function errorFrame(code: HttpErrorCode, message: string, id?: string): OutFrame {
  return { type: 'error', ...(id === undefined ? {} : { id }), code, message };
}

export function statusOf(frame: OutFrame): number {
  if (frame.type === 'pending') return 202;
  if (frame.type !== 'error') return 200;
  if (frame.code === 'TOO_LARGE') return 413;
  if (frame.code === 'UNAUTHORIZED') return 401;
  return 400;
}

/**
 * Adds `"type":…` to the text of a JSON object. Splicing the text, not re-serializing the
 * parsed value, keeps a deeply nested body from overflowing JSON.stringify's recursion.
 */
function withType(body: Buffer, type: string): Buffer {
  const text = body.toString('utf8');
  const rest = text.slice(text.indexOf('{') + 1);
  return Buffer.from(`{"type":${JSON.stringify(type)}${/^\s*\}/.test(rest) ? '' : ','}${rest}`);
}

/** Like the WebSocket path, plus the path naming the type: a body without `type` gets it. */
export function decodeForPath(body: Buffer, type: string): Decoded<AgentFrame> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return decodeAgentFrame(body, false);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return decodeAgentFrame(body, false);
  if (!('type' in value)) return decodeAgentFrame(withType(body, type), false);
  if (value.type !== type) {
    const id = 'id' in value && typeof value.id === 'string' && value.id.length <= 128 ? value.id : undefined;
    const said = typeof value.type === 'string' ? JSON.stringify(value.type.slice(0, 40)) : 'a non-string type';
    return { ok: false, error: { type: 'error', ...(id === undefined ? {} : { id }), code: 'INVALID', message: `type: the body says ${said} but the path says ${JSON.stringify(type)}` } };
  }
  return decodeAgentFrame(body, false);
}
