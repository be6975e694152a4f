import type { Duplex } from 'node:stream';

/**
 * Replies written as whole WebSocket frames, one buffer and one write each; one frame to many
 * sockets (a kill reaching every agent under a scope) is built once. `ws.send` would re-frame
 * each copy and write header and payload apart. Safe because this server never compresses
 * (perMessageDeflate: false) and never sends Blobs, so `ws` writes each frame whole and at once,
 * never queued: a raw write can never land inside another frame.
 */

const framed = new WeakMap<Buffer, Buffer>();

/** A buffer for a frame of `n` payload bytes with its header written; the payload goes at the returned offset. */
function frameFor(n: number): { frame: Buffer; at: number } {
  const at = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(at + n);
  frame[0] = 0x81; // FIN, text
  if (n < 126) frame[1] = n;
  else if (n < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  return { frame, at };
}

/** An unmasked, final text frame (RFC 6455 §5.2) around `payload`, built once per payload. */
export function textFrame(payload: Buffer): Buffer {
  let frame = framed.get(payload);
  if (frame) return frame;
  const built = frameFor(payload.length);
  payload.copy(built.frame, built.at);
  framed.set(payload, built.frame);
  return built.frame;
}

/** The same for one reply: header and text encoded into one buffer, one write, no copy of the text. */
export function textFrameOf(text: string): Buffer {
  const built = frameFor(Buffer.byteLength(text));
  built.frame.write(text, built.at);
  return built.frame;
}

/** One socket write per frame: `ws.send` would write header and payload apart (a writev). */
export function writeFrame(socket: Duplex, data: string | Buffer): void {
  socket.write(typeof data === 'string' ? textFrameOf(data) : textFrame(data));
}
