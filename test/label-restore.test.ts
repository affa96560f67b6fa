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
