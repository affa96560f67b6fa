/**
 * The forward peer side of the fault tests: chunks of audit events as Fluent Bit sends them
 * (`[[EventTime], record]` entries, a `chunk` option, re-sent on a fresh connection until
 * acked), and the exactly-once assertion on what the store holds afterwards.
 */
import assert from 'node:assert/strict';
import { Encoder } from '@msgpack/msgpack';
import { EventTime, ForwardSink, forwardCodec } from '../../src/simulate/forward-sink.ts';
import { parseMicro } from '../../src/simulate/time.ts';
import type { AuditEvent } from '../../src/types/audit.ts';
import type { StoreState } from './kontext-proc.ts';

const encoder = new Encoder({ extensionCodec: forwardCodec });

/** The forward entries of `evs`, one msgpack stream. */
export function entries(evs: AuditEvent[]): Uint8Array {
  const parts = evs.map((ev) => encoder.encode([EventTime.fromMicros(parseMicro(ev.stageTimestamp)), ev]).slice());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/** A peer that re-sends an unacked chunk (after 60 s without an ack, or a closed connection) up to 200 times. */
export function peer(port: number): ForwardSink {
  return new ForwardSink({ host: '127.0.0.1', port, retries: 200, ackTimeoutMs: 60_000 });
}

/**
 * Streams `events` in chunks of `size`, each sent once the previous one is acked; `fault(i)`
 * runs while chunk i waits for its ack; `twice(i)`: chunk i also goes on a second connection at the same time.
 */
export async function streamChunks(port: number, events: AuditEvent[], size: number, fault?: (i: number) => Promise<void> | undefined, twice?: (i: number) => boolean): Promise<void> {
  const sink = peer(port);
  const other = twice ? peer(port) : undefined;
  try {
    for (let i = 0, k = 0; i < events.length; i += size, k++) {
      const chunk = events.slice(i, i + size);
      const bytes = entries(chunk);
      const sent = sink.sendChunk(bytes, chunk.length);
      // the same chunk on a second connection at the same time (a peer retrying too early)
      const again = other && twice!(k) ? other.sendChunk(bytes, chunk.length) : undefined;
      const f = fault?.(k);
      await Promise.all([sent, again, f]);
    }
  } finally { sink.close(); other?.close(); }
}

/** One member document per sent auditID, summaries counting each once; `open`: contexts may stay open (SIGTERM keeps them for the next start). */
export function assertExactlyOnce(s: StoreState, sent: string[], what: string, open = true): void {
  const ids = new Set(sent);
  assert.equal(s.memberDocs, ids.size, `${what}: one member document per sent auditID`);
  for (const id of ids) assert.ok(s.owner.has(id), `${what}: ${id} stored`);
  let counted = 0;
  for (const [id, d] of s.summaries) {
    counted += d.eventCount;
    if (!open) assert.equal(d.state, 'closed', `${what}: context ${id} left open`);
  }
  assert.equal(counted, ids.size, `${what}: summaries count every event once`);
  for (const c of new Set(s.owner.values())) assert.ok(s.summaries.has(c), `${what}: context ${c} has a summary`);
}
