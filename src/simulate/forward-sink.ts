/**
 * A minimal Fluentd forward protocol v1 client that sends like Fluent Bit's `forward` output:
 * PackedForward messages ([tag, bin(entries), {chunk, size}]) with EventTime (msgpack ext
 * type 0) timestamps, waiting for each chunk's {ack} before sending the next; optional
 * shared-key handshake (HELO → PING → PONG) with optional user authentication. A chunk that
 * is not acknowledged (timeout, connection lost) is sent again on a fresh connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { decodeMultiStream, Encoder, ExtensionCodec } from '@msgpack/msgpack';
import type { AuditEvent } from '../types/audit.ts';
import { parseMicro } from './time.ts';

/** Fluentd EventTime: seconds and nanoseconds, msgpack ext type 0 (two big-endian uint32). */
export class EventTime {
  constructor(readonly sec: number, readonly nsec: number) {}
  static fromMicros(us: number): EventTime { const sec = Math.floor(us / 1e6); return new EventTime(sec, Math.round((us - sec * 1e6) * 1000)); }
}

export const forwardCodec = new ExtensionCodec();
forwardCodec.register({
  type: 0,
  encode: (v: unknown) => {
    if (!(v instanceof EventTime)) return null;
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, v.sec); dv.setUint32(4, v.nsec);
    return b;
  },
  decode: (data: Uint8Array) => {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return new EventTime(dv.getUint32(0), dv.getUint32(4));
  },
});

export interface ForwardOptions {
  host: string;
  port: number;
  tag?: string;
  sharedKey?: string;
  username?: string;
  password?: string;
  /** events per chunk (default 500) */
  chunkEvents?: number;
  /** bytes per chunk, approximate (default 1 MiB) */
  chunkBytes?: number;
  /** how long to wait for an ack (default 30 s) */
  ackTimeoutMs?: number;
  /** attempts per chunk before giving up (default 5) */
  retries?: number;
  selfHostname?: string;
  onChunk?: (events: number, bytes: number, last: AuditEvent) => void;
}

export class ForwardError extends Error { constructor(m: string) { super(m); this.name = 'ForwardError'; } }

const sha512hex = (...parts: (string | Uint8Array)[]) => { const h = createHash('sha512'); for (const p of parts) h.update(p); return h.digest('hex'); };

/** One connection: its incoming msgpack objects, read in order. */
class Connection {
  private readonly iter: AsyncIterator<unknown>;

  private constructor(private readonly sock: Socket) {
    sock.on('error', () => { /* surfaced through the reader */ });
    this.iter = decodeMultiStream(sock, { extensionCodec: forwardCodec })[Symbol.asyncIterator]();
  }

  static open(host: string, port: number, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host, port });
      const timer = setTimeout(() => { sock.destroy(); reject(new ForwardError(`connect to ${host}:${port} timed out`)); }, timeoutMs);
      sock.once('connect', () => { clearTimeout(timer); sock.setNoDelay(true); resolve(new Connection(sock)); });
      sock.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  /** the next message from the server; rejects on timeout or when the connection ends */
  async next(timeoutMs: number): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new ForwardError(`no response within ${timeoutMs} ms`)), timeoutMs); });
    try {
      const r = await Promise.race([this.iter.next(), timeout]);
      if (r.done) throw new ForwardError('connection closed by peer');
      return r.value;
    } finally { clearTimeout(timer); }
  }

  write(b: Uint8Array): void { this.sock.write(b); }
  close(): void { this.sock.end(); }
  destroy(): void { this.sock.destroy(); }
}

export class ForwardSink {
  private conn: Connection | undefined;
  private readonly encoder = new Encoder({ extensionCodec: forwardCodec });
  private readonly tag: string;
  constructor(private readonly o: ForwardOptions) { this.tag = o.tag ?? 'kube.audit'; }

  private async connect(): Promise<Connection> {
    const timeout = this.o.ackTimeoutMs ?? 30_000;
    const c = await Connection.open(this.o.host, this.o.port, timeout);
    if (this.o.sharedKey !== undefined) {
      const helo = await c.next(timeout) as [string, { nonce: Uint8Array | string; auth?: Uint8Array | string; keepalive?: boolean }];
      if (!Array.isArray(helo) || helo[0] !== 'HELO') { c.destroy(); throw new ForwardError(`expected HELO, got ${JSON.stringify(helo)?.slice(0, 80)}`); }
      const nonce = helo[1].nonce;
      const auth = helo[1].auth ?? '';
      const self = this.o.selfHostname ?? hostname();
      const salt = randomBytes(16).toString('hex');
      const user = this.o.username ?? '';
      const pass = this.o.password ?? '';
      const ping = ['PING', self, salt, sha512hex(salt, self, nonce, this.o.sharedKey), user, user || (auth && auth.length) ? sha512hex(auth, user, pass) : ''];
      c.write(this.encoder.encode(ping));
      const pong = await c.next(timeout) as [string, boolean, string, string, string];
      if (!Array.isArray(pong) || pong[0] !== 'PONG') { c.destroy(); throw new ForwardError('expected PONG'); }
      if (!pong[1]) { c.destroy(); throw new ForwardError(`authentication refused: ${pong[2]}`); }
      const expect = sha512hex(salt, pong[3], nonce, this.o.sharedKey);
      if (pong[4] !== expect) { c.destroy(); throw new ForwardError('server shared key digest mismatch'); }
    }
    return c;
  }

  /** Sends one chunk and waits for its ack; retries on a fresh connection. */
  async sendChunk(entries: Uint8Array, count: number): Promise<void> {
    const chunk = randomBytes(16).toString('base64');
    const msg = this.encoder.encode([this.tag, entries, { chunk, size: count }]);
    const timeout = this.o.ackTimeoutMs ?? 30_000;
    const retries = this.o.retries ?? 5;
    let lastErr: Error | undefined;
    for (let attempt = 0; attempt < retries; attempt++) {
      try {
        this.conn ??= await this.connect();
        this.conn.write(msg);
        for (;;) {
          const resp = await this.conn.next(timeout) as { ack?: string };
          if (resp && typeof resp === 'object' && resp.ack === chunk) return;
        }
      } catch (e) {
        lastErr = e as Error;
        this.conn?.destroy();
        this.conn = undefined;
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
    throw new ForwardError(`chunk not acknowledged after ${retries} attempts: ${lastErr?.message}`);
  }

  /** Streams all events, chunk by chunk. */
  async write(events: Iterable<AuditEvent>): Promise<{ events: number; bytes: number; chunks: number }> {
    const maxEvents = this.o.chunkEvents ?? 500;
    const maxBytes = this.o.chunkBytes ?? 1024 * 1024;
    let parts: Uint8Array[] = [];
    let size = 0; let count = 0; let total = 0; let bytes = 0; let chunks = 0;
    let last: AuditEvent | undefined;
    const flush = async () => {
      if (!count) return;
      const entries = new Uint8Array(size);
      let off = 0;
      for (const p of parts) { entries.set(p, off); off += p.length; }
      await this.sendChunk(entries, count);
      chunks++; bytes += size;
      this.o.onChunk?.(total, bytes, last!);
      parts = []; size = 0; count = 0;
    };
    for (const ev of events) {
      const us = parseMicro(ev.stageTimestamp);
      const p = this.encoder.encode([EventTime.fromMicros(us), ev]);
      parts.push(p.slice());
      size += p.length; count++; total++;
      last = ev;
      if (count >= maxEvents || size >= maxBytes) await flush();
    }
    await flush();
    return { events: total, bytes, chunks };
  }

  close(): void { this.conn?.close(); this.conn = undefined; }
}

/** "host:port", "[::1]:24224" → parts. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s.trim());
  if (!m) throw new Error(`expected HOST:PORT, got ${JSON.stringify(s)}`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`port out of range in ${JSON.stringify(s)}`);
  return { host: m[1] ?? m[2]!, port };
}
