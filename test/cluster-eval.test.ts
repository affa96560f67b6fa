import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateContexts, formatContextEvaluation } from '../src/eval/contexts.ts';

const m = (o: Record<string, string>) => new Map(Object.entries(o));

test('perfect prediction scores 1', () => {
  const truth = m({ a: 'T1', b: 'T1', c: 'T2', d: 'bg:lease:x', e: 'bg:lease:x' });
  const pred = m({ a: 'P1', b: 'P1', c: 'P2', d: 'P3', e: 'P3' });
  const e = evaluateContexts(pred, truth);
  assert.equal(e.overall.jaccard, 1);
  assert.equal(e.overall.ari, 1);
  assert.equal(e.overall.purity, 1);
  assert.equal(e.trigger.contexts, 2);
  assert.equal(e.background.contexts, 1);
  assert.equal(e.bySize.find((b) => b.bucket === '2-5')!.contexts, 1);
  assert.equal(e.bySize.find((b) => b.bucket === '1')!.contexts, 1);
  assert.equal(e.unassigned, 0);
});

test('known values: merged, split and unassigned', () => {
  // T1 = {a,b,c,d}, T2 = {e,f}; prediction merges f into T1's context and splits d off
  const truth = m({ a: 'T1', b: 'T1', c: 'T1', d: 'T1', e: 'T2', f: 'T2' });
  const pred = m({ a: 'P1', b: 'P1', c: 'P1', f: 'P1', d: 'P2', e: 'P3' });
  const e = evaluateContexts(pred, truth);
  // T1 best match P1: |{a,b,c}| / |{a,b,c,d,f}| = 3/5; T2 best: P1 1/5 or P3 1/2 → 1/2
  assert.equal(e.overall.jaccard, (3 / 5 + 1 / 2) / 2);
  // ARI by hand: sum C(nij,2) = C(3,2) = 3; rows C(4,2)+C(2,2) = 7; cols C(4,2) = 6; n = 6 → C(6,2) = 15
  const exp = (7 * 6) / 15; const ari = (3 - exp) / ((7 + 6) / 2 - exp);
  assert.ok(Math.abs(e.overall.ari - ari) < 1e-12);
  // unassigned events count as singletons
  const e2 = evaluateContexts(m({ a: 'P1' }), m({ a: 'T1', b: 'T1' }));
  assert.equal(e2.unassigned, 1);
  assert.equal(e2.overall.jaccard, 0.5);
  // all in one predicted context vs all singletons: ARI 0
  const e3 = evaluateContexts(m({ a: 'P', b: 'P', c: 'P' }), m({ a: 'A', b: 'B', c: 'C' }));
  assert.equal(e3.overall.ari, 0);
  assert.match(formatContextEvaluation(e), /trigger/);
});
