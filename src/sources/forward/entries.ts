/**
 * Streaming, bounded decoding of the entries of a Forward / PackedForward /
 * CompressedPackedForward message.
 *
 * Entries arrive as byte chunks (slices of the frame, or the output of a gunzip stream that
 * inflates at most a few tens of KiB at a time). Each chunk is split into complete entries by
 * the resumable FrameScanner (size and depth limits apply before anything is decoded), the
 * complete ones are decoded and handed on as one batch, and only the tail of an incomplete
 * entry is kept (an entry is decoded in one pass over its frame: msgpack.ts decodeFramed).
 * Nothing ever holds more than one chunk of decoded entries, and the caller
 * yields to the event loop between batches.
 *
 * Limits: the inflated size is capped by `maxDecodedBytes` (max-message-bytes) and by
 * `maxRatio` × the compressed size (never below RATIO_FLOOR_BYTES, so small, well-compressed
 * messages are not refused); crossing either destroys the gunzip stream at once.
 */
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { decodeFramed, FrameScanner, MsgpackError, NOT_FAST } from './msgpack.ts';
import { extensionCodec, ProtocolError, type Decoders } from './protocol.ts';

/** Size of the slices an uncompressed message is decoded in, and of gunzip output chunks. */
export const ENTRY_CHUNK_BYTES = 64 * 1024;
/** The ratio bound applies only above this many inflated bytes. */
export const RATIO_FLOOR_BYTES = 1024 * 1024;

export interface EntryLimits {
  /** largest inflated payload (bytes) */
  maxDecodedBytes: number;
  /** largest inflated / compressed ratio (above RATIO_FLOOR_BYTES) */
  maxRatio: number;
  maxDepth: number;
}

/** Splits concatenated msgpack entries arriving in chunks into decoded entries. */
export class EntrySplitter {
  // bytes [start, end) of buf are the incomplete entry; bytes before `start` may be viewed by
  // decoded bin values, so they are never overwritten: growing or compacting takes a new buffer
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  private readonly scanner: FrameScanner;

  constructor(private readonly d: Decoders, maxEntryBytes: number, maxDepth: number) {
    this.scanner = new FrameScanner(maxEntryBytes, maxDepth);
  }

  /** bytes of an incomplete entry held */
  get pending(): number { return this.end - this.start; }

  /** Decodes every entry completed by `chunk`. Throws ProtocolError on bad bytes. */
  push(chunk: Uint8Array): unknown[] {
    const live = this.end - this.start;
    if (this.end + chunk.length > this.buf.length) {
      const nb = Buffer.allocUnsafe(Math.max(2 * (live + chunk.length), ENTRY_CHUNK_BYTES));
      this.buf.copy(nb, 0, this.start, this.end);
      this.buf = nb; this.start = 0; this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    const out: unknown[] = [];
    while (this.start < this.end) {
      let n: number;
      try {
        n = this.scanner.scan(this.buf, this.start, this.end);
      } catch (e) {
        if (e instanceof MsgpackError) throw new ProtocolError(`entries: ${e.message}`, e.reason === 'malformed' ? 'malformed-msgpack' : e.reason);
        throw e;
      }
      if (n === 0) break;
      try {
        let v: unknown;
        try { v = decodeFramed(this.buf, this.start, this.start + n, extensionCodec); }
        catch (e) { if (e !== NOT_FAST) throw e; v = this.d.value.decode(this.buf.subarray(this.start, this.start + n)); }
        out.push(v);
      } catch (e) {
        if (e instanceof ProtocolError) throw e;
        throw new ProtocolError(`undecodable msgpack: ${(e as Error).message}`, 'malformed-msgpack');
      }
      this.start += n;
    }
    if (this.start === this.end && this.buf.length > 4 * ENTRY_CHUNK_BYTES) { this.buf = Buffer.alloc(0); this.start = this.end = 0; }
    return out;
  }

  /** Throws if the stream ended inside an entry. */
  finish(): void {
    if (this.pending) throw new ProtocolError(`entries truncated: ${this.pending} bytes of an incomplete entry`, 'malformed-msgpack');
  }
}

/** Slices of an uncompressed entries buffer. */
export function* slices(bytes: Uint8Array, size = ENTRY_CHUNK_BYTES): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, Math.min(bytes.length, i + size));
}

/**
 * Inflates gzip entries as a stream of chunks, destroying the inflater the moment the output
 * crosses the limits (ProtocolError 'oversized' or 'decompression-ratio').
 * Concatenated gzip members are inflated in turn, as gunzip(1) does.
 */
export async function* inflateBounded(compressed: Uint8Array, limits: EntryLimits): AsyncGenerator<Buffer> {
  const byRatio = Math.max(RATIO_FLOOR_BYTES, Math.floor(compressed.length * limits.maxRatio));
  const cap = Math.min(limits.maxDecodedBytes, byRatio);
  const gz = zlib.createGunzip({ chunkSize: ENTRY_CHUNK_BYTES });
  Readable.from([Buffer.from(compressed.buffer, compressed.byteOffset, compressed.byteLength)], { objectMode: false }).pipe(gz);
  let total = 0;
  try {
    for await (const chunk of gz as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > cap) {
        if (cap === limits.maxDecodedBytes) throw new ProtocolError(`compressed entries inflate beyond the limit of ${cap} bytes (max-message-bytes)`, 'oversized');
        throw new ProtocolError(`compressed entries inflate more than ${limits.maxRatio} times their ${compressed.length} bytes (max-decompression-ratio)`, 'decompression-ratio');
      }
      yield chunk;
    }
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(`gzip entries: ${(e as Error).message}`, 'decompress-failed');
  } finally {
    gz.destroy();
  }
}
