/**
 * Pacing independence: the same audit events delivered at different paces — all at once, one
 * chunk at a time or in bursts with pauses longer than the pipeline's idle timeout, chunks
 * shuffled within the reorder horizon, shuffled bursts with pauses between them — through the
 * real pipeline (normalize, the model labeler, the clusterer) give exactly the same contexts,
 * with the same labels and actions.
 *
 * The pauses are real wall time, longer than normalize's reorder wait too, so normalize
 * releases everything it holds at each one. What arrives after that behind what was released
 * is late (a long watch is logged when it ends, minutes after its request time): lateness is
 * normalize's matter (test/normalize-reorder.test.ts), not pacing, so the log here is in
 * request-time order and the shuffles stay within a burst; every run asserts that no event
 * was late. The log is a backlog (event times in 2026-01, far behind the wall clock), so its
 * event time moves only with its events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '../src/types/audit.ts';
import type { ContextDoc } from '../src/types/context.ts';
import { Pipeline } from '../src/pipeline/pipeline.ts';
import { Normalizer, parseAuditTime } from '../src/normalize/index.ts';
import { createLabeler } from '../src/label/index.ts';
import { createClusterer } from '../src/cluster/index.ts';
import { MemorySink } from '../src/store/memory-sink.ts';
import { UnitReceipt } from '../src/sources/receipt.ts';
import { simulate } from '../src/simulate/index.ts';
import { chunksOf, shuffleWithin } from '../src/bench/reorder.ts';
import { prng } from '../src/util/prng.ts';
import { setLogLevel } from '../src/util/log.ts';

setLogLevel('error');

const MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../models/default');
/** wall-clock idle timeout of the pipeline under test (ms); every pause below is longer */
const IDLE = 20;
const REORDER_WAIT = 50;
const PAUSE = 150;

const events = [...simulate({ seed: 3, durationMs: 120_000 })]
  .sort((a, b) => parseAuditTime(a.requestReceivedTimestamp) - parseAuditTime(b.requestReceivedTimestamp));
const chunks = chunksOf(events, 24);

/** a delivery: groups of chunks pushed back to back, with a pause after each group */
type Pacing = AuditEvent[][][];

/** Runs one pacing through a fresh pipeline; returns each context as "label|action|sorted member auditIDs". */
async function contextsOf(pacing: Pacing): Promise<string[]> {
  const sink = new MemorySink();
  const normalize = new Normalizer({ reorderWait: REORDER_WAIT });
  const pipeline = new Pipeline(
    { normalize, label: await createLabeler({ modelDir: MODEL }), cluster: createClusterer({}), sink },
    { flushInterval: IDLE, maxInFlight: 1_000_000, idleRelease: IDLE, inputEndQuiet: 30_000 },
  );
  const receipts: UnitReceipt[] = [];
  try {
    for (const group of pacing) {
      for (const c of group) {
        const r = new UnitReceipt(c.length);
        pipeline.push(structuredClone(c), r);
        receipts.push(r);
      }
      await new Promise((r) => setTimeout(r, PAUSE));
    }
    await pipeline.flushAll();
    await Promise.all(receipts.map((r) => r.done));
  } finally {
    await pipeline.stop();
  }
  assert.equal(normalize.stats().late, 0, 'no event arrived behind what was released');
  return signature(sink.docs.values());
}

function signature(docs: Iterable<ContextDoc>): string[] {
  return [...docs].map((d) => `${d.label}|${d.action}|${d.members.map((m) => m.auditID).sort().join(',')}`).sort();
}

/** consecutive groups of `size` chunks */
function groups<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** groups of random sizes (1..max chunks), seeded */
function randomGroups<T>(xs: T[], max: number, seed: number): T[][] {
  const rnd = prng(seed);
  const out: T[][] = [];
  for (let i = 0; i < xs.length;) {
    const n = 1 + Math.floor(rnd() * max);
    out.push(xs.slice(i, i + n));
    i += n;
  }
  return out;
}

test('the same events at every pacing give the same contexts and labels', { timeout: 600_000 }, async () => {
  assert.ok(events.length > 2000, `a log of some size (${events.length} events)`);
  const baseline = await contextsOf([chunks]);
  assert.ok(baseline.length > 20, `contexts to compare (${baseline.length})`);
  const pacings: Array<[string, Pacing]> = [
    ['one chunk at a time, paused after each', groups(chunks, 1)],
    ['bursts of 8 chunks, paused between', groups(chunks, 8)],
    ['bursts of random size, paused between', randomGroups(chunks, 6, 17)],
    ['shuffled within the horizon, at once', [shuffleWithin(chunks, 3_600_000, 5)]],
    ['bursts each shuffled within itself, paused between', groups(chunks, 10).map((g, i) => shuffleWithin(g, 3_600_000, 40 + i))],
  ];
  for (const [name, pacing] of pacings) {
    assert.equal(pacing.flat().reduce((n, c) => n + c.length, 0), events.length, `${name}: every event sent once`);
    const got = await contextsOf(pacing);
    const missing = baseline.filter((s) => !got.includes(s));
    assert.deepEqual({ name, differing: missing.length, contexts: got.length }, { name, differing: 0, contexts: baseline.length }, `${name}: ${missing.length} of ${baseline.length} contexts differ from the ones delivered at once`);
  }
});
