/**
 * Arrival-order independence within the reorder horizon (a property test): the same
 * simulated audit log sent through the forward input in order and as random interleavings of
 * its chunks (each chunk displaced by up to 1 h of event time, spread over two connections)
 * gives the same contexts, also when a fifth of the chunks arrive twice (re-sent copies, at
 * random later places). `npm run bench -- --only reorder` measures it on a 10-minute log.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { simulate } from '../src/simulate/index.ts';
import { chunksOf, contextSignature, contextsDiffering, contextsThroughForward, runThroughForward, shuffleWithin } from '../src/bench/reorder.ts';
import { resolveModelDir } from '../src/pipeline/build.ts';
import { quietLogs } from './sources-helpers.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
before(async () => { logs = await quietLogs(); });
after(() => logs.restore());

test('random chunk interleavings within the horizon give the same contexts as the ordered run', async () => {
  const events = [...simulate({ seed: 23, durationMs: 90_000 })];
  const chunks = chunksOf(events, 48);
  // generous wait: the property holds for chunks delivered within the wait of each other, even on a slow machine
  const opts = { normalize: { reorderWait: 5000 }, modelDir: resolveModelDir('models/default') };
  const ordered = contextSignature(await contextsThroughForward(chunks, opts));
  assert.ok(ordered.length > 10, `a meaningful number of contexts (${ordered.length})`);
  const members = ordered.reduce((n, s) => n + s.split(',').length, 0);
  assert.equal(members, events.length, 'every event in exactly one context');
  for (const seed of [1]) {
    const order = shuffleWithin(chunks, 3_600_000, seed);
    assert.notDeepEqual(order, chunks, 'the shuffle changes the order');
    const run = await runThroughForward(order, opts);
    const shuffled = contextSignature(run.docs);
    assert.equal(contextsDiffering(ordered, shuffled), 0, `seed ${seed}: ${contextsDiffering(ordered, shuffled)} of ${ordered.length} contexts differ (late ${run.stats.late}, forced ${run.stats.forced})`);
  }
  // shuffled, and every fifth chunk delivered a second time somewhere after its first copy
  const order = withCopies(shuffleWithin(chunks, 3_600_000, 3), 0.2, 3);
  assert.ok(order.length > chunks.length, 'copies were added');
  const run = await runThroughForward(order, opts);
  const got = contextSignature(run.docs);
  assert.equal(got.reduce((n, s) => n + s.split(',').length, 0), events.length, 'copies are not stored twice');
  assert.ok(run.stats.duplicates > 0, 'normalize saw the copies');
  assert.equal(contextsDiffering(ordered, got), 0, `with copies: ${contextsDiffering(ordered, got)} of ${ordered.length} contexts differ (duplicates ${run.stats.duplicates}, late ${run.stats.late})`);
});

/** `order` with a copy of a `share` of its chunks inserted at random places after the original (seeded). */
function withCopies<T>(order: T[], share: number, seed: number): T[] {
  let x = seed * 2654435761 >>> 0;
  const rnd = () => { x = (x * 1664525 + 1013904223) >>> 0; return x / 2 ** 32; };
  const out = [...order];
  for (let i = 0; i < order.length; i++) {
    if (rnd() >= share) continue;
    const at = out.indexOf(order[i]!) + 1 + Math.floor(rnd() * (out.length - out.indexOf(order[i]!)));
    out.splice(at, 0, order[i]!);
  }
  return out;
}
