/**
 * The sequence labeler: a BiLSTM over windows of events.
 *
 * Training graph:  multi-hot tokens [B, W, V] → Dense(embed) → Dropout → BiLSTM × n → Dense(C) ┐
 *                  multi-hot tokens [B, W, V] → Dense(C) ("wide": per-token class evidence) ──── + → softmax
 * A Dense layer over a multi-hot input is a sum of embedding rows, and it trains on every
 * backend (the wasm backend has no gradient for Embedding). At inference the two Dense layers
 * are applied in JavaScript as row sums over the event's token ids (once per event, however
 * many windows it is in), and TensorFlow.js only runs the recurrent part, batched over many
 * windows per call.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Tf } from './backend.ts';
import { addRows } from './forward.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type SymbolicTensor = import('@tensorflow/tfjs').SymbolicTensor;
type Tensor = import('@tensorflow/tfjs').Tensor;

export interface Architecture {
  /** width of the event embedding */
  embed: number;
  /** units of each BiLSTM layer (per direction) */
  units: number[];
  dropout: number;
}

/** Training graph with named layers: embed, drop, bilstm0.., deep, wide. */
export function buildTrainingModel(tf: Tf, arch: Architecture, vocabSize: number, classes: number, seed?: number): LayersModel {
  const inp = tf.input({ shape: [null, vocabSize], name: 'tokens' });
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed + s });
  let x = tf.layers.dense({ units: arch.embed, name: 'embed', kernelInitializer: init(1) }).apply(inp) as SymbolicTensor;
  x = tf.layers.dropout({ rate: arch.dropout, name: 'drop', seed }).apply(x) as SymbolicTensor;
  arch.units.forEach((u, i) => {
    x = tf.layers.bidirectional({
      layer: tf.layers.lstm({ units: u, returnSequences: true, kernelInitializer: init(10 + i), recurrentInitializer: init(20 + i) }) as never,
      mergeMode: 'concat', name: `bilstm${i}`,
    }).apply(x) as SymbolicTensor;
  });
  const deep = tf.layers.dense({ units: classes, name: 'deep', kernelInitializer: init(30) }).apply(x) as SymbolicTensor;
  const wide = tf.layers.dense({ units: classes, name: 'wide', kernelInitializer: tf.initializers.zeros() }).apply(inp) as SymbolicTensor;
  const sum = tf.layers.add({ name: 'logits' }).apply([deep, wide]) as SymbolicTensor;
  const out = tf.layers.activation({ activation: 'softmax', name: 'probs' }).apply(sum) as SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out, name: 'kontext_labeler' });
}

/** A trained model ready for fast inference. */
export class SequenceModel {
  readonly embedDim: number;
  readonly classes: number;
  readonly vocabSize: number;
  private embKernel!: Float32Array;
  private embBias!: Float32Array;
  private wideKernel!: Float32Array;
  private wideBias!: Float32Array;
  private readonly tail: LayersModel;

  constructor(private readonly tf: Tf, readonly model: LayersModel) {
    const [ek] = model.getLayer('embed').getWeights();
    const [wk] = model.getLayer('wide').getWeights();
    this.vocabSize = ek!.shape[0]!;
    this.embedDim = ek!.shape[1]!;
    this.classes = wk!.shape[1]!;
    this.refresh();
    // recurrent part only: [B, W, E] and [B, W, C] → probabilities
    const embIn = tf.input({ shape: [null, this.embedDim], name: 'embedded' });
    const wideIn = tf.input({ shape: [null, this.classes], name: 'wide_logits' });
    let x = embIn as SymbolicTensor;
    for (let i = 0; ; i++) {
      let layer;
      try { layer = model.getLayer(`bilstm${i}`); } catch { break; }
      x = layer.apply(x) as SymbolicTensor;
    }
    const deep = model.getLayer('deep').apply(x) as SymbolicTensor;
    const sum = tf.layers.add().apply([deep, wideIn]) as SymbolicTensor;
    const out = tf.layers.activation({ activation: 'softmax' }).apply(sum) as SymbolicTensor;
    this.tail = tf.model({ inputs: [embIn, wideIn], outputs: out });
  }

  get parameters(): number { return this.model.countParams(); }

  /** Re-reads the input projections after the weights changed (training). */
  refresh(): void {
    const [ek, eb] = this.model.getLayer('embed').getWeights();
    const [wk, wb] = this.model.getLayer('wide').getWeights();
    this.embKernel = ek!.dataSync() as Float32Array;
    this.embBias = eb!.dataSync() as Float32Array;
    this.wideKernel = wk!.dataSync() as Float32Array;
    this.wideBias = wb!.dataSync() as Float32Array;
  }

  /** Writes the event's embedding and wide logits (row sums over its token ids) at the given offsets. */
  embed(ids: Int32Array, emb: Float32Array, embOff: number, wide: Float32Array, wideOff: number): void {
    addRows(ids, this.embKernel, this.embBias, emb, embOff);
    addRows(ids, this.wideKernel, this.wideBias, wide, wideOff);
  }

  /** Class probabilities [batch, window, classes] (row-major) for embedded windows. */
  async predict(emb: Float32Array, wide: Float32Array, batch: number, window: number): Promise<Float32Array> {
    const tf = this.tf;
    const y = tf.tidy(() => {
      const e = tf.tensor3d(emb, [batch, window, this.embedDim]);
      const w = tf.tensor3d(wide, [batch, window, this.classes]);
      return this.tail.predict([e, w]) as Tensor;
    });
    try { return (await y.data()) as Float32Array; } finally { y.dispose(); }
  }

  dispose(): void { this.model.dispose(); }

  /** Saves model.json + weights.bin in the TensorFlow.js layers format (no optimizer state). */
  static async save(tf: Tf, model: LayersModel, dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await model.save(tf.io.withSaveHandler(async (a) => {
      const data = a.weightData;
      const buf = Array.isArray(data) ? Buffer.concat(data.map((d) => Buffer.from(d))) : Buffer.from(data as ArrayBuffer);
      const json = {
        format: 'layers-model', generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`, convertedBy: null,
        modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      };
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
      await writeFile(path.join(dir, 'weights.bin'), buf);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: buf.length } };
    }), { includeOptimizer: false });
  }

  /** Loads model.json + its weight files from a directory (no network, no tfjs-node file IO needed). */
  static async loadLayers(tf: Tf, dir: string): Promise<LayersModel> {
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
      modelTopology: object; weightsManifest: { paths: string[]; weights: import('@tensorflow/tfjs').io.WeightsManifestEntry[] }[];
    };
    const specs = json.weightsManifest.flatMap((g) => g.weights);
    const parts: Buffer[] = [];
    for (const g of json.weightsManifest) for (const p of g.paths) parts.push(await readFile(path.join(dir, p)));
    const all = Buffer.concat(parts);
    const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
    return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
  }
}
