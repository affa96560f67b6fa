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

/** Saves an untrained model (random weights) whose vocabulary covers the events' tokens. */
async function saveRandomModel(dir: string, evs: KEvent[], labels: string[], spec: { window: number; stride: number; embed: number; units: number }) {
  const { tf } = await loadTf('wasm');
  const fx = new FeatureExtractor();
  const vocab = Vocab.build(evs.map((e) => fx.extract(e.audit, e.time).tokens), labels, 1);
  const architecture = { embed: spec.embed, units: [spec.units], dropout: 0 };
  const model = new SequenceModel(tf, buildTrainingModel(tf, architecture, vocab.size, vocab.numLabels, 1));
  await saveBundle(tf, dir, {
    vocab, model,
    config: { version: 1, featureVersion: FEATURE_VERSION, window: spec.window, stride: spec.stride, architecture, rules: RULES.map((r) => r.name), maxObjects: 1000 },
  });
  return { tf, vocab, model };
}

test('stage: a saved model loads and labels every event exactly once, in order, across flushes', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kontext-model-'));
  try {
    const evs = stream(300);
    const { tf, vocab, model } = await saveRandomModel(dir, evs, ['create apps/deployments', 'background lease', 'delete pods'], { window: 8, stride: 4, embed: 8, units: 6 });
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

test('stage: a person\'s read waits for the change it may lead to (or for the session gap to pass)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kontext-model-'));
  try {
    await saveRandomModel(dir, stream(40), ['create apps/deployments', 'background lease', '<unext>'], { window: 1, stride: 1, embed: 4, units: 3 });
    const stage = await createLabeler({ modelDir: dir, backend: 'wasm' });
    const read = kev(ev({ t: 10_000, verb: 'get', user: 'bob', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' }, code: 404 }));
    assert.deepEqual(await stage.push([read]), [], 'held: the change may still come');
    const change = kev(ev({ t: 10_012, verb: 'create', user: 'bob', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' } }));
    const out = await stage.push([change]);
    assert.deepEqual(out.map((e) => e.audit.auditID), [read.audit.auditID, change.audit.auditID]);
    const lone = kev(ev({ t: 20_000, verb: 'get', user: 'bob', ref: { resource: 'pods', namespace: 'shop', name: 'p' } }));
    assert.deepEqual(await stage.push([lone]), []);
    const other = kev(ev({ t: 20_500, verb: 'patch', user: 'system:node:w1', ref: { resource: 'pods', namespace: 'shop', name: 'q', subresource: 'status' } }));
    assert.deepEqual((await stage.push([other])).map((e) => e.audit.auditID), [lone.audit.auditID, other.audit.auditID], 'released once the session gap passed');
    const last = kev(ev({ t: 30_000, verb: 'get', user: 'bob', ref: { resource: 'pods', namespace: 'shop', name: 'p' } }));
    assert.deepEqual(await stage.push([last]), []);
    assert.deepEqual((await stage.flush()).map((e) => e.audit.auditID), [last.audit.auditID], 'flush decides');
  } finally { await rm(dir, { recursive: true, force: true }); }
});
