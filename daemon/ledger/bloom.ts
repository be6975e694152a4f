/**
 * A Bloom filter over idempotency keys: "definitely new" answers skip the ledger lookup on the
 * commit path; "maybe seen" falls back to SQLite, so a false positive costs one query, never a
 * wrong answer. 2^26 bits (8 MiB) and 4 probes: about 1e-5 false positives at a million keys,
 * degrading gently (more queries, still exact) far beyond.
 */
import { endianness } from 'node:os';

const BITS_LOG2 = 26;
const MASK = (1 << BITS_LOG2) - 1;
const PROBES = 4;

function hashes(key: string): [number, number] {
  // FNV-1a and a multiplicative variant over UTF-16 code units; double hashing derives the rest.
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return [h1 >>> 0, (h2 >>> 0) | 1];
}

/** What a saved filter must match to be read back: its size, probes, hash and byte order. */
export const KEY_FILTER_FORMAT = `bloom-fnv1a-v1:${BITS_LOG2}:${PROBES}:${endianness()}`;

export class KeyFilter {
  private readonly bits: Uint32Array;

  /** `saved`: the bytes of `bytes()` of a filter in this format. */
  constructor(saved?: Uint8Array) {
    this.bits = new Uint32Array((1 << BITS_LOG2) / 32);
    if (saved === undefined) return;
    if (saved.byteLength !== this.bits.byteLength) throw new Error(`a saved key filter has ${saved.byteLength} bytes, not ${this.bits.byteLength}`);
    new Uint8Array(this.bits.buffer).set(saved);
  }

  /** The filter's bits, to save (a copy). */
  bytes(): Buffer {
    return Buffer.from(new Uint8Array(this.bits.buffer).slice());
  }

  add(key: string): void {
    const [a, b] = hashes(key);
    for (let i = 0; i < PROBES; i++) {
      const bit = (a + Math.imul(i, b)) & MASK;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mightHave(key: string): boolean {
    const [a, b] = hashes(key);
    for (let i = 0; i < PROBES; i++) {
      const bit = (a + Math.imul(i, b)) & MASK;
      if (((this.bits[bit >>> 5] ?? 0) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}
