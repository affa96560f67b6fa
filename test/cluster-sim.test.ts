import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../src/simulate/index.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import { createClusterer } from '../src/cluster/clusterer.ts';
import { oracleLabel, reorder, replay } from '../src/cluster/replay.ts';
import { evaluateContexts, predictionFromContexts, truthFromEvents } from '../src/eval/contexts.ts';

// Interleaved concurrent users (5 users, 40 actions/min) with background noise; oracle labels
// (the simulator's truth) so the clusterer is measured on its own.
const events: AuditEvent[] = [...simulate({ seed: 11, durationMs: 4 * 60_000, actionsPerMinute: 40, users: 5 })];

test('simulated interleaved cascades: contexts match the ground truth', async () => {
  const truth = truthFromEvents(events);
  const docs = await replay(reorder(events.map(oracleLabel)));
  const ev = evaluateContexts(predictionFromContexts(docs.values()), truth);
  assert.equal(ev.unassigned, 0, 'every event is in a context');
  assert.ok(ev.trigger.contexts > 50, `enough actions simulated (${ev.trigger.contexts})`);
  assert.ok(ev.trigger.jaccard >= 0.9, `trigger contexts mean Jaccard ${ev.trigger.jaccard.toFixed(3)}`);
  assert.ok(ev.trigger.ari >= 0.85, `trigger contexts ARI ${ev.trigger.ari.toFixed(3)}`);
  assert.ok(ev.background.purity >= 0.99, `background contexts are pure (${ev.background.purity.toFixed(3)})`);
  for (const b of ev.bySize) if (b.contexts >= 10) assert.ok(b.jaccard >= 0.8, `size ${b.bucket}: Jaccard ${b.jaccard.toFixed(3)}`);
  // the summary names the user's request as the trigger
  const byTruth = new Map(events.map((e) => [e.auditID, e]));
  let triggerOk = 0; let triggerAll = 0;
  for (const d of docs.values()) {
    if (d.label.startsWith('background ')) continue;
    triggerAll++;
    const t = byTruth.get(d.trigger.auditID)!;
    if (t.annotations?.['sim.kontext.io/context'] === t.auditID) triggerOk++;
  }
  assert.ok(triggerOk / triggerAll >= 0.9, `trigger picked right in ${triggerOk}/${triggerAll}`);
});

test('better than the K8NTEXT-style baseline on the same stream', async () => {
  const truth = truthFromEvents(events);
  const ours = evaluateContexts(predictionFromContexts((await replay(reorder(events.map(oracleLabel)))).values()), truth);
  const k8ntext = evaluateContexts(predictionFromContexts((await replay(reorder(events.map(oracleLabel)), {
    idleMs: 300_000, maxAgeMs: 300_000, maxEvents: 1000, threshold: 55, fallbackMs: -1, triggerRule: false, recencyBonus: 0,
    weights: { o: 100, u: 80, n: 60, f: 0, k: 0, a: 50, y: 50, s: 0 },
  })).values()), truth);
  assert.ok(ours.trigger.jaccard > k8ntext.trigger.jaccard, `${ours.trigger.jaccard} > ${k8ntext.trigger.jaccard}`);
  assert.ok(ours.trigger.ari > k8ntext.trigger.ari, `${ours.trigger.ari} > ${k8ntext.trigger.ari}`);
});

test('streaming in small batches with frequent collects gives the same contexts as one pass', async () => {
  const labeled = [...reorder(events.map(oracleLabel))];
  const once = await replay(labeled, { tickMs: 60_000 });
  const cl = createClusterer();
  const docs = new Map<string, unknown>();
  for (let i = 0; i < labeled.length; i += 37) {
    cl.push(labeled.slice(i, i + 37));
    for (const w of cl.collect()) docs.set(w.doc.id, w.doc);
  }
  for (const w of cl.collect(undefined, true)) docs.set(w.doc.id, w.doc);
  const a = predictionFromContexts(once.values());
  const b = predictionFromContexts(docs.values() as Iterable<import('../src/types/context.ts').ContextDoc>);
  let same = 0;
  for (const [id, c] of a) if (b.get(id) === c) same++;
  assert.ok(same / a.size > 0.99, `assignments agree for ${same}/${a.size}`);
  assert.equal(cl.pending, 0);
  assert.equal(cl.openContexts, 0);
});
