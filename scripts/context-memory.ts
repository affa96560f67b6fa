/**
 * Memory per open context, for capacity planning (docs/operations.md): a simulated log
 * (seed 19, used by nothing else) is labeled by its ground truth (no model: the labeler's
 * memory does not grow with open contexts) and pushed into the clusterer with idle and age
 * limits so long that nothing closes; the heap retained by the clusterer after a full GC,
 * divided by its open contexts and by the events they hold. Events are generated lazily, so
 * only what the clusterer keeps is on the heap. With --defaults the clusterer runs with its
 * default limits (contexts close after context-idle, closed ones are kept for late events) and
 * is collected after every batch: what it holds in a steady state at the simulated rate.
 *
 *   node --expose-gc --import tsx scripts/context-memory.ts [--minutes 10] [--seed 19] [--policy metadata] [--defaults]
 */
import { parseArgs } from 'node:util';
import { createClusterer } from '../src/cluster/index.ts';
import { oracleLabel } from '../src/cluster/replay.ts';
import { simulate } from '../src/simulate/index.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';

export const CONTEXT_MEMORY_SEED = 19;

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string', default: String(CONTEXT_MEMORY_SEED) }, policy: { type: 'string' }, defaults: { type: 'boolean', default: false } } });
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const settle = () => { for (let i = 0; i < 3; i++) gc(); return process.memoryUsage().heapUsed; };

const minutes = Number(values.minutes);
const seed = Number(values.seed);
const DAY = 86_400_000;
const c = values.defaults ? createClusterer() : createClusterer({ idleMs: DAY, maxAgeMs: DAY, backgroundIdleMs: DAY, backgroundMaxAgeMs: DAY, maxOpen: 10_000_000, maxEvents: 1_000_000 });
let first = Infinity; let last = -Infinity;
const before = settle();
let events = 0;
let batch: LabeledEvent[] = [];
for (const a of simulate({ seed, durationMs: minutes * 60_000, ...(values.policy ? { policy: values.policy } : {}) })) {
  const e = oracleLabel(a);
  if (e.time < first) first = e.time;
  if (e.time > last) last = e.time;
  batch.push(e);
  events++;
  if (batch.length === 512) { c.push(batch); batch = []; if (values.defaults) c.collect(); }
}
c.push(batch); batch = [];
if (values.defaults) c.collect();
const after = settle();
const open = c.openContexts;
const retained = after - before;
const held = values.defaults ? open + c.retainedContexts : open;
const out = {
  seed, minutes, policy: values.policy ?? 'simulator default', mode: values.defaults ? 'default limits, collected' : 'nothing closes',
  events, eventsPerSecond: +(events / ((last - first) / 1000)).toFixed(1), openContexts: open, heldContexts: held,
  eventsPerOpenContext: +(events / open).toFixed(1),
  retainedMB: +(retained / 1048576).toFixed(1),
  bytesPerOpenContext: Math.round(retained / open),
  bytesPerHeldContext: Math.round(retained / held),
  // with nothing closing, every event is held; with the defaults most were written and dropped
  ...(values.defaults ? {} : { bytesPerHeldEvent: Math.round(retained / events) }),
};
process.stdout.write(`${JSON.stringify(out)}\n`);
// keep the clusterer alive until after the measurement
if (c.openContexts < 0) process.exitCode = 1;
