/**
 * Fluent forward protocol v1, server side: the envelope of the four event modes, entries in
 * both the classic `[time, record]` form and the `[[time, metadata], record]` form (Fluent Bit
 * group markers skipped), EventTime, options (`size`, `chunk`, `compressed`), and the PING of
 * the shared-key handshake. Everything here is synchronous and throws ProtocolError with a
 * message fit for a log line; the entries of a message are left as bytes, decoded
 * incrementally by entries.ts.
 * Spec: https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1
 */
import { Decoder, Encoder, ExtensionCodec } from '@msgpack/msgpack';
import { kindAt, MsgpackError, readArrayHeader, readRaw, valueEnd, type RawBytes } from './msgpack.ts';

export class ProtocolError extends Error {
  constructor(message: string, readonly reason: string = 'invalid-message') {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** EventTime: msgpack ext type 0, 8 bytes = uint32 BE seconds + uint32 BE nanoseconds. */
export class EventTime {
  constructor(readonly seconds: number, readonly nanoseconds: number) {}
  toMillis(): number { return this.seconds * 1000 + this.nanoseconds / 1e6; }
  static fromMillis(ms: number): EventTime {
    const s = Math.floor(ms / 1000);
    return new EventTime(s, Math.round((ms - s * 1000) * 1e6));
  }
  static pack(t: EventTime): Uint8Array {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(t.seconds >>> 0, 0);
    b.writeUInt32BE(t.nanoseconds >>> 0, 4);
    return b;
  }
}

export const EVENT_TIME_EXT = 0;
export const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  type: EVENT_TIME_EXT,
  encode: (v: unknown) => (v instanceof EventTime ? EventTime.pack(v) : null),
  decode: (data: Uint8Array) => {
    if (data.length !== 8) throw new ProtocolError(`EventTime must be 8 bytes, got ${data.length}`);
    const dv = new DataView(data.buffer, data.byteOffset, 8);
    return new EventTime(dv.getUint32(0), dv.getUint32(4));
  },
});

export interface Decoders {
  /** values: strs as JS strings, ext 0 as EventTime */
  value: Decoder;
  /** strs as raw bytes (the handshake salt is raw bytes in a str) */
  raw: Decoder;
}

export function createDecoders(): Decoders {
  return {
    value: new Decoder({ extensionCodec }),
    raw: new Decoder({ extensionCodec, rawStrings: true }),
  };
}

const encoder = new Encoder({ extensionCodec });
export function encodeValue(v: unknown): Buffer {
  const u = encoder.encode(v);
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export type EventMode = 'Message' | 'Forward' | 'PackedForward' | 'CompressedPackedForward';

export interface TransportOptions {
  /** chunk id exactly as sent (type and bytes): the ack echoes it */
  chunk?: { kind: 'str' | 'bin'; bytes: Uint8Array };
  /** entries (spec) or bytes (some clients): informational only */
  size?: number;
  compressed?: string;
}

export interface TransportMessage {
  mode: EventMode;
  tag: string;
  /** decoded entries (Message) */
  entries?: unknown[];
  /**
   * concatenated msgpack entries, decoded incrementally by the server: the elements of the
   * entries array (Forward), the packed entries (PackedForward), gzip of them (CompressedPackedForward)
   */
  packed?: Uint8Array;
  options: TransportOptions;
}

function decodeAt(d: Decoder, frame: Uint8Array, pos: number, end: number): unknown {
  try {
    return d.decode(frame.subarray(pos, end));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(`undecodable msgpack: ${(e as Error).message}`, 'malformed-msgpack');
  }
}

function wrapMsgpack<T>(fn: () => T): T {
  try { return fn(); } catch (e) {
    if (e instanceof MsgpackError) throw new ProtocolError(e.message, e.reason === 'malformed' ? 'malformed-msgpack' : e.reason);
    throw e;
  }
}

/** Decodes one complete client frame that is not a handshake message. */
export function parseTransport(frame: Uint8Array, d: Decoders): TransportMessage {
  const h = readArrayHeader(frame, 0);
  if (!h) throw new ProtocolError(`expected an array [tag, ...], got msgpack ${kindAt(frame, 0)}`);
  if (h.length < 2 || h.length > 4) throw new ProtocolError(`expected 2 to 4 elements [tag, time|entries, ...], got ${h.length}`);
  const tagRaw = readRaw(frame, h.pos);
  if (!tagRaw || tagRaw.kind !== 'str') throw new ProtocolError(`tag must be a string, got msgpack ${kindAt(frame, h.pos)}`);
  const tag = Buffer.from(tagRaw.bytes).toString('utf8');
  if (tag === 'PING' || tag === 'HELO' || tag === 'PONG') throw new ProtocolError(`unexpected ${tag} message (handshake not expected here)`, 'unexpected-handshake');
  let pos = tagRaw.end;
  const kind = kindAt(frame, pos);
  const ends: number[] = [];
  let p = pos;
  for (let i = 1; i < h.length; i++) { p = wrapMsgpack(() => valueEnd(frame, p)); ends.push(p); }
  if (p !== frame.length) throw new ProtocolError('trailing bytes after the message');
  const optionAt = (i: number): TransportOptions => (h.length > i ? parseOptions(frame, ends[i - 2]!, ends[i - 1]!, d) : {});

  if (kind === 'array') {
    if (h.length > 3) throw new ProtocolError(`Forward mode takes [tag, entries, option?], got ${h.length} elements`);
    const arr = readArrayHeader(frame, pos)!;
    return { mode: 'Forward', tag, packed: frame.subarray(arr.pos, ends[0]!), options: optionAt(2) };
  }
  if (kind === 'bin' || kind === 'str') {
    if (h.length > 3) throw new ProtocolError(`PackedForward mode takes [tag, entries, option?], got ${h.length} elements`);
    const raw = readRaw(frame, pos)!;
    const options = optionAt(2);
    const c = options.compressed;
    if (c !== undefined && c !== 'gzip' && c !== 'text') throw new ProtocolError(`unsupported compression ${JSON.stringify(c)} (gzip or text)`, 'unsupported-compression');
    return { mode: c === 'gzip' ? 'CompressedPackedForward' : 'PackedForward', tag, packed: raw.bytes, options };
  }
  // Message mode: [tag, time, record, option?]
  if (h.length < 3) throw new ProtocolError('Message mode takes [tag, time, record, option?], got 2 elements');
  const time = decodeAt(d.value, frame, pos, ends[0]!);
  pos = ends[0]!;
  const record = decodeAt(d.value, frame, pos, ends[1]!);
  return { mode: 'Message', tag, entries: [[time, record]], options: optionAt(3) };
}

function parseOptions(frame: Uint8Array, start: number, end: number, d: Decoders): TransportOptions {
  const k = kindAt(frame, start);
  if (k === 'nil') return {};
  if (k !== 'map') throw new ProtocolError(`option must be a map, got msgpack ${k}`);
  const o = decodeAt(d.value, frame, start, end) as Record<string, unknown>;
  const out: TransportOptions = {};
  if (o.chunk !== undefined) {
    const raw = (decodeAt(d.raw, frame, start, end) as Record<string, unknown>).chunk;
    if (typeof o.chunk === 'string' && raw instanceof Uint8Array) out.chunk = { kind: 'str', bytes: raw };
    else if (o.chunk instanceof Uint8Array) out.chunk = { kind: 'bin', bytes: o.chunk };
    else throw new ProtocolError('option chunk must be a string');
    if (out.chunk.bytes.length === 0 || out.chunk.bytes.length > 1024) throw new ProtocolError(`option chunk must be 1 to 1024 bytes, got ${out.chunk.bytes.length}`);
  }
  if (o.size !== undefined) {
    if (typeof o.size !== 'number') throw new ProtocolError('option size must be an integer');
    out.size = o.size;
  }
  if (o.compressed !== undefined) {
    if (typeof o.compressed !== 'string') throw new ProtocolError('option compressed must be a string');
    out.compressed = o.compressed;
  }
  return out;
}

function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function isTime(v: unknown): boolean {
  return (typeof v === 'number' && Number.isFinite(v)) || v instanceof EventTime;
}

/** Fluent Bit group start/end markers: time -1 / -2 (an integer, or an EventTime whose seconds are -1 / -2 as int32). */
function isGroupMarker(t: unknown): boolean {
  if (typeof t === 'number') return t === -1 || t === -2;
  if (t instanceof EventTime) return t.seconds === 0xffffffff || t.seconds === 0xfffffffe;
  return false;
}

export interface Extracted {
  records: Record<string, unknown>[];
  /** event time per record, epoch ms */
  times: number[];
  /** group markers skipped */
  markers: number;
}

/** Validates entries and returns their records; throws ProtocolError naming the first bad entry. */
export function extractRecords(entries: unknown, from = 'entries', firstIndex = 0): Extracted {
  if (!Array.isArray(entries)) throw new ProtocolError(`${from} must be an array`);
  const records: Record<string, unknown>[] = [];
  const times: number[] = [];
  let markers = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!Array.isArray(e) || e.length !== 2) throw new ProtocolError(`entry ${firstIndex + i}: expected [time, record] or [[time, metadata], record]`);
    let t: unknown = e[0];
    if (Array.isArray(t)) {
      if (t.length < 1 || t.length > 2) throw new ProtocolError(`entry ${firstIndex + i}: expected [time, metadata] header, got ${t.length} elements`);
      const meta = t[1];
      if (meta !== undefined && meta !== null && !isMap(meta)) throw new ProtocolError(`entry ${firstIndex + i}: metadata must be a map`);
      t = t[0];
      if (isGroupMarker(t)) { markers++; continue; }
    }
    if (!isTime(t)) throw new ProtocolError(`entry ${firstIndex + i}: time must be an integer, a float or an EventTime`);
    if (!isMap(e[1])) throw new ProtocolError(`entry ${firstIndex + i}: record must be a map`);
    records.push(e[1]);
    times.push(t instanceof EventTime ? t.toMillis() : (t as number) * 1000);
  }
  return { records, times, markers };
}

/** A PING of the shared-key handshake, fields as raw bytes (Fluent Bit's salt is not UTF-8). */
export interface Ping {
  hostname: Uint8Array;
  salt: Uint8Array;
  digest: string;
  username: string;
  passwordDigest: string;
}

export function isPingFrame(frame: Uint8Array): boolean {
  const h = readArrayHeader(frame, 0);
  if (!h || h.length < 1) return false;
  const r = readRaw(frame, h.pos);
  return !!r && r.bytes.length === 4 && Buffer.from(r.bytes).toString('latin1') === 'PING';
}

/** ['PING', self_hostname, shared_key_salt, sha512_hex(...), username, sha512_hex(...)] */
export function parsePing(frame: Uint8Array): Ping {
  const h = readArrayHeader(frame, 0);
  if (!h) throw new ProtocolError(`expected PING, got msgpack ${kindAt(frame, 0)}`, 'handshake-invalid');
  if (!isPingFrame(frame)) throw new ProtocolError('expected PING (shared key handshake) before any event', 'handshake-invalid');
  if (h.length < 4 || h.length > 6) throw new ProtocolError(`PING must have 6 elements, got ${h.length}`, 'handshake-invalid');
  const fields: RawBytes[] = [];
  let pos = h.pos;
  for (let i = 0; i < h.length; i++) {
    const r = readRaw(frame, pos);
    if (!r) throw new ProtocolError(`PING element ${i} must be a string`, 'handshake-invalid');
    fields.push(r);
    pos = r.end;
  }
  if (pos !== frame.length) throw new ProtocolError('trailing bytes after PING', 'handshake-invalid');
  const s = (i: number) => (fields[i] ? Buffer.from(fields[i]!.bytes).toString('utf8') : '');
  return { hostname: fields[1]!.bytes, salt: fields[2]!.bytes, digest: s(3), username: s(4), passwordDigest: s(5) };
}
