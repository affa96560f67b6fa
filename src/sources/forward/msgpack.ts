/**
 * Just enough msgpack to frame a byte stream safely: an incremental scanner that finds where
 * one object ends without decoding it (so limits apply before anything is allocated), plus
 * small readers for the forward envelope, plus a one-pass decoder of a framed value for the
 * hot path (the entries); the envelope and anything unusual are decoded by @msgpack/msgpack.
 */

import { isUtf8 } from 'node:buffer';

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

/** thrown by decodeFramed for what it leaves to @msgpack/msgpack (a str that is not valid UTF-8) */
export const NOT_FAST = Symbol('not-fast');

export interface ExtDecoder { decode(data: Uint8Array, type: number, context: undefined): unknown }

/**
 * Decodes one complete msgpack value that FrameScanner has framed (so every header and length
 * is known to be in bounds and the depth bounded), in one pass, as @msgpack/msgpack's Decoder
 * would: maps as plain objects with string or number keys (`__proto__` refused), bins as views
 * of `buf`, 64-bit integers as numbers, exts through `ext`. Strs are decoded by the native
 * UTF-8 decoder; a str that is not valid UTF-8 throws NOT_FAST (the caller decodes that value
 * with @msgpack/msgpack, whose replacement of invalid bytes differs).
 */
export function decodeFramed(buf: Buffer, start: number, end: number, ext: ExtDecoder): unknown {
  const r = new FramedReader(buf, ext, start);
  const v = r.value();
  if (r.pos !== end) throw new MsgpackError(`msgpack value ends at ${r.pos - start}, the frame at ${end - start}`);
  return v;
}

class FramedReader {
  constructor(private readonly buf: Buffer, private readonly ext: ExtDecoder, public pos: number) {}

  private str(len: number): string {
    const s = this.pos; const e = s + len;
    this.pos = e;
    if (len === 0) return '';
    // ASCII (the common case) is valid UTF-8; anything else is checked
    for (let i = s; i < e; i++) if (this.buf[i]! >= 0x80) { if (!isUtf8(this.buf.subarray(s, e))) throw NOT_FAST; break; }
    return this.buf.toString('utf8', s, e);
  }

  private bin(len: number): Buffer { const s = this.pos; this.pos += len; return this.buf.subarray(s, s + len); }

  private extOf(len: number): unknown {
    const type = (this.buf[this.pos]! << 24) >> 24;
    this.pos++;
    return this.ext.decode(this.bin(len), type, undefined);
  }

  private map(n: number): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = this.value();
      if (typeof k !== 'string' && typeof k !== 'number') throw new MsgpackError(`The type of key must be string or number but ${typeof k}`);
      if (k === '__proto__') throw new MsgpackError('The key __proto__ is not allowed');
      o[k] = this.value();
    }
    return o;
  }

  private arr(n: number): unknown[] {
    const a = new Array<unknown>(n);
    for (let i = 0; i < n; i++) a[i] = this.value();
    return a;
  }

  value(): unknown {
    const b = this.buf; const p = this.pos;
    const h = b[p]!;
    this.pos = p + 1;
    if (h <= 0x7f) return h;
    if (h >= 0xe0) return h - 0x100;
    if (h <= 0x8f) return this.map(h & 0x0f);
    if (h <= 0x9f) return this.arr(h & 0x0f);
    if (h <= 0xbf) return this.str(h & 0x1f);
    switch (h) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: this.pos = p + 2; return this.bin(b[p + 1]!);
      case 0xc5: this.pos = p + 3; return this.bin(b.readUInt16BE(p + 1));
      case 0xc6: this.pos = p + 5; return this.bin(b.readUInt32BE(p + 1));
      case 0xc7: this.pos = p + 2; return this.extOf(b[p + 1]!);
      case 0xc8: this.pos = p + 3; return this.extOf(b.readUInt16BE(p + 1));
      case 0xc9: this.pos = p + 5; return this.extOf(b.readUInt32BE(p + 1));
      case 0xca: this.pos = p + 5; return b.readFloatBE(p + 1);
      case 0xcb: this.pos = p + 9; return b.readDoubleBE(p + 1);
      case 0xcc: this.pos = p + 2; return b[p + 1]!;
      case 0xcd: this.pos = p + 3; return b.readUInt16BE(p + 1);
      case 0xce: this.pos = p + 5; return b.readUInt32BE(p + 1);
      case 0xcf: this.pos = p + 9; return b.readUInt32BE(p + 1) * 4294967296 + b.readUInt32BE(p + 5);
      case 0xd0: this.pos = p + 2; return b.readInt8(p + 1);
      case 0xd1: this.pos = p + 3; return b.readInt16BE(p + 1);
      case 0xd2: this.pos = p + 5; return b.readInt32BE(p + 1);
      case 0xd3: this.pos = p + 9; return b.readInt32BE(p + 1) * 4294967296 + b.readUInt32BE(p + 5);
      case 0xd4: return this.extOf(1);
      case 0xd5: return this.extOf(2);
      case 0xd6: return this.extOf(4);
      case 0xd7: return this.extOf(8);
      case 0xd8: return this.extOf(16);
      case 0xd9: this.pos = p + 2; return this.str(b[p + 1]!);
      case 0xda: this.pos = p + 3; return this.str(b.readUInt16BE(p + 1));
      case 0xdb: this.pos = p + 5; return this.str(b.readUInt32BE(p + 1));
      case 0xdc: this.pos = p + 3; return this.arr(b.readUInt16BE(p + 1));
      case 0xdd: this.pos = p + 5; return this.arr(b.readUInt32BE(p + 1));
      case 0xde: this.pos = p + 3; return this.map(b.readUInt16BE(p + 1));
      case 0xdf: this.pos = p + 5; return this.map(b.readUInt32BE(p + 1));
      default: throw new MsgpackError(`invalid msgpack format byte 0x${h.toString(16)}`);
    }
  }
}
