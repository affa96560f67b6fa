/**
 * The labeler's memory across a restart: a labeler restored from a snapshot labels the rest of
 * a stream exactly as one that never stopped; events re-sent after the snapshot are not taken
 * in twice; without the snapshot the labels differ (the test can fail).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../src/simulate/index.ts';
import { StreamingLabeler } from '../src/label/stage.ts';
import { RuleSet, RULES } from '../src/label/rules.ts';
import { parseAuditTime } from '../src/normalize/index.ts';
import type { KEvent } from '../src/types/pipeline.ts';
import { createLabeler } from '../src/label/index.ts';
import { resolveModelDir } from '../src/pipeline/build.ts';

const events: KEvent[] = [...simulate({ seed: 11, durationMs: 300_000, actionsPerMinute: 20 })].map((a) => ({ audit: a, time: parseAuditTime(a.requestReceivedTimestamp) }));
const fresh = () => new StreamingLabeler({ rules: new RuleSet(RULES) });

test('labeler snapshot: the restored labeler continues as if it never stopped; re-sent events are not counted twice', async () => {
  const cut = Math.floor(events.length / 2);
  const whole = fresh();
  const all = [...(await whole.push(events)), ...(await whole.flush())];
  const want = new Map(all.slice(cut).map((e) => [e.audit.auditID, e.labelKey]));

  const a = fresh();
  await a.push(events.slice(0, cut));
  await a.flush();
  const text = a.snapshot();
  // the last 50 events before the snapshot come again (unacknowledged when the process died)
  const resent = events.slice(cut - 50, cut);
  const seen = new Set(resent.map((e) => e.audit.auditID));
  const b = fresh();
  assert.equal(b.restore(text, { covered: (id) => seen.has(id) }), true);
  const got = [...(await b.push([...resent, ...events.slice(cut)])), ...(await b.flush())];
  const differ = got.filter((e) => want.has(e.audit.auditID) && want.get(e.audit.auditID) !== e.labelKey).length;
  assert.equal(differ, 0, `${differ} of ${want.size} labels after the restart differ from the uninterrupted run`);

  const c = fresh();
  const cold = [...(await c.push(events.slice(cut))), ...(await c.flush())];
  const coldDiffer = cold.filter((e) => want.get(e.audit.auditID) !== e.labelKey).length;
  assert.ok(coldDiffer > 0, 'without the snapshot some labels differ');
  assert.equal(fresh().restore('{"broken'), false, 'an unreadable snapshot is refused');
});

test('labeler snapshot with the model: events held in windows or waiting for their decision come back as they were; the window grid continues', async () => {
  const model = () => createLabeler({ modelDir: resolveModelDir('models/default') });
  const whole = await model();
  const all = [...(await whole.push(events)), ...(await whole.flush())];
  const want = new Map(all.map((e) => [e.audit.auditID, e.labelKey]));
  for (const cut of [Math.floor(events.length / 2) + 13]) {
    const a = await model();
    // a quiet moment (a flush) before the cut, then more events: the snapshot holds events in windows and released grid items
    const early = await a.push(events.slice(0, cut - 40));
    early.push(...(await a.flush()));
    early.push(...(await a.push(events.slice(cut - 40, cut))));
    assert.ok(a.pending > 0, 'the labeler holds events at the snapshot');
    const text = a.snapshot();
    const out = new Set(early.map((e) => e.audit.auditID));
    const covered = new Set(early.slice(-30).map((e) => e.audit.auditID));
    const b = await model();
    assert.equal(b.restore(text, { covered: (id) => covered.has(id) }), true);
    // re-sent: the last emitted ones (covered) and everything not emitted, then the rest of the stream
    const resend = events.slice(0, cut).filter((e) => covered.has(e.audit.auditID) || !out.has(e.audit.auditID));
    const got = [...(await b.push([...resend, ...events.slice(cut)])), ...(await b.flush())].filter((e) => !covered.has(e.audit.auditID));
    const wantAfter = [...want].filter(([id]) => !out.has(id));
    assert.equal(got.length, wantAfter.length);
    // the whole run flushed only at its end; the interrupted one flushed before the cut too, so compare with a run that did the same
    const same = await model();
    const ref = [...(await same.push(events.slice(0, cut - 40))), ...(await same.flush()), ...(await same.push(events.slice(cut - 40))), ...(await same.flush())];
    const refLabel = new Map(ref.map((e) => [e.audit.auditID, e.labelKey]));
    const differ = got.filter((e) => refLabel.get(e.audit.auditID) !== e.labelKey).length;
    assert.equal(differ, 0, `cut ${cut}: ${differ} of ${got.length} labels after the restart differ from the uninterrupted run`);
  }
});
