import { AgentFrame, PROTOCOL_VERSION, type ErrorFrame } from '../../shared/protocol/agent.js';
import { OperatorFrame } from '../../shared/protocol/operator.js';
import { describeIssue } from '../../shared/protocol/parse.js';

export const FRAME_LIMIT_BYTES = 64 * 1024;

export type Decoded<T> = { ok: true; frame: T } | { ok: false; error: ErrorFrame };

const AGENT_TYPES = AgentFrame.options.map((o) => o.shape.type.value);
const OPERATOR_TYPES = OperatorFrame.options.map((o) => (o as unknown as { shape?: { type: { value: string } } }).shape?.type.value ?? '');

function fail(code: ErrorFrame['code'], message: string, id?: string): { ok: false; error: ErrorFrame } {
  return { ok: false, error: { type: 'error', ...(id === undefined ? {} : { id }), code, message } };
}

function parseObject(data: Buffer, isBinary: boolean): { ok: true; obj: Record<string, unknown>; id: string | undefined } | { ok: false; error: ErrorFrame } {
  if (isBinary) return fail('INVALID', 'binary frames are not accepted: send one JSON object per text frame');
  if (data.length > FRAME_LIMIT_BYTES) return fail('TOO_LARGE', `frame of ${data.length} bytes exceeds the ${FRAME_LIMIT_BYTES}-byte limit`);
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch (e) {
    return fail('INVALID', `frame is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('INVALID', 'frame must be a JSON object');
  const obj = value as Record<string, unknown>;
  const id = typeof obj.id === 'string' && obj.id.length > 0 && obj.id.length <= 128 ? obj.id : undefined;
  return { ok: true, obj, id };
}

function checkType(obj: Record<string, unknown>, known: readonly string[], id: string | undefined): ErrorFrame | undefined {
  if (typeof obj.type !== 'string') return fail('INVALID', 'type: required, a string naming the frame type', id).error;
  if (!known.includes(obj.type)) return fail('INVALID', `type: unknown frame type ${JSON.stringify(obj.type.slice(0, 40))}; expected one of ${known.join(', ')}`, id).error;
  return undefined;
}

export function decodeAgentFrame(data: Buffer, isBinary: boolean): Decoded<AgentFrame> {
  const p = parseObject(data, isBinary);
  if (!p.ok) return p;
  if (typeof p.obj.type === 'string' && OPERATOR_TYPES.includes(p.obj.type)) {
    return fail('UNAUTHORIZED', `${p.obj.type}: operator frames need the operator token on /v1/operator; an agent token may only act for its own chain`, p.id);
  }
  const typeError = checkType(p.obj, AGENT_TYPES, p.id);
  if (typeError) return { ok: false, error: typeError };
  if (p.obj.type === 'hello' && p.obj.v !== PROTOCOL_VERSION && typeof p.obj.v === 'number') {
    return fail('UNSUPPORTED_VERSION', `v: protocol version ${p.obj.v} is not supported; this daemon speaks ${PROTOCOL_VERSION}`);
  }
  const r = AgentFrame.safeParse(p.obj);
  if (!r.success) return fail('INVALID', `${String(p.obj.type)}: ${describeIssue(r.error)}`, p.id);
  return { ok: true, frame: r.data };
}

export function decodeOperatorFrame(data: Buffer, isBinary: boolean): Decoded<OperatorFrame> {
  const p = parseObject(data, isBinary);
  if (!p.ok) return p;
  const typeError = checkType(p.obj, OPERATOR_TYPES, p.id);
  if (typeError) return { ok: false, error: typeError };
  const r = OperatorFrame.safeParse(p.obj);
  if (!r.success) return fail('INVALID', `${String(p.obj.type)}: ${describeIssue(r.error)}`, p.id);
  return { ok: true, frame: r.data };
}
