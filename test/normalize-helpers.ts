/** Helpers for the normalize and compliance tests: an in-memory dead-letter sink, a forward peer, field paths. */
import type { DeadLetter, DeadLetterSink } from '../src/types/dead-letter.ts';
import { ForwardClient, pack } from './helpers/forward-client.ts';

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

/** A forward peer: sends Forward-mode messages with a `chunk` option and collects the acks. */
export class ForwardPeer {
  private constructor(private readonly client: ForwardClient) {}

  static async connect(port: number): Promise<ForwardPeer> {
    return new ForwardPeer(await ForwardClient.connect(port));
  }

  /** chunk ids acknowledged so far */
  get acks(): Set<string> {
    const out = new Set<string>();
    for (const f of this.client.frames) if (f && typeof (f as { ack?: unknown }).ack === 'string') out.add((f as { ack: string }).ack);
    return out;
  }

  get closed(): boolean { return this.client.closed; }

  /** one chunk: `[tag, [[time, record], ...], {chunk}]` */
  send(chunk: string, records: unknown[], tag = 'kube.audit'): void {
    const now = Math.floor(Date.now() / 1000);
    if (!this.client.socket.destroyed) this.client.write(pack([tag, records.map((r) => [now, r]), { chunk }]));
  }

  destroy(): void { this.client.destroy(); }
}
