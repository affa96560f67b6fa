/**
 * Label stage: every event gets the label of the operation that triggered its context.
 * Inference rules claim background traffic; a BiLSTM over windows of the remaining events
 * (with name-free relational features) labels the rest.
 */
import type { LabelStage } from '../types/pipeline.ts';
import { log } from '../util/log.ts';
import type { BackendChoice } from './backend.ts';
import { loadRuntimeBundle, modelDirExists, type LabelModel, type ModelBundle } from './bundle.ts';
import { RuleSet, RULES } from './rules.ts';
import { StreamingLabeler, type RestoreHints } from './stage.ts';

export interface LabelerOptions {
  /** directory with model.json, weights.bin, vocab.json, config.json; none or missing: rules only */
  modelDir?: string;
  /** ignored: inference runs in plain JavaScript (forward.ts); the TensorFlow.js backend is for training */
  backend?: BackendChoice;
  /** override the model's window / stride */
  window?: number;
  stride?: number;
  /** windows per model call (default 256) */
  maxBatch?: number;
  /**
   * Runs the model's recurrent part elsewhere (the model worker thread, pipeline/model-thread.ts):
   * given the in-thread `predict`, returns the one the stage calls instead.
   */
  predictor?: (local: PredictFn) => Promise<PredictFn>;
}

/** `SequenceModel.predict`: embedded windows → class probabilities */
export type PredictFn = (emb: Float32Array, wide: Float32Array, batch: number, window: number) => Promise<Float32Array>;

export interface Labeler extends LabelStage {
  /** 'model' or 'rules-only' */
  readonly mode: 'model' | 'rules-only';
  /** how the model runs: 'js' (the plain-JS forward pass) */
  readonly backend?: string;
  /** its memory for the restart checkpoint, and taking it back (see StreamingLabeler) */
  snapshot(): string;
  restore(text: string, hints?: RestoreHints): boolean;
}

export function rulesFor(bundle: ModelBundle<LabelModel> | undefined): RuleSet {
  if (!bundle) return new RuleSet(RULES);
  const unknown = bundle.config.rules.filter((n) => !RULES.some((r) => r.name === n));
  if (unknown.length) throw new Error(`model config names unknown rules: ${unknown.join(', ')}`);
  return new RuleSet(RULES.filter((r) => bundle.config.rules.includes(r.name)));
}

export async function createLabeler(opts: LabelerOptions = {}): Promise<Labeler> {
  return (await createLabelerFactory(opts))();
}

/**
 * Loads the model once and returns a maker of labelers that share it (one per cluster: each
 * has its own tracer memory and windows, see src/clusters/router.ts).
 */
export async function createLabelerFactory(opts: LabelerOptions = {}): Promise<() => Labeler> {
  const dir = opts.modelDir;
  if (!dir || !(await modelDirExists(dir))) {
    log.warn('no labeling model found: labeling with inference rules and object links only', { modelDir: dir ?? null });
    return () => Object.assign(new StreamingLabeler({ rules: new RuleSet(RULES) }), { mode: 'rules-only' as const });
  }
  const backend = 'js';
  const bundle = await loadRuntimeBundle(dir);
  if (opts.predictor) {
    const own = bundle.model.predict.bind(bundle.model);
    const local: PredictFn = async (emb, wide, batch, window) => own(emb, wide, batch, window);
    (bundle.model as LabelModel).predict = await opts.predictor(local);
  }
  log.info('labeling model loaded', {
    modelDir: dir, backend, window: opts.window ?? bundle.config.window, stride: opts.stride ?? bundle.config.stride,
    labels: bundle.vocab.numLabels, tokens: bundle.vocab.size, parameters: bundle.model.parameters,
  });
  const rules = rulesFor(bundle);
  return () => Object.assign(new StreamingLabeler({ rules, bundle, window: opts.window, stride: opts.stride, maxBatch: opts.maxBatch }), { mode: 'model' as const, backend });
}

export { StreamingLabeler } from './stage.ts';
export type { BackendChoice } from './backend.ts';
