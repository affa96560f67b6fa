import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTf } from '../src/label/backend.ts';
import { buildTrainingModel, SequenceModel } from '../src/label/model.ts';
import { warmStart } from '../src/label/train.ts';
import { Vocab } from '../src/label/vocab.ts';
import type { ModelBundle } from '../src/label/bundle.ts';

const arch = { embed: 4, units: [3], dropout: 0 };

test('warm start: shared tokens and classes keep the earlier model\'s weights, new ones start fresh, the recurrent layers are copied', async () => {
  const { tf } = await loadTf('cpu');
  const oldVocab = new Vocab({ version: 1, tokens: ['verb=?', 'verb=get', 'res=?', 'res=pods'], labels: ['<self>', 'get pods', 'background lease'] });
  const newVocab = new Vocab({ version: 1, tokens: ['res=?', 'res=pods', 'res=nodes', 'verb=?', 'verb=get'], labels: ['<self>', 'create pods', 'get pods'] });
  const old = buildTrainingModel(tf, arch, oldVocab.size, oldVocab.numLabels, 1);
  // give the earlier wide path distinct values (it starts at zeros)
  const [wk, wb] = old.getLayer('wide').getWeights();
  old.getLayer('wide').setWeights([tf.tensor(Array.from({ length: wk!.size }, (_, i) => i + 1), wk!.shape), tf.tensor([10, 20, 30], wb!.shape)]);
  const init: ModelBundle = { vocab: oldVocab, model: new SequenceModel(tf, old), config: {} as ModelBundle['config'] };
  const fresh = buildTrainingModel(tf, arch, newVocab.size, newVocab.numLabels, 7);
  const before = fresh.getLayer('embed').getWeights()[0]!.arraySync() as number[][];
  const kept = warmStart(tf, fresh, newVocab, init);
  assert.deepEqual(kept, { tokens: 4, labels: 2 });

  const oe = old.getLayer('embed').getWeights()[0]!.arraySync() as number[][];
  const ne = fresh.getLayer('embed').getWeights()[0]!.arraySync() as number[][];
  assert.deepEqual(ne[1], oe[3], 'res=pods row follows its token');
  assert.deepEqual(ne[4], oe[1], 'verb=get row follows its token');
  assert.deepEqual(ne[2], before[2], 'res=nodes (new) keeps its fresh row');
  assert.notDeepEqual(ne[2], oe[0]);

  const nw = fresh.getLayer('wide').getWeights().map((w) => w.arraySync()) as [number[][], number[]];
  const ow = old.getLayer('wide').getWeights().map((w) => w.arraySync()) as [number[][], number[]];
  assert.equal(nw[0][1]![2], ow[0][3]![1], 'wide: (res=pods, get pods) from the earlier model');
  assert.equal(nw[0][1]![0], ow[0][3]![0], 'wide: (res=pods, <self>)');
  assert.equal(nw[0][1]![1], 0, 'wide: the new class create pods starts at zero');
  assert.equal(nw[0][2]![2], 0, 'wide: the new token res=nodes starts at zero');
  assert.deepEqual(nw[1], [10, 0, 20], 'wide bias by class');

  const od = old.getLayer('deep').getWeights().map((w) => w.arraySync()) as [number[][], number[]];
  const nd = fresh.getLayer('deep').getWeights().map((w) => w.arraySync()) as [number[][], number[]];
  assert.deepEqual(nd[0].map((r) => r[2]), od[0].map((r) => r[1]), 'deep: the get pods column moves to its new place');
  const ol = old.getLayer('bilstm0').getWeights().map((w) => w.arraySync());
  const nl = fresh.getLayer('bilstm0').getWeights().map((w) => w.arraySync());
  assert.deepEqual(nl, ol);

  const wider = buildTrainingModel(tf, { ...arch, units: [5] }, newVocab.size, newVocab.numLabels, 7);
  assert.throws(() => warmStart(tf, wider, newVocab, init), /architectures differ/);
});
