/**
 * The label stage ends its windows on event time only: the labels do not depend on how the
 * stream is split into pushes, and an event waits for the rest of its window at most
 * `windowLagMs` of event time (at the limit it still waits, past it it is labeled).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLabeler } from '../src/label/index.ts';
import { WINDOW_LAG_MS } from '../src/label/stage.ts';
import { parseAuditTime } from '../src/normalize/index.ts';
import { simulate } from '../src/simulate/index.ts';
import { prng } from '../src/util/prng.ts';
import type { KEvent, LabeledEvent } from '../src/types/pipeline.ts';

const MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../models/default');

const events: KEvent[] = [...simulate({ seed: 4, durationMs: 90_000 })]
  .map((audit) => ({ audit, time: parseAuditTime(audit.requestReceivedTimestamp) }))
  .sort((a, b) => a.time - b.time);

const labelsOf = (out: LabeledEvent[]) => out.map((e) => `${e.audit.auditID} ${e.labelKey} ${e.confidence.toFixed(6)}`);

test('labels are the same however the stream is split into pushes', async () => {
  const whole = await createLabeler({ modelDir: MODEL });
  const once = labelsOf([...await whole.push(events), ...await whole.flush()]);
  assert.equal(once.length, events.length);
  for (const seed of [1, 2]) {
    const rnd = prng(seed);
    const split = await createLabeler({ modelDir: MODEL });
    const out: LabeledEvent[] = [];
    for (let i = 0; i < events.length;) {
      const n = 1 + Math.floor(rnd() * (seed === 1 ? 3 : 400));
      out.push(...await split.push(events.slice(i, i + n)));
      i += n;
    }
    out.push(...await split.flush());
    const got = labelsOf(out);
    const differing = got.filter((l, i) => l !== once[i]).length;
    assert.equal(differing, 0, `split ${seed}: ${differing} of ${once.length} labels differ`);
  }
});

test('an event waits for its window at most windowLagMs of event time: at the limit it waits, past it it is labeled', async () => {
  for (const past of [false, true]) {
    const stage = await createLabeler({ modelDir: MODEL });
    // push until something is held for its window
    let i = 0;
    while (stage.pending === 0 && i < events.length) await stage.push([events[i++]!]);
    assert.ok(stage.pending > 0, 'a model-labeled event waits for its window');
    const held = events[i - stage.pending]!;
    const at = held.time + WINDOW_LAG_MS + (past ? 1 : 0);
    const out = await stage.advance!(at);
    if (past) {
      assert.ok(out.some((e) => e.audit.auditID === held.audit.auditID), 'past the lag: labeled');
      assert.equal(stage.pending, 0);
    } else {
      assert.equal(out.length, 0, 'at the lag: still waiting');
      assert.ok(stage.pending > 0);
    }
    await stage.flush();
  }
});

test('a newer event past the lag ends the window the same way advance does', async () => {
  const a = await createLabeler({ modelDir: MODEL });
  const b = await createLabeler({ modelDir: MODEL });
  let i = 0;
  const outA: LabeledEvent[] = []; const outB: LabeledEvent[] = [];
  while (a.pending === 0 && i < events.length) { outA.push(...await a.push([events[i]!])); outB.push(...await b.push([events[i]!])); i++; }
  const held = events[i - a.pending]!;
  // a lease renewal (rule-labeled) far past the lag, through push; the same time through advance
  const late = structuredClone(events.find((e) => e.audit.objectRef?.resource === 'leases')!);
  late.time = held.time + WINDOW_LAG_MS + 1;
  outA.push(...await a.push([late]));
  outB.push(...await b.advance!(late.time), ...await b.push([late]));
  assert.deepEqual(labelsOf(outA), labelsOf(outB));
  assert.equal(a.pending, 0);
});
