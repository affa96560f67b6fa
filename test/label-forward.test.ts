import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadTf } from '../src/label/backend.ts';
import { loadBundle, loadRuntimeBundle } from '../src/label/bundle.ts';
import { simulatedEvents } from '../src/label/data.ts';
import { ForwardModel } from '../src/label/forward.ts';
import { rulesFor } from '../src/label/index.ts';
import { buildTrainingModel, SequenceModel } from '../src/label/model.ts';
import { Preprocessor } from '../src/label/prepare.ts';
import { resolveModelDir } from '../src/pipeline/build.ts';
import type { LabelModel } from '../src/label/bundle.ts';

const MODEL = resolveModelDir('models/default');

/** embeds `ids` (one per event) into the model's buffers and scores windows [start, start+len) */
function windows(m: LabelModel, ids: Int32Array[], starts: number[], len: number) {
  const E = m.embedDim; const C = m.classes;
  const emb = new Float32Array(starts.length * len * E); const wide = new Float32Array(starts.length * len * C);
  starts.forEach((s, b) => { for (let j = 0; j < len; j++) m.embed(ids[s + j]!, emb, (b * len + j) * E, wide, (b * len + j) * C); });
  return m.predict(emb, wide, starts.length, len);
}

async function compare(tfModel: LabelModel, js: LabelModel, ids: Int32Array[], len: number, count: number, batch: number) {
  let maxDiff = 0; let argmaxDiffers = 0; let rows = 0;
  const C = js.classes;
  for (let s0 = 0; s0 < count; s0 += batch) {
    const starts: number[] = [];
    for (let s = s0; s < Math.min(count, s0 + batch); s++) starts.push(s);
    const a = await windows(tfModel, ids, starts, len);
    const b = await windows(js, ids, starts, len);
    assert.equal(a.length, b.length);
    for (let r = 0; r < a.length / C; r++, rows++) {
      let ia = 0; let ib = 0;
      for (let c = 0; c < C; c++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[r * C + c]! - b[r * C + c]!));
        if (a[r * C + c]! > a[r * C + ia]!) ia = c;
        if (b[r * C + c]! > b[r * C + ib]!) ib = c;
      }
      if (ia !== ib) argmaxDiffers++;
    }
  }
  return { maxDiff, argmaxDiffers, rows };
}

test('forward pass: equals TensorFlow.js on the shipped model (thousands of windows of simulated events, seed 3)', async (t) => {
  const { tf } = await loadTf('wasm');
  const ref = await loadBundle(tf, MODEL);
  const js = await loadRuntimeBundle(MODEL);
  assert.equal(js.model.classes, ref.model.classes);
  assert.equal(js.model.vocabSize, ref.model.vocabSize);
  const pre = new Preprocessor(rulesFor(ref), ref.config.maxObjects);
  const ids: Int32Array[] = [];
  for (const ev of await simulatedEvents({ seed: 3, durationMs: 8 * 60_000 })) {
    const p = pre.prepare(ev.audit, ev.time);
    if (p.kind === 'model') ids.push(ref.vocab.encode(p.features.tokens));
  }
  const W = ref.config.window;
  assert.ok(ids.length > 3000 + W, `only ${ids.length} model events`);
  // 3000 overlapping full windows in batches of 256, and short (flush) windows
  const full = await compare(ref.model, js.model, ids, W, 3000, 256);
  assert.equal(full.rows, 3000 * W);
  t.diagnostic(`${full.rows} event rows of 3000 windows: max abs diff ${full.maxDiff.toExponential(2)}, argmax differs ${full.argmaxDiffers}`);
  assert.ok(full.maxDiff <= 1e-4, `max abs diff ${full.maxDiff}`);
  assert.equal(full.argmaxDiffers, 0);
  for (const len of [1, 7]) {
    const short = await compare(ref.model, js.model, ids, len, 100, 33);
    assert.ok(short.maxDiff <= 1e-4, `window ${len}: max abs diff ${short.maxDiff}`);
    assert.equal(short.argmaxDiffers, 0);
  }
  ref.model.dispose();
});

test('forward pass: equals TensorFlow.js on a two-layer BiLSTM with random weights', async () => {
  const { tf } = await loadTf('wasm');
  const arch = { embed: 8, units: [5, 3], dropout: 0 };
  const V = 40; const C = 6;
  const layers = buildTrainingModel(tf, arch, V, C, 7);
  // non-zero wide weights and biases, so every term is exercised
  layers.setWeights(layers.getWeights().map((w, i) => tf.randomUniform(w.shape, -0.8, 0.8, 'float32', 100 + i)));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kontext-forward-'));
  try {
    await SequenceModel.save(tf, layers, dir);
    const ref = new SequenceModel(tf, layers);
    const js = await ForwardModel.load(dir);
    assert.equal(js.parameters, ref.parameters);
    let seed = 5;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const ids = Array.from({ length: 300 }, () => Int32Array.from(new Set(Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => Math.floor(rnd() * V)))).sort());
    const r = await compare(ref, js, ids, 20, 200, 64);
    assert.ok(r.maxDiff <= 1e-4, `max abs diff ${r.maxDiff}`);
    assert.equal(r.argmaxDiffers, 0);
  } finally { await rm(dir, { recursive: true, force: true }); layers.dispose(); }
});

test('forward pass: refuses a graph it does not implement', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kontext-forward-'));
  try {
    const json = JSON.parse(await readFile(path.join(MODEL, 'model.json'), 'utf8'));
    const l = json.modelTopology.config.layers.find((x: { name: string }) => x.name === 'bilstm0');
    l.config.layer.config.recurrent_activation = 'sigmoid';
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await copyFile(path.join(MODEL, 'weights.bin'), path.join(dir, 'weights.bin'));
    await assert.rejects(ForwardModel.load(dir), /not the BiLSTM of model\.ts/);
    await writeFile(path.join(dir, 'weights.bin'), Buffer.alloc(100));
    l.config.layer.config.recurrent_activation = 'hard_sigmoid';
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await assert.rejects(ForwardModel.load(dir), /shorter than/);
  } finally { await rm(dir, { recursive: true, force: true }); }
});
