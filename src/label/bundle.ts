/**
 * A model directory: model.json + weights.bin (TensorFlow.js layers format), vocab.json
 * (feature tokens and label classes), config.json (window, stride, architecture, rules in
 * force), metrics.json (evaluation of this model), README.md (how to reproduce it).
 */
import { access, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Tf } from './backend.ts';
import { ForwardModel } from './forward.ts';
import { SequenceModel, type Architecture } from './model.ts';
import { Vocab } from './vocab.ts';
import { ATTRIBUTION, paramsHash, type AttributionParams } from '../k8s/params.ts';

/** Feature extraction version: the extractor's own version plus the hash of the attribution parameters it uses. */
export const FEATURE_VERSION = `3+${paramsHash()}`;

export interface LabelerConfig {
  version: 1;
  featureVersion: string;
  /** the attribution parameters the features were extracted with (their hash is in featureVersion) */
  attribution?: AttributionParams;
  window: number;
  stride: number;
  architecture: Architecture;
  /** inference rules applied before the model (names from rules.ts) */
  rules: string[];
  /** objects remembered for relational features */
  maxObjects: number;
  /** how the model was trained (informational) */
  training?: Record<string, unknown>;
}

/**
 * What the label stage needs of a model: per event, a row sum over its token ids (`embed`,
 * `embedDim` floats plus `classes` wide logits); per batch of windows, class probabilities.
 * Implemented by the plain-JS forward pass (forward.ts, the runtime) and by the TensorFlow.js
 * model (model.ts, training and the lab).
 */
export interface LabelModel {
  readonly vocabSize: number;
  readonly classes: number;
  /** floats embed() writes per event */
  readonly embedDim: number;
  readonly parameters: number;
  embed(ids: Int32Array, emb: Float32Array, embOff: number, wide: Float32Array, wideOff: number): void;
  /** probabilities [batch, window, classes], row-major */
  predict(emb: Float32Array, wide: Float32Array, batch: number, window: number): Float32Array | Promise<Float32Array>;
}

export interface ModelBundle<M extends LabelModel = SequenceModel> {
  config: LabelerConfig;
  vocab: Vocab;
  model: M;
}

export async function modelDirExists(dir: string): Promise<boolean> {
  try { await access(path.join(dir, 'model.json')); return true; } catch { return false; }
}

async function loadWith<M extends LabelModel>(dir: string, load: () => Promise<M>): Promise<ModelBundle<M>> {
  const read = async (f: string) => {
    try { return JSON.parse(await readFile(path.join(dir, f), 'utf8')) as unknown; }
    catch (e) { throw new Error(`model ${dir}: cannot read ${f}: ${e instanceof Error ? e.message : String(e)}`); }
  };
  const config = await read('config.json') as LabelerConfig;
  if (config.version !== 1 || !config.window || !config.stride) throw new Error(`model ${dir}: config.json is not a kontext labeler config`);
  if (config.featureVersion !== FEATURE_VERSION) throw new Error(`model ${dir}: trained with feature version ${config.featureVersion}, this kontext extracts version ${FEATURE_VERSION} (attribution parameters ${JSON.stringify(ATTRIBUTION)}); retrain it (kontext train)`);
  const vocab = Vocab.fromJSON(await read('vocab.json'));
  const model = await load();
  if (model.vocabSize !== vocab.size || model.classes !== vocab.numLabels) {
    throw new Error(`model ${dir}: model shape (${model.vocabSize} tokens, ${model.classes} labels) does not match vocab.json (${vocab.size}, ${vocab.numLabels})`);
  }
  return { config, vocab, model };
}

/** The bundle with its TensorFlow.js model (training, the lab). */
export async function loadBundle(tf: Tf, dir: string): Promise<ModelBundle> {
  return loadWith(dir, async () => new SequenceModel(tf, await SequenceModel.loadLayers(tf, dir)));
}

/** The bundle with the plain-JS forward pass (the runtime label stage: no TensorFlow.js). */
export async function loadRuntimeBundle(dir: string): Promise<ModelBundle<ForwardModel>> {
  return loadWith(dir, () => ForwardModel.load(dir));
}

export async function saveBundle(tf: Tf, dir: string, b: ModelBundle): Promise<void> {
  await mkdir(dir, { recursive: true });
  await SequenceModel.save(tf, b.model.model, dir);
  await writeFile(path.join(dir, 'vocab.json'), JSON.stringify(b.vocab.toJSON()) + '\n');
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(b.config, null, 2) + '\n');
}
