/**
 * Arrival-order independence: the same simulated audit log fed through the forward input in
 * order and with its chunks shuffled within the reorder horizon (the way Fluent Bit's output
 * workers and retries deliver a backlog) must give the same contexts. Measured for the
 * current settings and for the former ones (2 s of event-time lateness, no wait).
 */
import type { AuditEvent } from '../types/audit.ts';
import type { ContextDoc } from '../types/context.ts';
import { createClusterer, type ClustererOptions } from '../cluster/index.ts';
import { createLabeler } from '../label/index.ts';
import { Normalizer, parseAuditTime, type NormalizeOptions, type NormalizeStats } from '../normalize/index.ts';
import { Pipeline } from '../pipeline/pipeline.ts';
import { ForwardServer } from '../sources/forward/index.ts';
import { simulate } from '../simulate/index.ts';
import { prng } from '../util/prng.ts';
import { encode } from '@msgpack/msgpack';
import { extensionCodec } from '../sources/forward/protocol.ts';
import { FrameScanner } from '../sources/forward/msgpack.ts';
import { decode } from '@msgpack/msgpack';
import net from 'node:net';
import type { BenchOptions, BenchResult } from './types.ts';
import { resolveModelDir } from '../pipeline/build.ts';
import { MemorySink } from '../store/memory-sink.ts';


/** Chunks of `size` events in log order. */
export function chunksOf(events: readonly AuditEvent[], size: number): AuditEvent[][] {
  const out: AuditEvent[][] = [];
  for (let i = 0; i < events.length; i += size) out.push(events.slice(i, i + size));
  return out;
}

/** Chunk order with each chunk displaced by less than `horizonMs` of event time (seeded). */
export function shuffleWithin(chunks: AuditEvent[][], horizonMs: number, seed: number): AuditEvent[][] {
  const rnd = prng(seed);
  const keyed = chunks.map((c) => ({ c, k: parseAuditTime(c[0]!.requestReceivedTimestamp) + rnd() * horizonMs }));
  keyed.sort((a, b) => a.k - b.k);
  return keyed.map((x) => x.c);
}

/** Member sets of the stored contexts, as sorted strings. */
export function contextSignature(docs: Iterable<ContextDoc>): string[] {
  return [...docs].map((d) => d.members.map((m) => m.auditID).sort().join(',')).sort();
}

/** Contexts of `a` that are not in `b` (same member set). */
export function contextsDiffering(a: readonly string[], b: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const s of b) counts.set(s, (counts.get(s) ?? 0) + 1);
  let diff = 0;
  for (const s of a) {
    const n = counts.get(s) ?? 0;
    if (n > 0) counts.set(s, n - 1); else diff++;
  }
  return diff;
}

export interface ForwardRunOptions {
  normalize?: NormalizeOptions;
  cluster?: ClustererOptions;
  modelDir?: string;
  /** forward connections the chunks are spread over, round-robin (default 2) */
  connections?: number;
  /** wait for this long (ms) for all acks (default 120 s) */
  timeoutMs?: number;
}

/** Sends the chunks, in the given order, through a real forward input into a pipeline; returns the contexts. */
export async function contextsThroughForward(chunks: AuditEvent[][], opts: ForwardRunOptions = {}): Promise<ContextDoc[]> {
  return (await runThroughForward(chunks, opts)).docs;
}

/** Same, with normalize's counters (late / forced events) of the run. */
export async function runThroughForward(chunks: AuditEvent[][], opts: ForwardRunOptions = {}): Promise<{ docs: ContextDoc[]; stats: NormalizeStats }> {
  const sink = new MemorySink();
  const label = await createLabeler({ modelDir: opts.modelDir });
  const normalize = new Normalizer({ maxPending: 1_000_000, ...opts.normalize });
  const pipeline = new Pipeline(
    { normalize, label, cluster: createClusterer({ ...opts.cluster }), sink },
    { flushInterval: 200, maxInFlight: 1_000_000, clockQuiet: Math.max(200, opts.normalize?.reorderWait ?? 2000) },
  );
  const server = new ForwardServer(pipeline, { host: '127.0.0.1', port: 0, hostname: 'kontext-bench', idleTimeout: 600_000 });
  const { port } = await server.listen();
  const acks = new Set<string>();
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < (opts.connections ?? 2); i++) {
      const s = await new Promise<net.Socket>((resolve, reject) => { const c = net.connect(port, '127.0.0.1', () => resolve(c)); c.once('error', reject); });
      const scanner = new FrameScanner();
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const n = scanner.scan(buf, 0, buf.length);
          if (!n) break;
          const f = decode(buf.subarray(0, n), { extensionCodec }) as { ack?: string };
          if (typeof f?.ack === 'string') acks.add(f.ack);
          buf = buf.subarray(n);
        }
      });
      s.on('error', () => {});
      sockets.push(s);
    }
    const now = Math.floor(Date.now() / 1000);
    chunks.forEach((c, i) => {
      const u = encode(['kube.audit', c.map((e) => [now, e]), { chunk: `c${i}` }], { extensionCodec });
      sockets[i % sockets.length]!.write(Buffer.from(u.buffer, u.byteOffset, u.byteLength));
    });
    const end = Date.now() + (opts.timeoutMs ?? 120_000);
    while (acks.size < chunks.length) {
      if (Date.now() > end) throw new Error(`only ${acks.size} of ${chunks.length} chunks acked`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await pipeline.flushAll();
  } finally {
    for (const s of sockets) s.destroy();
    await server.close({ graceMs: 0 });
    await pipeline.stop();
  }
  return { docs: [...sink.docs.values()], stats: normalize.stats() };
}

/** the settings before the reorder horizon: 2 s of event-time lateness, released at once */
export const FORMER_ORDERING: NormalizeOptions = { reorderHorizon: 2000, reorderWait: 0 };

export async function run(o: BenchOptions): Promise<BenchResult> {
  const durationMs = o.quick ? 60_000 : 600_000;
  const events = [...simulate({ seed: 11, durationMs })];
  const chunks = chunksOf(events, 64);
  const horizon = 3_600_000;
  const shuffles = o.quick ? 1 : 3;
  const modelDir = resolveModelDir('models/default');
  const metrics: BenchResult['metrics'] = [];
  const details: Record<string, unknown> = { events: events.length, chunks: chunks.length, chunkEvents: 64, shuffles };
  for (const [name, normalize] of [['former', FORMER_ORDERING], ['current', {}]] as const) {
    o.log(`reorder: ${name} settings, ordered run`);
    const ordered = contextSignature(await contextsThroughForward(chunks, { normalize, modelDir }));
    let worst = 0;
    for (let s = 0; s < shuffles; s++) {
      o.log(`reorder: ${name} settings, shuffle ${s + 1}/${shuffles}`);
      const shuffled = contextSignature(await contextsThroughForward(shuffleWithin(chunks, horizon, 100 + s), { normalize, modelDir }));
      worst = Math.max(worst, contextsDiffering(ordered, shuffled));
      details[`${name}-shuffle-${s}-contexts`] = shuffled.length;
    }
    details[`${name}-ordered-contexts`] = ordered.length;
    metrics.push({ name: `${name}: contexts differing, shuffled vs ordered (worst of ${shuffles})`, value: worst, unit: 'contexts', ...(name === 'current' ? { target: { op: '<=', value: 0 } as const } : {}) });
    metrics.push({ name: `${name}: contexts of the ordered run`, value: ordered.length, unit: 'contexts' });
  }
  return {
    name: 'reorder',
    description: `${durationMs / 60_000}-minute simulated log (${events.length} events) through the forward input, chunks of 64 in order vs shuffled within 1 h of event time.`,
    metrics, details,
  };
}
