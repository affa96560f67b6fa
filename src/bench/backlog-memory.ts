/**
 * Memory while catching up a backlog: a simulated 1-hour audit log (3 minutes with --quick)
 * sent through the forward input the way Fluent Bit delivers a backlog — gzip-compressed
 * chunks shuffled within the reorder horizon, a bounded number in flight, the next sent only
 * after an ack — into kontext's pipeline (normalize, labeler, clusterer; a sink that settles
 * at once) running alone in a child process (backlog-pipeline.ts), so the peak RSS (VmHWM)
 * is kontext's own, not the sender's or the simulator's. Run with `--workers 0` and
 * `--workers 1` (the model's inference on a worker thread), alternated in the same run.
 * The child runs with the image's memory settings (src/pipeline/runtime-memory.ts).
 * Reported: peak RSS against the 512 MB target, what was held when it peaked, the normalize
 * buffer's peak estimated bytes against `max-buffer`, and what the bound cost (events
 * released early, late).
 */
import zlib from 'node:zlib';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encode } from '@msgpack/msgpack';
import type { BenchOptions, BenchResult } from './types.ts';
import { extensionCodec } from '../sources/forward/protocol.ts';
import { simulate } from '../simulate/index.ts';
import { parseAuditTime } from '../normalize/index.ts';
import { prng } from '../util/prng.ts';
import type { AuditEvent } from '../types/audit.ts';
import { replay, startChild, stopChild } from './e2e.ts';
import { withRuntimeMemory } from '../pipeline/runtime-memory.ts';

export const BACKLOG_SEED = 21;
const MAX_BUFFER = 256 * 2 ** 20;
const MAX_IN_FLIGHT = 200_000;
const CHUNK_EVENTS = 256;
const IN_FLIGHT_CHUNKS = 32;

interface ChildStats {
  workers: number; readyRss: number; peakRss: number; peakBuffer: number; members: number;
  atPeak: Record<string, number>;
  normalize: { late: number; forced: number; released: number };
}

/** chunk k is `c<k>` (what replay() expects), in the shuffled order they are sent */
export function backlogChunks(events: Iterable<AuditEvent>, seed = 7): { chunks: Buffer[]; events: number } {
  const now = Math.floor(Date.now() / 1000);
  const pack = (v: unknown) => { const u = encode(v, { extensionCodec }); return Buffer.from(u.buffer, u.byteOffset, u.byteLength); };
  const rnd = prng(seed);
  const keyed: { k: number; body: Buffer; n: number }[] = [];
  let cur: AuditEvent[] = [];
  let total = 0;
  const close = () => {
    if (!cur.length) return;
    keyed.push({ k: parseAuditTime(cur[0]!.requestReceivedTimestamp) + rnd() * 3_600_000, body: zlib.gzipSync(Buffer.concat(cur.map((e) => pack([now, e])))), n: cur.length });
    total += cur.length;
    cur = [];
  };
  for (const e of events) { cur.push(e); if (cur.length >= CHUNK_EVENTS) close(); }
  close();
  // shuffled within the horizon, as in the reorder benchmark
  keyed.sort((a, b) => a.k - b.k);
  return { chunks: keyed.map((x, i) => pack(['kube.audit', x.body, { chunk: `c${i}`, compressed: 'gzip', size: x.n }])), events: total };
}

/** the measured process runs compiled JavaScript as `kontext serve` does (dist/), or under tsx from a source run */
function childModule(): string[] {
  const js = fileURLToPath(new URL('./backlog-pipeline.js', import.meta.url));
  return import.meta.url.endsWith('.js') && existsSync(js) ? [js] : ['--import', 'tsx', 'src/bench/backlog-pipeline.ts'];
}

export async function run(o: BenchOptions): Promise<BenchResult> {
  const durationMs = o.quick ? 180_000 : 3_600_000;
  o.log(`simulating ${durationMs / 60_000} minutes (seed ${BACKLOG_SEED})`);
  const { chunks, events: total } = backlogChunks(simulate({ seed: BACKLOG_SEED, durationMs }));
  const backlogBytes = chunks.reduce((n, c) => n + c.length, 0);
  const runs: Array<ChildStats & { seconds: number; duplicateAcks: number }> = [];
  for (const workers of [0, 1]) {
    // the memory settings the image runs with (Dockerfile), so the peak is what ships
    const c = await startChild([...childModule(), String(workers), String(MAX_BUFFER), String(MAX_IN_FLIGHT)], withRuntimeMemory(), /forward (\d+)/);
    try {
      const r = await replay(c.port, chunks, IN_FLIGHT_CHUNKS, 1_800_000);
      const exited = new Promise<void>((res) => c.proc.once('exit', () => res()));
      c.proc.kill('SIGTERM');
      await exited;
      const line = c.stdout().split('\n').find((l) => l.startsWith('stats '));
      if (!line) throw new Error(`backlog child printed no stats: ${c.stderr.join('').slice(-1500)}`);
      const st = JSON.parse(line.slice(6)) as ChildStats;
      runs.push({ ...st, seconds: r.seconds, duplicateAcks: r.duplicateAcks + r.unknownAcks });
      o.log(`--workers ${workers}: peak RSS ${Math.round(st.peakRss / 2 ** 20)} MB (ready ${Math.round(st.readyRss / 2 ** 20)} MB), ${Math.round(total / r.seconds)} events/s, at peak ${JSON.stringify(st.atPeak)}`);
    } finally { await stopChild(c); }
  }
  const [w0, w1] = runs as [typeof runs[0], typeof runs[0]];
  const mb = (b: number) => Math.round(b / 2 ** 20);
  const table = ['| --workers | peak RSS MB | RSS ready MB | heap used at peak MB | heap total at peak MB | external at peak MB | open / retained contexts at peak | normalize held at peak | events/s | late | released early |', '|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${r.workers} | ${mb(r.peakRss)} | ${mb(r.readyRss)} | ${r.atPeak.heapUsedMB ?? ''} | ${r.atPeak.heapTotalMB ?? ''} | ${r.atPeak.externalMB ?? ''} | ${r.atPeak.openContexts ?? ''} / ${r.atPeak.retainedContexts ?? ''} | ${r.atPeak.normalizeHeld ?? ''} | ${Math.round(total / r.seconds)} | ${r.normalize.late} | ${r.normalize.forced} |`)];
  return {
    name: 'backlog-memory',
    description: `${durationMs / 60_000}-minute simulated backlog (${total} events, seed ${BACKLOG_SEED}, gzip chunks of ${CHUNK_EVENTS} shuffled within 1 h, ${IN_FLIGHT_CHUNKS} in flight) through the forward input into kontext's pipeline in its own process (max-buffer ${mb(MAX_BUFFER)} MiB, max-in-flight ${MAX_IN_FLIGHT}); peak RSS = VmHWM of that process (the sender and the simulator are not in it). Both --workers settings (default 1, and 0).`,
    metrics: [
      { name: 'peak RSS while catching up', value: mb(w1.peakRss), unit: 'MB', target: { op: '<=', value: 512 } },
      { name: 'peak RSS while catching up, --workers 0', value: mb(w0.peakRss), unit: 'MB', target: { op: '<=', value: 512 } },
      { name: 'RSS before the backlog (model loaded)', value: mb(w1.readyRss), unit: 'MB' },
      { name: 'peak normalize buffer (estimated)', value: mb(Math.max(w0.peakBuffer, w1.peakBuffer)), unit: 'MB', target: { op: '<=', value: mb(MAX_BUFFER) } },
      { name: 'catch-up throughput', value: Math.round(total / w1.seconds), unit: 'events/s' },
      { name: 'catch-up throughput, --workers 0', value: Math.round(total / w0.seconds), unit: 'events/s' },
      { name: 'events released early by the bound', value: Math.max(w0.normalize.forced, w1.normalize.forced), unit: 'events' },
      { name: 'late events', value: w1.normalize.late, unit: 'events' },
      { name: 'events stored', value: Math.min(w0.members, w1.members), unit: 'events', target: { op: '>=', value: total } },
      { name: 'acks duplicate or unknown', value: w0.duplicateAcks + w1.duplicateAcks, unit: 'acks', target: { op: '<=', value: 0 } },
    ],
    markdown: table.join('\n'),
    details: { compressedBacklogBytes: backlogBytes, runs },
  };
}
