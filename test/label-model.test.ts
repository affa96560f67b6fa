import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelDirExists } from '../src/label/bundle.ts';
import { evaluateLabeler } from '../src/label/evaluate.ts';

const modelDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../models/default');

test('shipped model: loads and labels a held-out simulated stream accurately', { timeout: 180_000 }, async () => {
  assert.ok(await modelDirExists(modelDir), 'models/default is shipped');
  // seed 9 was never used in training (the shipped model is trained on seed 1)
  const r = await evaluateLabeler({ modelDir, seed: 9, durationMs: 15 * 60_000, backend: 'auto', log: () => {} });
  assert.equal(r.mode, 'model');
  assert.ok(r.metrics.events > 1000);
  // the quality targets (macro-F1 >= 0.95 at every audit level) are tracked by `npm run bench` and
  // `kontext evaluate`; this test guards that the shipped model labels accurately and adds to what
  // the rules and the attribution tracer alone get on the same stream
  // absolute floors, below what the shipped model measures on this stream (accuracy 0.984, macro-F1 0.937)
  assert.ok(r.metrics.accuracy >= 0.97, `accuracy ${r.metrics.accuracy}`);
  assert.ok(r.metrics.macroF1 >= 0.91, `macro-F1 ${r.metrics.macroF1}`);
  const base = await evaluateLabeler({ modelDir: path.join(modelDir, 'missing'), seed: 9, durationMs: 15 * 60_000, backend: 'auto', log: () => {} });
  assert.equal(base.mode, 'rules-only');
  assert.ok(r.metrics.macroF1 >= base.metrics.macroF1 + 0.05, `macro-F1 ${r.metrics.macroF1} vs rules and tracer alone ${base.metrics.macroF1}`);
  assert.ok(r.metrics.bySource.rule!.accuracy >= 0.99, `rule accuracy ${r.metrics.bySource.rule!.accuracy}`);
});
