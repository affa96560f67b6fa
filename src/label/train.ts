/**
 * Training: simulated (or given) audit logs → rules pruned by their measured precision →
 * features → vocabulary → BiLSTM trained on windows of the first part of the stream (by
 * time), early-stopped on the next part, evaluated by streaming the whole log through the
 * real label stage and scoring the last part. Splits are time-contiguous: no window of the
 * validation or test time range is ever trained on.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KEvent, LabeledEvent, LabelStage } from '../types/pipeline.ts';
import { Progress } from '../util/progress.ts';
import { loadTf, type BackendChoice, type Tf } from './backend.ts';
import { FEATURE_VERSION, loadBundle, saveBundle, type LabelerConfig, type ModelBundle } from './bundle.ts';
import { arraySource, concatSources, SIM_START, simulatedSource, timeBoundaries, truthOf, type EventSource, type Truth } from './data.ts';
import { computeMetrics, type LabelMetrics, type Scored } from './metrics.ts';
import { buildTrainingModel, SequenceModel, type Architecture } from './model.ts';
import { Preprocessor } from './prepare.ts';
import { RULES, RuleSet } from './rules.ts';
import { decide, StreamingLabeler } from './stage.ts';
import { Vocab } from './vocab.ts';
import { Windower, type Voted } from './windows.ts';
import { POINTERS, pointerClass, targetClass, type EventFeatures } from './features.ts';
import { prng } from '../util/prng.ts';
import { ATTRIBUTION } from '../k8s/params.ts';
import { TRAINING_POLICIES } from '../simulate/index.ts';

export interface TrainOptions {
  out: string;
  seed: number;
  /** simulated time span of the data */
  durationMs: number;
  /** audit policies the simulated traffic is logged under, in turns of `policyBlockMs` (every split sees every policy) */
  policies: string[];
  policyBlockMs: number;
  /** use these events instead of simulating (tests, --input, a recorded corpus) */
  events?: KEvent[];
  /**
   * simulated seeds to train on as well as `events` (each `durationMs` long, logged under
   * `policies`, one after another, all before the given events); the split shares then cut the
   * given events only, so validation and test are theirs and all simulated traffic trains
   */
  seeds?: number[];
  epochs: number;
  patience: number;
  window: number;
  stride: number;
  units: number[];
  embed: number;
  dropout: number;
  batchSize: number;
  learningRate: number;
  backend: BackendChoice;
  /** stop training after this long (then keep the best epoch so far) */
  maxMinutes: number;
  /** train / validation / test shares of simulated time */
  splits: [number, number, number];
  /** minimum precision (on the training part) for a rule to stay in force */
  rulePrecision: number;
  minTokenCount: number;
  maxObjects: number;
  /** start from this model's weights (same architecture; tokens and classes it lacks start fresh) instead of a fresh initialization */
  initFrom?: string;
  /** stop an epoch after this many batches (tests) */
  maxBatchesPerEpoch?: number;
  log: (msg: string) => void;
  /** command line that reproduces the run (written to metrics.json) */
  command?: string;
}

export const TRAIN_DEFAULTS: Omit<TrainOptions, 'out' | 'log'> = {
  seed: 1, durationMs: 3 * 3_600_000, policies: [...TRAINING_POLICIES], policyBlockMs: 5 * 60_000, epochs: 12, patience: 3, window: 32, stride: 32, units: [32], embed: 48,
  dropout: 0.1, batchSize: 32, learningRate: 0.004, backend: 'auto', maxMinutes: 18, splits: [0.7, 0.1, 0.2],
  rulePrecision: 0.995, minTokenCount: 2, maxObjects: 50_000,
};

/** simulated time between the traffic of two seeds (relational state of one never reaches the next) */
const SEED_GAP_MS = 3_600_000;

export interface RuleStats { matched: number; correct: number; precision: number; kept: boolean }

export interface TrainResult {
  dir: string;
  bundle: ModelBundle;
  metrics: TrainMetrics;
}

export interface TrainMetrics {
  command?: string;
  backend: string;
  data: { source: string; seed?: number; seeds?: number[]; durationMs?: number; policies?: string[]; events: number; modelEvents: number; splits: Record<string, { events: number; modelEvents: number; from: string | null; to: string | null }> };
  rules: Record<string, RuleStats>;
  model: { window: number; stride: number; architecture: Architecture; parameters: number; tokens: number; labels: number };
  training: { epochs: number; bestEpoch: number; seconds: number; history: { epoch: number; loss: number; valMacroF1: number; valAccuracy: number; seconds: number }[] };
  /** streaming label stage on the test time range (last part of the log) */
  test: LabelMetrics;
  /** the same test events, labeled by rules plus the link heuristic only (no model) */
  baselineRulesOnly: Pick<LabelMetrics, 'accuracy' | 'macroF1' | 'macroF1Trigger'>;
}


function truthAt(e: KEvent, i: number): Truth {
  const t = truthOf(e.audit);
  if (!t) throw new Error(`event #${i} (${e.audit.auditID}) has no ground truth annotations (sim.kontext.io/label, sim.kontext.io/context)`);
  return t;
}

/** Precision of each rule on the events before `until` (event time); rules below `minPrecision` are dropped. */
export function pruneRules(events: Iterable<KEvent>, until: number, minPrecision: number): { rules: RuleSet; stats: Record<string, RuleStats>; events: number } {
  const all = new RuleSet(RULES);
  const stats: Record<string, RuleStats> = Object.fromEntries(RULES.map((r) => [r.name, { matched: 0, correct: 0, precision: 1, kept: true }]));
  let i = 0;
  for (const e of events) {
    const truth = truthAt(e, i++);
    if (e.time >= until) continue;
    const m = all.match(e.audit);
    if (!m) continue;
    const s = stats[m.rule.name]!;
    s.matched++;
    if (truth.label === `background ${m.kind}`) s.correct++;
  }
  for (const s of Object.values(stats)) {
    s.precision = s.matched ? Math.round((s.correct / s.matched) * 1e4) / 1e4 : 1;
    s.kept = s.matched === 0 || s.correct / s.matched >= minPrecision;
  }
  return { rules: new RuleSet(RULES.filter((r) => stats[r.name]!.kept)), stats, events: i };
}

/**
 * Starts a fresh training model from an earlier model of the same architecture whose vocabulary
 * may differ: the recurrent layers are copied whole, the embedding and wide rows of the feature
 * tokens both vocabularies hold and the output columns of the classes both hold are copied; new
 * tokens and classes keep their fresh initialization.
 */
export function warmStart(tf: Tf, model: import('@tensorflow/tfjs').LayersModel, vocab: Vocab, init: ModelBundle): { tokens: number; labels: number } {
  const oldTok = new Map(init.vocab.tokens.map((t, i) => [t, i]));
  const oldLab = new Map(init.vocab.labels.map((l, i) => [l, i]));
  const tok = vocab.tokens.map((t) => oldTok.get(t) ?? -1);
  const lab = vocab.labels.map((l) => oldLab.get(l) ?? -1);
  const src = init.model.model;
  const arrays = (ws: import('@tensorflow/tfjs').Tensor[]) => ws.map((w) => ({ data: w.dataSync() as Float32Array, shape: w.shape as number[] }));
  for (const layer of model.layers) {
    const fresh = layer.getWeights();
    if (!fresh.length) continue;
    let from;
    try { from = arrays(src.getLayer(layer.name).getWeights()); } catch { throw new Error(`--init: the model has no layer ${layer.name}; the architectures differ`); }
    const to = arrays(fresh).map((a) => ({ data: Float32Array.from(a.data), shape: a.shape }));
    if (from.length !== to.length) throw new Error(`--init: layer ${layer.name} differs`);
    to.forEach((w, k) => {
      const o = from[k]!;
      if (layer.name === 'embed' && w.shape.length === 2) { // [V, E]: rows by token
        const E = w.shape[1]!;
        tok.forEach((r, i) => { if (r >= 0) w.data.set(o.data.subarray(r * E, (r + 1) * E), i * E); });
      } else if ((layer.name === 'wide' || layer.name === 'deep') && w.shape.length === 2) { // [V | 2U, C]: columns by class, wide rows by token
        const C = w.shape[1]!; const Co = o.shape[1]!;
        for (let i = 0; i < w.shape[0]!; i++) {
          const r = layer.name === 'wide' ? tok[i]! : i;
          if (r < 0) continue;
          lab.forEach((c, j) => { if (c >= 0) w.data[i * C + j] = o.data[r * Co + c]!; });
        }
      } else if ((layer.name === 'wide' || layer.name === 'deep') && w.shape.length === 1) { // bias [C]
        lab.forEach((c, j) => { if (c >= 0) w.data[j] = o.data[c]!; });
      } else {
        if (w.shape.join() !== o.shape.join()) throw new Error(`--init: layer ${layer.name} has shape ${o.shape} where this model has ${w.shape}; the architectures differ`);
        w.data.set(o.data);
      }
    });
    layer.setWeights(to.map((w) => tf.tensor(w.data, w.shape)));
  }
  return { tokens: tok.filter((r) => r >= 0).length, labels: lab.filter((c) => c >= 0).length };
}

/** Labels a residual sequence with grid windows + flush, exactly as the live stage does. */
export async function scoreSequence(model: SequenceModel, ids: readonly Int32Array[], window: number, stride: number, maxBatch = 256): Promise<Voted<number>[]> {
  const E = model.embedDim; const C = model.classes;
  const w = new Windower<number>(window, stride, C);
  const emb = new Float32Array(ids.length * E); const wide = new Float32Array(ids.length * C);
  ids.forEach((x, i) => model.embed(x, emb, i * E, wide, i * C));
  const out: Voted<number>[] = new Array(ids.length);
  for (let i = 0; i < ids.length; i++) w.push(i);
  const specs = [...w.takeReady(), ...w.takeFlush()];
  const byLen = new Map<number, typeof specs>();
  for (const s of specs) byLen.set(s.length, [...(byLen.get(s.length) ?? []), s]);
  for (const [len, group] of byLen) {
    for (let i = 0; i < group.length; i += maxBatch) {
      const chunk = group.slice(i, i + maxBatch);
      const be = new Float32Array(chunk.length * len * E); const bw = new Float32Array(chunk.length * len * C);
      chunk.forEach((s, k) => {
        be.set(emb.subarray(s.start * E, (s.start + len) * E), k * len * E);
        bw.set(wide.subarray(s.start * C, (s.start + len) * C), k * len * C);
      });
      const probs = await model.predict(be, bw, chunk.length, len);
      chunk.forEach((s, k) => w.vote(s, probs, k * len * C));
    }
  }
  for (const v of w.release()) out[v.item] = v;
  return out;
}

/** Streams events through a label stage in chunks (like a busy input), calling `each` per labeled event in order. */
export async function streamThrough(stage: LabelStage, events: Iterable<KEvent>, each: (e: LabeledEvent) => void, chunk = 2000): Promise<number> {
  let buf: KEvent[] = []; let n = 0; let out = 0;
  const emit = (xs: LabeledEvent[]) => { for (const x of xs) { each(x); out++; } };
  for (const e of events) {
    buf.push(e); n++;
    if (buf.length >= chunk) { emit(await stage.push(buf)); buf = []; }
  }
  emit(await stage.push(buf));
  emit(await stage.flush());
  if (out !== n) throw new Error(`label stage returned ${out} events for ${n}`);
  return n;
}

export function contextSizes(truth: readonly Truth[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of truth) m.set(t.context, (m.get(t.context) ?? 0) + 1);
  return m;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const started = Date.now();
  const { tf, backend } = await loadTf(opts.backend);
  const log = opts.log;
  const simulated = (seed: number, k: number) => simulatedSource({ seed, durationMs: opts.durationMs, policies: opts.policies, policyBlockMs: opts.policyBlockMs, start: SIM_START + k * (opts.durationMs + SEED_GAP_MS) });
  let source: EventSource; let bounds: [number, number][];
  if (opts.events && opts.seeds?.length) {
    const given = arraySource(opts.events, 'the given events');
    source = concatSources([...(await Promise.all(opts.seeds.map(simulated))), given]);
    bounds = timeBoundaries(given.span(), opts.splits);
  } else {
    source = opts.events ? arraySource(opts.events) : await simulated(opts.seed, 0);
    bounds = timeBoundaries(source.span(), opts.splits);
  }
  const partOf = (t: number) => bounds.findIndex(([a, b]) => t >= a && t < b);
  log(`data: ${source.describe}; time-contiguous splits ${opts.splits.join('/')} (train/validation/test)`);

  // pass 1: rule precision on the training time range
  const { rules, stats: ruleStats, events: total } = pruneRules(source.events(), bounds[0]![1], opts.rulePrecision);
  if (total < 100) throw new Error(`too little data to train on: ${total} events`);
  for (const [name, s] of Object.entries(ruleStats)) log(`rule ${name}: ${s.matched} matched, precision ${s.precision}${s.kept ? '' : ' → dropped'}`);

  // pass 2: features of every event the model will see, in stream order (relational state
  // carries over split boundaries as it would in a live stream); tokens get provisional ids
  const pre = new Preprocessor(rules, opts.maxObjects);
  const prov = new Map<string, number>(); const provTokens: string[] = []; const trainCount: number[] = [];
  const resIds: Int32Array[] = []; const resLabel: string[] = []; const resTarget: string[] = []; const resPart: number[] = [];
  const resCand: EventFeatures['candidates'][] = [];
  const partEvents = [0, 0, 0];
  let i = 0; let lastPart = 0;
  const bar = new Progress({ label: 'features', total, unit: 'events' });
  for (const e of source.events()) {
    const truth = truthAt(e, i++);
    const part = lastPart = Math.max(lastPart, partOf(e.time)); // a late event stays in the current part
    partEvents[part]!++;
    const p = pre.prepare(e.audit, e.time);
    bar.tick();
    if (p.kind !== 'model') continue;
    const ids = new Int32Array(p.features.tokens.length);
    p.features.tokens.forEach((t, k) => {
      let id = prov.get(t);
      if (id === undefined) { id = provTokens.length; prov.set(t, id); provTokens.push(t); trainCount.push(0); }
      if (part === 0) trainCount[id]!++;
      ids[k] = id;
    });
    resIds.push(ids); resLabel.push(truth.label); resPart.push(part);
    resCand.push(p.features.candidates);
  }
  bar.finish();
  // targets once every candidate is known (a read's `unext` is filled in by the request after it)
  for (let k = 0; k < resCand.length; k++) resTarget.push(targetClass(resLabel[k]!, resCand[k]!));
  const range = (k: number): [number, number] => { const a = resPart.indexOf(k); if (a < 0) return [resPart.length, resPart.length]; let b = a; while (b < resPart.length && resPart[b] === k) b++; return [a, b]; };
  const [trA, trB] = range(0); const [vaA, vaB] = range(1); const [teA, teB] = range(2);
  // output classes: a pointer class per candidate source, plus the labels no candidate gave
  const vocab = Vocab.fromCounts(new Map(provTokens.map((t, k) => [t, trainCount[k]!])), [...POINTERS.map(pointerClass), ...resTarget.slice(trA, trB)], opts.minTokenCount);
  const remap = provTokens.map((t) => vocab.tokenId(t));
  const ids = resIds.map((x) => {
    const out = new Int32Array(x.length); let n = 0;
    for (const p of x) { const id = remap[p]!; if (id >= 0 && !out.subarray(0, n).includes(id)) out[n++] = id; }
    return out.subarray(0, n).sort();
  });
  resIds.length = 0;
  const labelIds = resTarget.map((l) => vocab.labelId(l));
  const V = vocab.size; const C = vocab.numLabels; const W = opts.window;
  log(`${total} events (train ${partEvents[0]}, validation ${partEvents[1]}, test ${partEvents[2]}); model input ${ids.length} events (train ${trB - trA}, validation ${vaB - vaA}, test ${teB - teA}); ${V} feature tokens, ${C} labels`);
  if (trB - trA < W) throw new Error(`too few training events for window ${W}: ${trB - trA}`);

  // class weights: frequency^-1/4 (rare labels count more, without being over-predicted), mean 1 over events
  const counts = new Float64Array(C);
  for (let i = trA; i < trB; i++) counts[labelIds[i]!]!++;
  const cw = new Float32Array(C);
  let norm = 0;
  for (let c = 0; c < C; c++) { cw[c] = counts[c]! ? Math.pow(counts[c]! / (trB - trA), -0.25) : 0; norm += cw[c]! * counts[c]!; }
  for (let c = 0; c < C; c++) cw[c] = cw[c]! * (trB - trA) / norm;

  const arch: Architecture = { embed: opts.embed, units: opts.units, dropout: opts.dropout };
  const model = buildTrainingModel(tf, arch, V, C, opts.seed);
  if (opts.initFrom) {
    const init = await loadBundle(tf, opts.initFrom);
    const kept = warmStart(tf, model, vocab, init);
    log(`starting from the weights of ${opts.initFrom}: ${kept.tokens}/${vocab.size} feature tokens and ${kept.labels}/${vocab.numLabels} classes carried over`);
  }
  const lossFn = (yTrue: import('@tensorflow/tfjs').Tensor, yPred: import('@tensorflow/tfjs').Tensor) =>
    tf.tidy(() => tf.mean(tf.neg(tf.sum(tf.mul(yTrue, tf.log(tf.clipByValue(yPred, 1e-7, 1))), -1))));
  const optimizer = tf.train.adam(opts.learningRate);
  model.compile({ optimizer, loss: lossFn });
  const seq = new SequenceModel(tf, model);
  log(`BiLSTM ${arch.units.join('/')} units, embedding ${arch.embed}, ${seq.parameters} parameters; window ${W}, stride ${opts.stride}; backend ${backend}`);

  const rand = prng(opts.seed);
  const B = opts.batchSize;
  const xBuf = new Float32Array(B * W * V); const yBuf = new Float32Array(B * W * C);
  const valIds = ids.slice(vaA, vaB);
  const history: TrainMetrics['training']['history'] = [];
  let best = { f1: -1, epoch: 0, weights: undefined as undefined | import('@tensorflow/tfjs').Tensor[] };
  let stale = 0;
  const deadline = started + opts.maxMinutes * 60_000;

  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const t0 = Date.now();
    const step = Math.max(1, Math.floor(W / 2));
    const offset = Math.floor(rand() * step);
    const starts: number[] = [];
    for (let s = trA + offset; s + W <= trB; s += step) starts.push(s);
    for (let i = starts.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [starts[i], starts[j]] = [starts[j]!, starts[i]!]; }
    let batches = Math.floor(starts.length / B);
    if (opts.maxBatchesPerEpoch) batches = Math.min(batches, opts.maxBatchesPerEpoch);
    batches = Math.max(1, batches);
    const bar = new Progress({ label: `epoch ${epoch}/${opts.epochs}`, total: batches, unit: 'batches' });
    let lossSum = 0;
    for (let b = 0; b < batches; b++) {
      xBuf.fill(0); yBuf.fill(0);
      const n = Math.min(B, starts.length - b * B);
      for (let k = 0; k < n; k++) {
        const s = starts[b * B + k]!;
        for (let j = 0; j < W; j++) {
          const row = k * W + j;
          for (const id of ids[s + j]!) xBuf[row * V + id] = 1;
          const c = labelIds[s + j]!;
          yBuf[row * C + c] = cw[c]!;
        }
      }
      const x = tf.tensor3d(xBuf.subarray(0, n * W * V), [n, W, V]);
      const y = tf.tensor3d(yBuf.subarray(0, n * W * C), [n, W, C]);
      const loss = Number(await model.trainOnBatch(x, y));
      x.dispose(); y.dispose();
      lossSum += loss;
      bar.tick(1, `loss ${(lossSum / (b + 1)).toFixed(4)}`);
    }
    seq.refresh();
    const pred = await scoreSequence(seq, valIds, W, opts.stride);
    const rows: Scored[] = pred.map((v, k) => ({ truth: resLabel[vaA + k]!, pred: decide(v.votes, v.weight, vocab.labels, resCand[vaA + k]!).label, context: '', source: 'model' }));
    const vm = computeMetrics(rows);
    const secs = (Date.now() - t0) / 1000;
    history.push({ epoch, loss: Math.round((lossSum / batches) * 1e5) / 1e5, valMacroF1: vm.macroF1, valAccuracy: vm.accuracy, seconds: Math.round(secs) });
    bar.finish(`loss ${(lossSum / batches).toFixed(4)} val macro-F1 ${vm.macroF1.toFixed(4)} val acc ${vm.accuracy.toFixed(4)}`);
    // early stopping on the mean of validation macro-F1 and accuracy (macro-F1 alone swings with a few rare labels)
    const score = (vm.macroF1 + vm.accuracy) / 2;
    if (score > best.f1 + 1e-4) {
      best.weights?.forEach((t) => t.dispose());
      best = { f1: score, epoch, weights: model.getWeights().map((t) => t.clone()) };
      stale = 0;
    } else if (++stale >= opts.patience) { log(`early stop: no validation improvement for ${opts.patience} epochs (best epoch ${best.epoch})`); break; }
    else {
      // plateau: halve the learning rate (Adam reads it on every step)
      const o = optimizer as unknown as { learningRate: number };
      o.learningRate /= 2;
      log(`no validation improvement: learning rate ${o.learningRate}`);
    }
    if (Date.now() + secs * 1000 > deadline) { log(`time budget of ${opts.maxMinutes} min reached (best epoch ${best.epoch})`); break; }
  }
  if (best.weights) { model.setWeights(best.weights); best.weights.forEach((t) => t.dispose()); }
  seq.refresh();

  const config: LabelerConfig = {
    version: 1, featureVersion: FEATURE_VERSION, attribution: ATTRIBUTION, window: W, stride: opts.stride, architecture: arch,
    rules: rules.rules.map((r) => r.name), maxObjects: opts.maxObjects,
    training: { seed: opts.seed, durationMs: opts.durationMs, epochs: history.length, bestEpoch: best.epoch, splits: opts.splits },
  };
  const bundle: ModelBundle = { config, vocab, model: seq };
  await saveBundle(tf, opts.out, bundle);

  // pass 3: stream the whole log through the real stage, score the test time range
  log('evaluating on the test time range through the streaming label stage...');
  const testOf = async (stage: StreamingLabeler) => {
    const rows: Scored[] = [];
    const sizes = new Map<string, number>();
    await streamThrough(stage, source.events(), (e) => {
      const t = truthOf(e.audit)!;
      sizes.set(t.context, (sizes.get(t.context) ?? 0) + 1);
      if (partOf(e.time) === 2) rows.push({ truth: t.label, pred: e.labelKey, context: t.context, source: e.labelSource });
    });
    return computeMetrics(rows, sizes);
  };
  const test = await testOf(new StreamingLabeler({ rules, bundle }));
  const base = await testOf(new StreamingLabeler({ rules, maxObjects: opts.maxObjects }));
  const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : null);
  const span = source.span();
  const metrics: TrainMetrics = {
    command: opts.command, backend,
    data: {
      source: source.describe, seed: opts.events ? undefined : opts.seed, seeds: opts.events && opts.seeds?.length ? opts.seeds : undefined,
      durationMs: opts.events && !opts.seeds?.length ? undefined : opts.durationMs, policies: opts.policies, events: total, modelEvents: ids.length,
      splits: Object.fromEntries((['train', 'validation', 'test'] as const).map((k, p) => {
        const [a, b] = [[trA, trB], [vaA, vaB], [teA, teB]][p]!;
        const [from, to] = bounds[p]!;
        return [k, { events: partEvents[p]!, modelEvents: b! - a!, from: iso(Math.max(from, span.from)), to: iso(Math.min(to, span.to)) }];
      })),
    },
    rules: ruleStats,
    model: { window: W, stride: opts.stride, architecture: arch, parameters: seq.parameters, tokens: V, labels: C },
    training: { epochs: history.length, bestEpoch: best.epoch, seconds: Math.round((Date.now() - started) / 1000), history },
    test,
    baselineRulesOnly: { accuracy: base.accuracy, macroF1: base.macroF1, macroF1Trigger: base.macroF1Trigger },
  };
  await writeFile(path.join(opts.out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  log(`test: macro-F1 ${test.macroF1} (trigger labels ${test.macroF1Trigger}), accuracy ${test.accuracy}; rules+links only: macro-F1 ${base.macroF1}`);
  return { dir: opts.out, bundle, metrics };
}

export type { Tf };
