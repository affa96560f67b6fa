/**
 * Just enough msgpack to frame a byte stream safely: an incremental scanner that finds where
 * one object ends without decoding it (so limits apply before anything is allocated), plus
 * small readers for the forward envelope. Values themselves are decoded by @msgpack/msgpack.
 */

export class MsgpackError extends Error {
  /** short machine reason for metrics: malformed | oversized | too-deep */
  constructor(message: string, readonly reason: 'malformed' | 'oversized' | 'too-deep' = 'malformed') {
    super(message);
    this.name = 'MsgpackError';
  }
}

/** Fixed header size of the format byte `b` (bytes before any payload); 0 for single-byte values. */
function u8(buf: Uint8Array, i: number): number { return buf[i]!; }
function u16(buf: Uint8Array, i: number): number { return (buf[i]! << 8) | buf[i + 1]!; }
function u32(buf: Uint8Array, i: number): number { return ((buf[i]! << 24) >>> 0) + (buf[i + 1]! << 16) + (buf[i + 2]! << 8) + buf[i + 3]!; }

/**
 * Finds the end of one msgpack object in a stream, resumably: feed it the buffered bytes,
 * it returns the frame length once complete and remembers how far it got otherwise, so a
 * large frame arriving in many packets is scanned once (linear, not quadratic).
 * Declared lengths and counts are checked against `maxBytes` as soon as their header is read.
 */
export class FrameScanner {
  private pos = 0;
  private readonly stack: number[] = [];

  constructor(private readonly maxBytes: number = Infinity, private readonly maxDepth = 512) {}

  /** bytes of the current (incomplete) frame already scanned */
  get scanned(): number { return this.pos; }

  reset(): void { this.pos = 0; this.stack.length = 0; }

  /**
   * Scans buf[start, end) where `start` is the first byte of the current frame (the same on
   * every call until a frame completes). Returns the frame's length, or 0 if more bytes are
   * needed. Throws MsgpackError on bytes that can never be valid or exceed the limits.
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    const avail = end - start;
    const stack = this.stack;
    let pos = this.pos;
    while (pos < avail) {
      const at = start + pos;
      const b = buf[at]!;
      let head = 1;
      let payload = 0;
      let children = 0;
      if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
        // single-byte value
      } else if (b <= 0x8f) children = (b & 0x0f) * 2;
      else if (b <= 0x9f) children = b & 0x0f;
      else if (b <= 0xbf) payload = b & 0x1f;
      else {
        switch (b) {
          case 0xc4: case 0xd9: head = 2; break;
          case 0xc5: case 0xda: head = 3; break;
          case 0xc6: case 0xdb: head = 5; break;
          case 0xc7: head = 3; break;
          case 0xc8: head = 4; break;
          case 0xc9: head = 6; break;
          case 0xca: head = 5; break;
          case 0xcb: head = 9; break;
          case 0xcc: case 0xd0: head = 2; break;
          case 0xcd: case 0xd1: head = 3; break;
          case 0xce: case 0xd2: head = 5; break;
          case 0xcf: case 0xd3: head = 9; break;
          case 0xd4: head = 3; break;
          case 0xd5: head = 4; break;
          case 0xd6: head = 6; break;
          case 0xd7: head = 10; break;
          case 0xd8: head = 18; break;
          case 0xdc: case 0xde: head = 3; break;
          case 0xdd: case 0xdf: head = 5; break;
          default: throw new MsgpackError(`invalid msgpack format byte 0x${b.toString(16)} at offset ${pos}`);
        }
        if (pos + head > avail) break; // header incomplete
        switch (b) {
          case 0xc4: case 0xd9: case 0xc7: payload = u8(buf, at + 1); break;
          case 0xc5: case 0xda: case 0xc8: payload = u16(buf, at + 1); break;
          case 0xc6: case 0xdb: case 0xc9: payload = u32(buf, at + 1); break;
          case 0xdc: children = u16(buf, at + 1); break;
          case 0xdd: children = u32(buf, at + 1); break;
          case 0xde: children = u16(buf, at + 1) * 2; break;
          case 0xdf: children = u32(buf, at + 1) * 2; break;
        }
      }
      // every child takes at least one byte, so a count is a lower bound of the size
      if (pos + head + payload > this.maxBytes || pos + head + children > this.maxBytes) {
        throw new MsgpackError(`message larger than the limit of ${this.maxBytes} bytes`, 'oversized');
      }
      if (pos + head + payload > avail) break; // payload incomplete
      pos += head + payload;
      if (children > 0) {
        if (stack.length >= this.maxDepth) throw new MsgpackError(`msgpack nested deeper than ${this.maxDepth} levels`, 'too-deep');
        stack.push(children);
        continue;
      }
      // a value is complete: count it in its container(s)
      for (;;) {
        if (stack.length === 0) { this.pos = 0; return pos; }
        const left = --stack[stack.length - 1]!;
        if (left > 0) break;
        stack.pop();
      }
    }
    this.pos = pos;
    return 0;
  }
}

/** End offset of the complete value starting at `pos`; throws if it is truncated. */
export function valueEnd(buf: Uint8Array, pos: number, end = buf.length, maxDepth = 512): number {
  if (pos >= end) throw new MsgpackError('truncated msgpack: value expected');
  const n = new FrameScanner(Infinity, maxDepth).scan(buf, pos, end);
  if (n === 0) throw new MsgpackError('truncated msgpack value');
  return pos + n;
}

export type MsgpackKind = 'nil' | 'bool' | 'int' | 'float' | 'str' | 'bin' | 'array' | 'map' | 'ext' | 'invalid';

export function kindAt(buf: Uint8Array, pos: number): MsgpackKind {
  const b = buf[pos];
  if (b === undefined) return 'invalid';
  if (b <= 0x7f || b >= 0xe0) return 'int';
  if (b <= 0x8f) return 'map';
  if (b <= 0x9f) return 'array';
  if (b <= 0xbf) return 'str';
  switch (b) {
    case 0xc0: return 'nil';
    case 0xc2: case 0xc3: return 'bool';
    case 0xc4: case 0xc5: case 0xc6: return 'bin';
    case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return 'ext';
    case 0xca: case 0xcb: return 'float';
    case 0xd9: case 0xda: case 0xdb: return 'str';
    case 0xdc: case 0xdd: return 'array';
    case 0xde: case 0xdf: return 'map';
    case 0xc1: return 'invalid';
    default: return 'int';
  }
}

/** Reads an array header at `pos`: its length and where its first element starts. */
export function readArrayHeader(buf: Uint8Array, pos: number): { length: number; pos: number } | null {
  const b = buf[pos];
  if (b === undefined) return null;
  if (b >= 0x90 && b <= 0x9f) return { length: b & 0x0f, pos: pos + 1 };
  if (b === 0xdc && pos + 3 <= buf.length) return { length: u16(buf, pos + 1), pos: pos + 3 };
  if (b === 0xdd && pos + 5 <= buf.length) return { length: u32(buf, pos + 1), pos: pos + 5 };
  return null;
}

/** A str or bin value as raw bytes (no UTF-8 decoding), e.g. a handshake salt or packed entries. */
export interface RawBytes { kind: 'str' | 'bin'; bytes: Uint8Array; end: number }

export function readRaw(buf: Uint8Array, pos: number): RawBytes | null {
  const b = buf[pos];
  if (b === undefined) return null;
  let head: number; let len: number; let kind: 'str' | 'bin';
  if (b >= 0xa0 && b <= 0xbf) { kind = 'str'; head = 1; len = b & 0x1f; }
  else if (b === 0xd9 || b === 0xc4) { kind = b === 0xd9 ? 'str' : 'bin'; head = 2; if (pos + 2 > buf.length) return null; len = u8(buf, pos + 1); }
  else if (b === 0xda || b === 0xc5) { kind = b === 0xda ? 'str' : 'bin'; head = 3; if (pos + 3 > buf.length) return null; len = u16(buf, pos + 1); }
  else if (b === 0xdb || b === 0xc6) { kind = b === 0xdb ? 'str' : 'bin'; head = 5; if (pos + 5 > buf.length) return null; len = u32(buf, pos + 1); }
  else return null;
  const start = pos + head;
  if (start + len > buf.length) return null;
  return { kind, bytes: buf.subarray(start, start + len), end: start + len };
}

/** msgpack header for a str or bin of `len` bytes (smallest form, as msgpack-c writes it). */
export function rawHeader(kind: 'str' | 'bin', len: number): Buffer {
  if (kind === 'str') {
    if (len < 32) return Buffer.from([0xa0 | len]);
    if (len < 0x100) return Buffer.from([0xd9, len]);
    if (len < 0x10000) return Buffer.from([0xda, len >> 8, len & 0xff]);
    const h = Buffer.alloc(5); h[0] = 0xdb; h.writeUInt32BE(len, 1); return h;
  }
  if (len < 0x100) return Buffer.from([0xc4, len]);
  if (len < 0x10000) return Buffer.from([0xc5, len >> 8, len & 0xff]);
  const h = Buffer.alloc(5); h[0] = 0xc6; h.writeUInt32BE(len, 1); return h;
}

/** `{ack: <chunk>}` echoing the chunk id with the exact bytes and type the peer sent. */
export function encodeAck(chunk: { kind: 'str' | 'bin'; bytes: Uint8Array }): Buffer {
  return Buffer.concat([Buffer.from([0x81, 0xa3, 0x61, 0x63, 0x6b]), rawHeader(chunk.kind, chunk.bytes.length), chunk.bytes]);
}
