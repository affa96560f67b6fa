/** A minimal forward protocol client for tests and the fuzz script: optional shared-key handshake, TLS, raw frames, acks. */
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import { sharedKeyDigest } from '../../src/sources/forward/handshake.ts';
import { FrameScanner } from '../../src/sources/forward/msgpack.ts';
import { extensionCodec } from '../../src/sources/forward/protocol.ts';

export const pack = (v: unknown): Buffer => { const u = encode(v, { extensionCodec }); return Buffer.from(u.buffer, u.byteOffset, u.byteLength); };

export interface ClientOptions {
  host?: string;
  /** bind to this local address (e.g. 127.0.0.2, to look like another peer) */
  localAddress?: string;
  sharedKey?: string;
  hostname?: string;
  tls?: tls.ConnectionOptions;
  timeoutMs?: number;
}

export class ForwardClient {
  readonly frames: unknown[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private readonly scanner = new FrameScanner();
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const n = this.scanner.scan(this.buf, 0, this.buf.length);
        if (!n) break;
        this.frames.push(decode(this.buf.subarray(0, n), { extensionCodec }));
        this.buf = this.buf.subarray(n);
      }
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => { this.closed = true; this.wake(); });
  }

  private wake(): void { const w = this.waiters.splice(0); for (const f of w) f(); }

  /** resolves when `cond` holds (checked on every frame and on close), rejects after timeoutMs */
  async until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => { const t = setTimeout(r, Math.min(left, 200)); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  static async connect(port: number, o: ClientOptions = {}): Promise<ForwardClient> {
    const host = o.host ?? '127.0.0.1';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      if (o.tls) {
        const raw = net.connect({ host, port, localAddress: o.localAddress });
        const s = tls.connect({ socket: raw, servername: 'localhost', ...o.tls }, () => resolve(s));
        s.once('error', reject);
        raw.once('error', reject);
      } else {
        const s = net.connect({ host, port, localAddress: o.localAddress }, () => resolve(s));
        s.once('error', reject);
      }
    });
    const c = new ForwardClient(socket);
    if (o.sharedKey !== undefined) {
      await c.until(() => c.frames.length > 0 || c.closed, o.timeoutMs ?? 10_000, 'HELO');
      const helo = c.frames[0] as [string, { nonce: Uint8Array }];
      if (!Array.isArray(helo) || helo[0] !== 'HELO') throw new Error('expected HELO');
      const salt = randomBytes(16);
      const hostname = o.hostname ?? 'fuzz-peer';
      c.write(pack(['PING', hostname, salt, sharedKeyDigest(salt, hostname, helo[1].nonce, o.sharedKey), '', '']));
      await c.until(() => c.frames.length > 1 || c.closed, o.timeoutMs ?? 10_000, 'PONG');
      const pong = c.frames[1] as [string, boolean, string];
      if (!pong?.[1]) throw new Error(`handshake refused: ${pong?.[2]}`);
      c.frames.length = 0;
    }
    return c;
  }

  write(b: Uint8Array): boolean { return this.socket.write(b); }

  /** writes and resolves once the write was flushed to the kernel */
  send(b: Uint8Array): Promise<void> {
    return new Promise((resolve) => { this.socket.write(b, () => resolve()); });
  }

  hasAck(chunk: string): boolean {
    return this.frames.some((f) => typeof f === 'object' && f !== null && (f as { ack?: unknown }).ack === chunk);
  }

  async ack(chunk: string, timeoutMs = 10_000): Promise<void> {
    await this.until(() => this.hasAck(chunk) || this.closed, timeoutMs, `ack ${chunk}`);
    if (!this.hasAck(chunk)) throw new Error(`connection closed before the ack of ${chunk}`);
  }

  async closedWithin(timeoutMs = 10_000): Promise<void> { await this.until(() => this.closed, timeoutMs, 'close'); }

  destroy(): void { this.socket.destroy(); }
}
