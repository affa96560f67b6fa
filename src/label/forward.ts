/**
 * Inference of the shipped labeler in plain JavaScript (Float32Array weights, no tensors, no
 * TensorFlow.js): reads model.json + weights.bin of the layers format and runs the graph of
 * model.ts (Dense embed → BiLSTM × n → Dense deep, plus the Dense "wide" over the tokens,
 * softmax) on batches of windows.
 *
 * Per event, once: the first BiLSTM layer's input projection folded with the embedding,
 * i.e. a row sum over the event's token ids of (embed kernel · LSTM kernel), both directions,
 * and the wide logits. Per window: the recurrences and the output layer only.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LabelModel } from './bundle.ts';

interface LayerJson { name: string; class_name: string; config: Record<string, unknown> & { layer?: { class_name: string; config: Record<string, unknown> } } }
interface WeightSpec { name: string; shape: number[]; dtype: string }
interface ModelJson {
  format?: string;
  modelTopology: { config: { layers: LayerJson[] } };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

/** One BiLSTM layer: per direction an input kernel [in, 4U], a recurrent kernel [U, 4U] and a bias [4U]; gates i, f, c, o. */
interface Recurrent { units: number; input: number; kernel: [Float32Array, Float32Array]; recurrent: [Float32Array, Float32Array]; bias: [Float32Array, Float32Array] }

/** out[off, off + width) = bias + the rows `ids` of `table` ([rows, width], width = bias.length): a Dense layer over multi-hot input */
export function addRows(ids: Int32Array, table: Float32Array, bias: Float32Array, out: Float32Array, off: number): void {
  const W = bias.length;
  out.set(bias, off);
  for (let k = 0; k < ids.length; k++) {
    const r = ids[k]! * W;
    for (let j = 0; j < W; j++) out[off + j]! += table[r + j]!;
  }
}

/** tfjs-layers' hard_sigmoid: clip(0.2·x + 0.5, 0, 1) */
function hardSigmoid(x: number): number {
  const y = 0.2 * x + 0.5;
  return y <= 0 ? 0 : y >= 1 ? 1 : y;
}

/** Reads the weights of a layers-format model directory by name. */
async function readWeights(dir: string, json: ModelJson): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const parts: Buffer[] = [];
  for (const g of json.weightsManifest) for (const p of g.paths) parts.push(await readFile(path.join(dir, p)));
  const all = Buffer.concat(parts);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  let off = 0;
  for (const spec of json.weightsManifest.flatMap((g) => g.weights)) {
    if (spec.dtype !== 'float32') throw new Error(`model ${dir}: weight ${spec.name} has dtype ${spec.dtype}, only float32 is supported`);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (off + n * 4 > all.length) throw new Error(`model ${dir}: weights.bin is shorter than model.json's manifest`);
    // copy into an aligned buffer (a Buffer's offset need not be a multiple of 4)
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(all.subarray(off, off + n * 4));
    out.set(spec.name, { shape: spec.shape, data });
    off += n * 4;
  }
  return out;
}

export class ForwardModel implements LabelModel {
  readonly vocabSize: number;
  readonly classes: number;
  /** width of what embed() writes per event: the first layer's input projection, both directions */
  readonly embedDim: number;
  readonly parameters: number;
  /** embed kernel · first-layer kernel, per token: [V, 2·4U] (forward gates, then backward) */
  private readonly tokenProj: Float32Array;
  /** embed bias · first-layer kernel + first-layer bias: [2·4U] */
  private readonly projBias: Float32Array;
  private readonly wideKernel: Float32Array;
  private readonly wideBias: Float32Array;
  private readonly layers: Recurrent[];
  private readonly deepKernel: Float32Array;
  private readonly deepBias: Float32Array;
  // scratch, grown on demand
  private h = new Float64Array(0);
  private c = new Float64Array(0);
  private z = new Float64Array(0);
  private seqA = new Float32Array(0);
  private seqB = new Float32Array(0);
  private proj = new Float32Array(0);

  private constructor(w: Map<string, { shape: number[]; data: Float32Array }>, layers: Recurrent[], embed: number) {
    const get = (n: string) => { const x = w.get(n); if (!x) throw new Error(`model: weight ${n} missing`); return x; };
    const ek = get('embed/kernel'); const eb = get('embed/bias');
    const wk = get('wide/kernel'); const wb = get('wide/bias');
    const dk = get('deep/kernel'); const db = get('deep/bias');
    this.vocabSize = ek.shape[0]!;
    this.classes = wk.shape[1]!;
    this.wideKernel = wk.data; this.wideBias = wb.data;
    this.deepKernel = dk.data; this.deepBias = db.data;
    this.layers = layers;
    this.parameters = [...w.values()].reduce((a, x) => a + x.data.length, 0);
    const first = layers[0]!;
    const G = 4 * first.units;
    this.embedDim = 2 * G;
    const V = this.vocabSize; const E = embed;
    this.tokenProj = new Float32Array(V * 2 * G);
    this.projBias = new Float32Array(2 * G);
    const acc = new Float64Array(G);
    for (let d = 0; d < 2; d++) {
      const K = first.kernel[d]!;
      for (let v = 0; v <= V; v++) {
        // v === V: the bias row
        const row = v < V ? ek.data.subarray(v * E, v * E + E) : eb.data;
        acc.fill(0);
        for (let e = 0; e < E; e++) {
          const x = row[e]!;
          if (x === 0) continue;
          const kr = e * G;
          for (let g = 0; g < G; g++) acc[g]! += x * K[kr + g]!;
        }
        if (v < V) this.tokenProj.set(acc, v * 2 * G + d * G);
        else for (let g = 0; g < G; g++) this.projBias[d * G + g] = acc[g]! + first.bias[d]![g]!;
      }
    }
  }

  /** Loads model.json + weights.bin; refuses a graph other than model.ts's. */
  static async load(dir: string): Promise<ForwardModel> {
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as ModelJson;
    const layers = json.modelTopology?.config?.layers;
    if (!Array.isArray(layers)) throw new Error(`model ${dir}: model.json has no layers topology`);
    const w = await readWeights(dir, json);
    const byName = new Map(layers.map((l) => [l.name, l]));
    const embedLayer = byName.get('embed');
    if (embedLayer?.class_name !== 'Dense' || (embedLayer.config.activation ?? 'linear') !== 'linear') throw new Error(`model ${dir}: layer "embed" must be a linear Dense layer`);
    for (const n of ['deep', 'wide']) {
      const l = byName.get(n);
      if (l?.class_name !== 'Dense' || (l.config.activation ?? 'linear') !== 'linear') throw new Error(`model ${dir}: layer "${n}" must be a linear Dense layer`);
    }
    const rec: Recurrent[] = [];
    let input = w.get('embed/kernel')?.shape[1] ?? 0;
    for (let i = 0; byName.has(`bilstm${i}`); i++) {
      const l = byName.get(`bilstm${i}`)!;
      const cell = l.config.layer;
      const c = cell?.config ?? {};
      if (l.class_name !== 'Bidirectional' || cell?.class_name !== 'LSTM' || l.config.merge_mode !== 'concat'
        || c.activation !== 'tanh' || c.recurrent_activation !== 'hard_sigmoid' || c.use_bias === false || c.return_sequences !== true || c.go_backwards === true) {
        throw new Error(`model ${dir}: layer bilstm${i} is not the BiLSTM of model.ts (concat, tanh, hard_sigmoid, with bias, sequences)`);
      }
      const units = Number(c.units);
      const pick = (dirName: 'forward' | 'backward', part: string) => {
        const key = [...w.keys()].find((k) => k.startsWith(`bilstm${i}/${dirName}_`) && k.endsWith(`/${part}`));
        if (!key) throw new Error(`model ${dir}: weight bilstm${i}/${dirName}_*/${part} missing`);
        return w.get(key)!;
      };
      const k = [pick('forward', 'kernel'), pick('backward', 'kernel')] as const;
      if (k[0].shape[0] !== input || k[0].shape[1] !== 4 * units) throw new Error(`model ${dir}: bilstm${i} kernel shape ${k[0].shape} does not fit input ${input} × units ${units}`);
      rec.push({
        units, input,
        kernel: [k[0].data, k[1].data],
        recurrent: [pick('forward', 'recurrent_kernel').data, pick('backward', 'recurrent_kernel').data],
        bias: [pick('forward', 'bias').data, pick('backward', 'bias').data],
      });
      input = 2 * units;
    }
    if (!rec.length) throw new Error(`model ${dir}: no bilstm0 layer`);
    return new ForwardModel(w, rec, w.get('embed/kernel')!.shape[1]!);
  }

  /** Writes the event's folded input projection and wide logits (row sums over its token ids) at the given offsets. */
  embed(ids: Int32Array, emb: Float32Array, embOff: number, wide: Float32Array, wideOff: number): void {
    addRows(ids, this.tokenProj, this.projBias, emb, embOff);
    addRows(ids, this.wideKernel, this.wideBias, wide, wideOff);
  }

  /** Class probabilities [batch, window, classes] (row-major) for embedded windows. */
  predict(emb: Float32Array, wide: Float32Array, batch: number, window: number): Float32Array {
    const C = this.classes; const T = window;
    const out = new Float32Array(batch * T * C);
    let maxU = 0; for (const l of this.layers) maxU = Math.max(maxU, l.units);
    if (this.h.length < maxU) { this.h = new Float64Array(maxU); this.c = new Float64Array(maxU); this.z = new Float64Array(4 * maxU); }
    const seqLen = T * 2 * maxU;
    if (this.seqA.length < seqLen) { this.seqA = new Float32Array(seqLen); this.seqB = new Float32Array(seqLen); }
    const logits = new Float64Array(C);
    for (let b = 0; b < batch; b++) {
      let seq = this.seqA; let other = this.seqB;
      for (let li = 0; li < this.layers.length; li++) {
        const l = this.layers[li]!;
        const G = 4 * l.units;
        // input projections [T, 2·4U]: folded per event for the first layer, from the previous layer's output otherwise
        let proj: Float32Array; let pOff: number;
        if (li === 0) { proj = emb; pOff = b * T * 2 * G; }
        else { proj = this.project(l, seq, T); pOff = 0; }
        this.recur(l, proj, pOff, T, other);
        const t = seq; seq = other; other = t;
      }
      // output layer: deep(h) + wide, softmax
      const H = 2 * this.layers[this.layers.length - 1]!.units;
      const dk = this.deepKernel; const db = this.deepBias;
      for (let t = 0; t < T; t++) {
        const row = (b * T + t) * C;
        for (let c = 0; c < C; c++) logits[c] = db[c]! + wide[row + c]!;
        const hOff = t * H;
        for (let k = 0; k < H; k++) {
          const x = seq[hOff + k]!;
          if (x === 0) continue;
          const kr = k * C;
          for (let c = 0; c < C; c++) logits[c]! += x * dk[kr + c]!;
        }
        let max = -Infinity;
        for (let c = 0; c < C; c++) if (logits[c]! > max) max = logits[c]!;
        let sum = 0;
        for (let c = 0; c < C; c++) { const e = Math.exp(logits[c]! - max); logits[c] = e; sum += e; }
        for (let c = 0; c < C; c++) out[row + c] = logits[c]! / sum;
      }
    }
    return out;
  }

  /** input projections of a layer after the first: [T, 2·4U] from the previous layer's [T, in] */
  private project(l: Recurrent, seq: Float32Array, T: number): Float32Array {
    const G = 4 * l.units; const I = l.input;
    if (this.proj.length < T * 2 * G) this.proj = new Float32Array(T * 2 * G);
    const p = this.proj;
    for (let t = 0; t < T; t++) {
      for (let d = 0; d < 2; d++) {
        const K = l.kernel[d]!; const bias = l.bias[d]!; const o = t * 2 * G + d * G;
        for (let g = 0; g < G; g++) p[o + g] = bias[g]!;
        for (let i = 0; i < I; i++) {
          const x = seq[t * I + i]!;
          if (x === 0) continue;
          const kr = i * G;
          for (let g = 0; g < G; g++) p[o + g]! += x * K[kr + g]!;
        }
      }
    }
    return p;
  }

  /** Both directions of one BiLSTM layer over a window; writes [T, 2U] (forward, then backward units) into `out`. */
  private recur(l: Recurrent, proj: Float32Array, pOff: number, T: number, out: Float32Array): void {
    const U = l.units; const G = 4 * U; const H = 2 * U;
    const h = this.h; const c = this.c; const z = this.z;
    for (let d = 0; d < 2; d++) {
      const R = l.recurrent[d]!;
      h.fill(0, 0, U); c.fill(0, 0, U);
      for (let s = 0; s < T; s++) {
        const t = d === 0 ? s : T - 1 - s;
        const po = pOff + t * 2 * G + d * G;
        for (let g = 0; g < G; g++) z[g] = proj[po + g]!;
        for (let k = 0; k < U; k++) {
          const x = h[k]!;
          if (x === 0) continue;
          const rr = k * G;
          for (let g = 0; g < G; g++) z[g]! += x * R[rr + g]!;
        }
        const o = t * H + d * U;
        for (let u = 0; u < U; u++) {
          const ig = hardSigmoid(z[u]!);
          const fg = hardSigmoid(z[U + u]!);
          const cg = Math.tanh(z[2 * U + u]!);
          const og = hardSigmoid(z[3 * U + u]!);
          const cu = fg * c[u]! + ig * cg;
          c[u] = cu;
          const hu = og * Math.tanh(cu);
          h[u] = hu;
          out[o + u] = hu;
        }
      }
    }
  }
}
