/**
 * Memory while catching up a backlog: a simulated 1-hour audit log (3 minutes with --quick)
 * sent through the forward input the way Fluent Bit delivers a backlog — chunks shuffled
 * within the reorder horizon, a bounded number of chunks in flight, each re-sent only after
 * its ack — into the real pipeline (normalize, labeler, clusterer; contexts kept in memory by
 * a sink that settles at once). Peak RSS of the process (sender included) against the 512 MB
 * target, the normalize buffer's peak estimated bytes against `max-buffer`, and what the
 * bound cost (events released early, late).
 */
import net from 'node:net';
import zlib from 'node:zlib';
import { decode, encode } from '@msgpack/msgpack';
import type { BenchOptions, BenchResult } from './types.ts';
import type { ContextSink, ContextWrite, WriteResult } from '../cluster/types.ts';
import { createClusterer } from '../cluster/index.ts';
import { createLabeler } from '../label/index.ts';
import { Normalizer } from '../normalize/index.ts';
import { Pipeline } from '../pipeline/pipeline.ts';
import { resolveModelDir } from '../pipeline/build.ts';
import { ForwardServer } from '../sources/forward/index.ts';
import { FrameScanner } from '../sources/forward/msgpack.ts';
import { extensionCodec } from '../sources/forward/protocol.ts';
import { simulate } from '../simulate/index.ts';
import { parseAuditTime } from '../normalize/index.ts';
import { prng } from '../util/prng.ts';
import type { AuditEvent } from '../types/audit.ts';

/** settles at once and keeps only counts (the store is not what is measured) */
class CountingSink implements ContextSink {
  healthy = true;
  backlog = 0;
  backlogDocs = 0;
  members = 0;
  async write(batch: ContextWrite[]): Promise<WriteResult> {
    for (const w of batch) { this.members += w.newEvents; for (const r of w.receipts) r.receipt.settle(r.n); }
    return { stored: batch.length, rejected: 0 };
  }
  onStored(): () => void { return () => {}; }
  async close(): Promise<void> {}
}

export async function run(o: BenchOptions): Promise<BenchResult> {
  const durationMs = o.quick ? 180_000 : 3_600_000;
  const maxBuffer = 256 * 1024 * 1024;
  const chunkEvents = 256;
  const inFlightChunks = 32;
  o.log(`backlog-memory: simulating ${durationMs / 60_000} minutes`);
  // the backlog is held the way a shipper holds it: compressed chunks (CompressedPackedForward),
  // so the sender's own memory stays small next to what is measured
  const now = Math.floor(Date.now() / 1000);
  const pack = (v: unknown) => { const u = encode(v, { extensionCodec }); return Buffer.from(u.buffer, u.byteOffset, u.byteLength); };
  let total = 0;
  const keyed: { k: number; buf: Buffer }[] = [];
  const rnd = prng(7);
  let cur: AuditEvent[] = [];
  const close = () => {
    if (!cur.length) return;
    const i = keyed.length;
    keyed.push({
      k: parseAuditTime(cur[0]!.requestReceivedTimestamp) + rnd() * 3_600_000,
      buf: pack(['kube.audit', zlib.gzipSync(Buffer.concat(cur.map((e) => pack([now, e])))), { chunk: `c${i}`, compressed: 'gzip', size: cur.length }]),
    });
    total += cur.length;
    cur = [];
  };
  for (const e of simulate({ seed: 21, durationMs })) { cur.push(e); if (cur.length >= chunkEvents) close(); }
  close();
  // shuffled within the horizon, as in the reorder benchmark
  const chunks = keyed.sort((a, b) => a.k - b.k).map((x) => x.buf);
  const backlogBytes = chunks.reduce((n, c) => n + c.length, 0);
  const sink = new CountingSink();
  const normalize = new Normalizer({ maxBytes: maxBuffer, maxPending: 200_000 });
  const cluster = createClusterer({});
  const pipeline = new Pipeline(
    { normalize, label: await createLabeler({ modelDir: resolveModelDir('models/default') }), cluster, sink },
    { flushInterval: 1000, maxInFlight: 200_000, clockQuiet: 2000 },
  );
  const server = new ForwardServer(pipeline, { host: '127.0.0.1', port: 0, hostname: 'kontext-bench', idleTimeout: 600_000 });
  const { port } = await server.listen();
  const baselineRss = process.memoryUsage().rss;
  let peakRss = baselineRss;
  let peakBuffer = 0;
  let atPeak: Record<string, number> = {};
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) {
      atPeak = {
        heapUsedMB: Math.round(m.heapUsed / 2 ** 20), externalMB: Math.round(m.external / 2 ** 20), arrayBuffersMB: Math.round(m.arrayBuffers / 2 ** 20),
        openContexts: cluster.openContexts, retainedContexts: cluster.retainedContexts, clusterPending: cluster.pending,
        normalizeHeld: normalize.pending, normalizeUnstored: normalize.unstored,
      };
    }
    peakRss = Math.max(peakRss, m.rss);
    peakBuffer = Math.max(peakBuffer, normalize.pendingBytes);
  }, 100);
  const t0 = Date.now();
  const socket = await new Promise<net.Socket>((resolve, reject) => { const s = net.connect(port, '127.0.0.1', () => resolve(s)); s.once('error', reject); });
  try {
    let next = 0;
    let acked = 0;
    let inFlight = 0;
    let wake: () => void = () => {};
    const scanner = new FrameScanner();
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const n = scanner.scan(buf, 0, buf.length);
        if (!n) break;
        const f = decode(buf.subarray(0, n), { extensionCodec }) as { ack?: string };
        if (typeof f?.ack === 'string') { acked++; inFlight--; wake(); }
        buf = buf.subarray(n);
      }
    });
    while (acked < chunks.length) {
      while (inFlight < inFlightChunks && next < chunks.length) {
        const c = chunks[next]!;
        next++;
        inFlight++;
        if (!socket.write(c)) await new Promise((r) => socket.once('drain', r));
      }
      await new Promise<void>((r) => { wake = r; setTimeout(r, 500); });
      if (Date.now() - t0 > 1_800_000) throw new Error(`backlog not caught up in 30 min (${acked}/${chunks.length} chunks acked)`);
    }
    await pipeline.flushAll();
  } finally {
    clearInterval(sampler);
    socket.destroy();
    await server.close({ graceMs: 0 });
    await pipeline.stop();
  }
  const seconds = (Date.now() - t0) / 1000;
  const st = normalize.stats();
  return {
    name: 'backlog-memory',
    description: `${durationMs / 60_000}-minute simulated backlog (${total} events, chunks of ${chunkEvents} shuffled within 1 h, ${inFlightChunks} in flight) through the forward input and the pipeline.`,
    metrics: [
      { name: 'peak RSS while catching up', value: Math.round(peakRss / 2 ** 20), unit: 'MB', target: { op: '<=', value: 512 } },
      { name: 'RSS before the backlog (model loaded, backlog compressed in memory)', value: Math.round(baselineRss / 2 ** 20), unit: 'MB' },
      { name: 'peak normalize buffer (estimated)', value: Math.round(peakBuffer / 2 ** 20), unit: 'MB', target: { op: '<=', value: maxBuffer / 2 ** 20 } },
      { name: 'catch-up throughput', value: Math.round(total / seconds), unit: 'events/s' },
      { name: 'events released early by the bound', value: st.forced, unit: 'events' },
      { name: 'late events', value: st.late, unit: 'events' },
      { name: 'events stored', value: sink.members, unit: 'events', target: { op: '>=', value: total } },
    ],
    details: { seconds, normalize: st, compressedBacklogBytes: backlogBytes, atPeak },
  };
}
