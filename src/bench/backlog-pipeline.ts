/**
 * The process the backlog-memory benchmark measures: kontext's pipeline (forward input,
 * normalize, labeler, clusterer) as `serve` builds it, with a sink that settles at once (the
 * store is not what is measured), alone in its own process so its RSS is kontext's and not
 * the sender's. Run by src/bench/backlog-memory.ts:
 *
 *   node --import tsx src/bench/backlog-pipeline.ts <workers> <max-buffer-bytes> <max-in-flight>
 *
 * prints `forward <port>` once listening; on SIGTERM writes everything held, then prints one
 * `stats <json>` line (peak RSS = VmHWM, what was held when RSS peaked, normalize counters).
 */
import { readFileSync } from 'node:fs';
import type { ContextSink, ContextWrite, WriteResult } from '../cluster/types.ts';
import { createClusterer } from '../cluster/index.ts';
import { createLabeler, type PredictFn } from '../label/index.ts';
import { Normalizer } from '../normalize/index.ts';
import { Pipeline } from '../pipeline/pipeline.ts';
import { ModelThread } from '../pipeline/model-thread.ts';
import { resolveModelDir } from '../pipeline/build.ts';
import { ForwardServer } from '../sources/forward/index.ts';

/** settles at once and keeps only counts */
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

function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function main(): Promise<void> {
  const [workersArg, maxBufferArg, maxInFlightArg] = process.argv.slice(2);
  const workers = Number(workersArg ?? 0);
  const maxBuffer = Number(maxBufferArg ?? 256 * 2 ** 20);
  const maxInFlight = Number(maxInFlightArg ?? 200_000);
  const modelDir = resolveModelDir('models/default');
  let thread: ModelThread | undefined;
  const predictor = workers > 0 ? async (local: PredictFn) => { thread = await ModelThread.start({ modelDir, fallback: local }); return thread.predict; } : undefined;
  const label = await createLabeler({ modelDir, predictor });
  const sink = new CountingSink();
  const normalize = new Normalizer({ maxBytes: maxBuffer, maxPending: Math.max(maxInFlight, 1000) });
  const cluster = createClusterer({});
  const pipeline = new Pipeline({ normalize, label, cluster, sink }, { flushInterval: 1000, maxInFlight, clockQuiet: 2000 });
  const server = new ForwardServer(pipeline, { host: '127.0.0.1', port: 0, hostname: 'kontext-bench', idleTimeout: 600_000 });
  const { port } = await server.listen();
  const readyRss = status('VmRSS');
  let peak = readyRss;
  let peakBuffer = 0;
  let atPeak: Record<string, number> = {};
  const sampler = setInterval(() => {
    const rss = status('VmRSS');
    peakBuffer = Math.max(peakBuffer, normalize.pendingBytes);
    if (rss <= peak) return;
    peak = rss;
    const m = process.memoryUsage();
    atPeak = {
      rssMB: Math.round(rss / 2 ** 20), heapTotalMB: Math.round(m.heapTotal / 2 ** 20), heapUsedMB: Math.round(m.heapUsed / 2 ** 20),
      externalMB: Math.round(m.external / 2 ** 20), arrayBuffersMB: Math.round(m.arrayBuffers / 2 ** 20),
      openContexts: cluster.openContexts, retainedContexts: cluster.retainedContexts, clusterPending: cluster.pending,
      labelPending: label.pending, normalizeHeld: normalize.pending, normalizeBytesMB: Math.round(normalize.pendingBytes / 2 ** 20),
    };
  }, 100);
  process.stdout.write(`forward ${port}\n`);
  process.once('SIGTERM', () => {
    void (async () => {
      await pipeline.flushAll();
      clearInterval(sampler);
      await server.close({ graceMs: 0 });
      await pipeline.stop();
      await thread?.close();
      const stats = { workers: thread ? 1 : 0, readyRss, peakRss: status('VmHWM'), peakBuffer, atPeak, members: sink.members, normalize: normalize.stats() };
      process.stdout.write(`stats ${JSON.stringify(stats)}\n`);
      process.exit(0);
    })().catch((e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`); process.exit(1); });
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!)) {
  main().catch((e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`); process.exit(1); });
}
