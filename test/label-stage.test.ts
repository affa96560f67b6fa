import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadTf } from '../src/label/backend.ts';
import { loadBundle, saveBundle, FEATURE_VERSION } from '../src/label/bundle.ts';
import { createLabeler } from '../src/label/index.ts';
import { buildTrainingModel, SequenceModel } from '../src/label/model.ts';
import { RULES } from '../src/label/rules.ts';
import { Vocab } from '../src/label/vocab.ts';
import { FeatureExtractor } from '../src/label/features.ts';
import { setLogSink } from '../src/util/log.ts';
import type { KEvent, Receipt } from '../src/types/pipeline.ts';
import { deploymentCascade, ev, kev } from './label-helpers.ts';

function stream(n: number): KEvent[] {
  const out: KEvent[] = [];
  for (let i = 0; out.length < n; i++) {
    const t0 = i * 1000;
    for (const a of deploymentCascade(t0, 'ns', `app${i}`)) out.push(kev(a));
    out.push(kev(ev({ t: t0 + 500, verb: 'update', user: 'system:node:w1', ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: 'w1' } })));
  }
  return out.slice(0, n);
}

test('backend: auto falls back to wasm when tfjs-node is missing', async () => {
  const importer = async (s: string) => {
    if (s === '@tensorflow/tfjs-node') throw Object.assign(new Error("Cannot find package '@tensorflow/tfjs-node'"), { code: 'ERR_MODULE_NOT_FOUND' });
    return import(s);
  };
  const { tf, backend } = await loadTf('auto', importer);
  assert.equal(backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  await assert.rejects(loadTf('tensorflow', importer), /tfjs-node/);
});

test('stage: rules only without a model, events in order with receipts kept', async () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  try {
    const stage = await createLabeler({ modelDir: path.join(os.tmpdir(), 'kontext-no-such-model') });
    assert.equal(stage.mode, 'rules-only');
    assert.ok(lines.some((l) => l.includes('"level":"warn"') && l.includes('no labeling model')));
    const receipt: Receipt = { settle() {}, fail() {} };
    const evs = stream(60).map((e) => ({ ...e, receipt }));
    const out = [...await stage.push(evs.slice(0, 25)), ...await stage.push(evs.slice(25)), ...await stage.flush()];
    assert.deepEqual(out.map((e) => e.audit.auditID), evs.map((e) => e.audit.auditID));
    for (const e of out) assert.equal(e.receipt, receipt);
    const lease = out.find((e) => e.audit.objectRef?.resource === 'leases')!;
    assert.equal(lease.labelKey, 'background lease');
    assert.equal(lease.labelSource, 'rule');
    // without a model, cascades are attributed along object links
    assert.ok(out.filter((e) => e.audit.objectRef?.resource !== 'leases').every((e) => e.labelKey === 'create apps/deployments'));
  } finally { setLogSink((l) => process.stderr.write(l + '\n')); }
});

test('stage: a saved model loads and labels every event exactly once, in order, across flushes', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kontext-model-'));
  try {
    const { tf } = await loadTf('wasm');
    const fx = new FeatureExtractor();
    const evs = stream(300);
    const toks = evs.map((e) => fx.extract(e.audit, e.time).tokens);
    const vocab = Vocab.build(toks, ['create apps/deployments', 'background lease', 'delete pods'], 1);
    const layers = buildTrainingModel(tf, { embed: 8, units: [6], dropout: 0 }, vocab.size, vocab.numLabels, 1);
    const model = new SequenceModel(tf, layers);
    await saveBundle(tf, dir, {
      vocab, model,
      config: { version: 1, featureVersion: FEATURE_VERSION, window: 8, stride: 4, architecture: { embed: 8, units: [6], dropout: 0 }, rules: RULES.map((r) => r.name), maxObjects: 1000 },
    });
    const loaded = await loadBundle(tf, dir);
    assert.equal(loaded.vocab.size, vocab.size);
    assert.equal(loaded.model.parameters, model.parameters);
    const stage = await createLabeler({ modelDir: dir, backend: 'wasm' });
    assert.equal(stage.mode, 'model');
    const out = [];
    for (let i = 0; i < evs.length; i += 37) {
      out.push(...await stage.push(evs.slice(i, i + 37)));
      assert.ok(stage.pending <= 8 * 2 + 37, `pending ${stage.pending}`);
      if (i % 111 === 0) out.push(...await stage.flush());
    }
    out.push(...await stage.flush());
    assert.equal(stage.pending, 0);
    assert.deepEqual(out.map((e) => e.audit.auditID), evs.map((e) => e.audit.auditID));
    for (const e of out) {
      assert.ok(vocab.labels.includes(e.labelKey) || e.labelSource === 'rule');
      assert.ok(e.confidence > 0 && e.confidence <= 1 + 1e-6);
    }
    assert.ok(out.some((e) => e.labelSource === 'model'));
    assert.ok(out.filter((e) => e.audit.objectRef?.resource === 'leases').every((e) => e.labelSource === 'rule'));
  } finally { await rm(dir, { recursive: true, force: true }); }
});
