import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeMetrics, formatMetrics } from '../src/label/metrics.ts';
import { inEventTimeOrder, timeBoundaries } from '../src/label/data.ts';
import { ev } from './label-helpers.ts';

test('metrics: macro-F1 over all and trigger labels, confusions, size buckets', () => {
  const rows = [
    ...Array.from({ length: 4 }, () => ({ truth: 'create pods', pred: 'create pods', context: 'a', source: 'model' as const })),
    { truth: 'create pods', pred: 'delete pods', context: 'a', source: 'model' as const },
    { truth: 'delete pods', pred: 'delete pods', context: 'b', source: 'model' as const },
    { truth: 'background lease', pred: 'background lease', context: 'bg', source: 'rule' as const },
  ];
  const m = computeMetrics(rows);
  assert.equal(m.events, 7);
  assert.equal(m.labels, 3);
  assert.equal(m.triggerLabels, 2);
  const cp = m.perLabel.find((l) => l.label === 'create pods')!;
  assert.equal(cp.recall, 0.8);
  assert.equal(cp.precision, 1);
  const dp = m.perLabel.find((l) => l.label === 'delete pods')!;
  assert.equal(dp.precision, 0.5);
  assert.ok(Math.abs(m.macroF1Trigger - (cp.f1 + dp.f1) / 2) < 1e-4);
  assert.ok(Math.abs(m.macroF1 - (cp.f1 + dp.f1 + 1) / 3) < 1e-4);
  assert.deepEqual(m.topConfusions, [{ truth: 'create pods', pred: 'delete pods', count: 1 }]);
  assert.deepEqual(m.bySize.map((b) => b.events), [2, 5, 0, 0, 0, 0]); // contexts b, bg have 1 event; a has 5
  assert.match(formatMetrics(m), /macro-F1 all labels/);
});

test('data: time-contiguous boundaries and event-time ordering within the lateness window', () => {
  const b = timeBoundaries({ from: 0, to: 100 }, [0.7, 0.1, 0.2]);
  assert.deepEqual(b.map(([x, y]) => [x, y]), [[-Infinity, 70], [70, 80], [80, Infinity]]);
  const mk = (ms: number) => ev({ t: ms, verb: 'get', user: 'a', ref: { resource: 'pods', namespace: 'x', name: 'p' } });
  const out = [...inEventTimeOrder([mk(10), mk(5), mk(3000), mk(2500), mk(8000)], 2000)].map((e) => e.time - Date.UTC(2026, 0, 1));
  assert.deepEqual(out.map(Math.floor), [5, 10, 2500, 3000, 8000]);
});
