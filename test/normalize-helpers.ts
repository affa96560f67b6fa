/** Helpers for the normalize and compliance tests: an in-memory dead-letter sink, a forward peer, field paths. */
import net from 'node:net';
import { decode, encode } from '@msgpack/msgpack';
import type { DeadLetter, DeadLetterSink } from '../src/types/dead-letter.ts';
import { FrameScanner } from '../src/sources/forward/msgpack.ts';
import { extensionCodec } from '../src/sources/forward/protocol.ts';

/** Stores dead letters in memory, asynchronously (like Elasticsearch); `failNext` makes the next put reject. */
export class MemoryDeadLetters implements DeadLetterSink {
  readonly entries: DeadLetter[] = [];
  failNext = 0;
  puts = 0;
  async put(entries: DeadLetter[]): Promise<void> {
    this.puts++;
    await new Promise((r) => setImmediate(r));
    if (this.failNext > 0) { this.failNext--; throw new Error('dead-letter index unavailable (test)'); }
    this.entries.push(...entries);
  }
  byAuditID(id: string): DeadLetter | undefined { return this.entries.find((e) => e.auditID === id); }
}

/** Sets `value` at a path like `requestObject.metadata.ownerReferences[0].uid` or `annotations["a/b"]`. */
export function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]|\["([^"]+)"\]/g)) parts.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]!));
  let o: any = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i]!;
    if (o[k] === undefined || o[k] === null || typeof o[k] !== 'object') o[k] = typeof parts[i + 1] === 'number' ? [] : {};
    o = o[k];
  }
  o[parts[parts.length - 1]!] = value;
}

const pack = (v: unknown): Buffer => { const u = encode(v, { extensionCodec }); return Buffer.from(u.buffer, u.byteOffset, u.byteLength); };

/** A forward peer: sends Forward-mode messages with a `chunk` option and collects the acks. */
export class ForwardPeer {
  private buf = Buffer.alloc(0);
  private readonly scanner = new FrameScanner();
  readonly acks = new Set<string>();
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const n = this.scanner.scan(this.buf, 0, this.buf.length);
        if (!n) break;
        const f = decode(this.buf.subarray(0, n), { extensionCodec }) as { ack?: string };
        if (f && typeof f.ack === 'string') this.acks.add(f.ack);
        this.buf = this.buf.subarray(n);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => { this.closed = true; });
  }

  static connect(port: number): Promise<ForwardPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new ForwardPeer(s)));
      s.once('error', reject);
    });
  }

  /** one chunk: `[tag, [[time, record], ...], {chunk}]` */
  send(chunk: string, records: unknown[], tag = 'kube.audit'): void {
    const now = Math.floor(Date.now() / 1000);
    if (!this.socket.destroyed) this.socket.write(pack([tag, records.map((r) => [now, r]), { chunk }]));
  }

  destroy(): void { this.socket.destroy(); }
}
