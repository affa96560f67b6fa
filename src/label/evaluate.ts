/**
 * Evaluation of the label stage against ground truth: streams the events through the real
 * stage (the same code path as `kontext serve`) and scores every event.
 */
import type { KEvent } from '../types/pipeline.ts';
import { Progress } from '../util/progress.ts';
import type { BackendChoice } from './backend.ts';
import { arraySource, readAuditFile, simulatedSource, toKEvents, truthOf, type EventSource } from './data.ts';
import { createLabeler, type Labeler } from './index.ts';
import { computeMetrics, type LabelMetrics, type Scored } from './metrics.ts';
import { streamThrough } from './train.ts';

export interface EvaluateOptions {
  modelDir: string;
  seed: number;
  durationMs: number;
  input?: string;
  events?: KEvent[];
  backend: BackendChoice;
  window?: number;
  stride?: number;
  log: (msg: string) => void;
}

export interface EvaluateResult {
  source: string;
  modelDir: string;
  mode: Labeler['mode'];
  backend?: string;
  window?: number;
  stride?: number;
  /** labeling speed of this run (includes feature extraction and rules) */
  eventsPerSecond: number;
  metrics: LabelMetrics;
}

export async function evaluateLabeler(opts: EvaluateOptions): Promise<EvaluateResult> {
  let source: EventSource;
  if (opts.events) source = arraySource(opts.events);
  else if (opts.input) source = arraySource(toKEvents(await readAuditFile(opts.input)), opts.input);
  else source = await simulatedSource({ seed: opts.seed, durationMs: opts.durationMs });
  opts.log(`evaluating on ${source.describe}...`);
  const stage = await createLabeler({ modelDir: opts.modelDir, backend: opts.backend, window: opts.window, stride: opts.stride });
  const rows: Scored[] = [];
  const sizes = new Map<string, number>();
  const bar = new Progress({ label: 'labeling', unit: 'events' });
  let seconds = 0;
  let t0 = performance.now();
  // time only the label stage, not the simulator feeding it
  const timed = function* (it: Iterable<KEvent>) {
    let i = 0;
    for (const e of it) {
      seconds += (performance.now() - t0) / 1000;
      if (!truthOf(e.audit)) throw new Error(`${source.describe}: event #${i} (${e.audit.auditID}) has no ground truth annotations (sim.kontext.io/label, sim.kontext.io/context); evaluate needs annotated events such as \`kontext simulate\` writes`);
      i++;
      t0 = performance.now();
      yield e;
    }
  };
  t0 = performance.now();
  const n = await streamThrough(stage, timed(source.events()), (e) => {
    const t = truthOf(e.audit)!;
    sizes.set(t.context, (sizes.get(t.context) ?? 0) + 1);
    rows.push({ truth: t.label, pred: e.labelKey, context: t.context, source: e.labelSource });
    bar.tick();
  });
  seconds += (performance.now() - t0) / 1000;
  bar.finish();
  return {
    source: source.describe, modelDir: opts.modelDir, mode: stage.mode, backend: stage.backend,
    window: (stage as unknown as { window?: number }).window, stride: (stage as unknown as { stride?: number }).stride,
    eventsPerSecond: n / seconds,
    metrics: computeMetrics(rows, sizes),
  };
}

/** Per-level label scores of one model: each case's events (annotated with their truth) through the label stage. */
export interface LevelScore { data: string; level: string; events: number; macroF1: number; macroF1Trigger: number; accuracy: number; eventsPerSecond: number }

/** The audit levels and mixed policies labels are scored at (as `kontext evaluate` scores contexts). */
export const LABEL_LEVELS: readonly { level: string; policy: string }[] = [
  { level: 'Metadata', policy: 'metadata' },
  { level: 'Request', policy: 'request' },
  { level: 'RequestResponse', policy: 'request-response' },
  { level: 'kubeadm-gke-default', policy: 'kubeadm-gke-default' },
  { level: 'k8s-docs-example', policy: 'k8s-docs-example' },
];

/**
 * Label macro-F1 of `modelDir` at every level: the runs of a recorded corpus's `split`
 * (each rendered under the level, labels derived from its truth as for training) and the
 * simulator's `seed` (logged under the level).
 */
export async function evaluateLevels(opts: { modelDir: string; backend: BackendChoice; corpus?: string; split?: 'train' | 'test' | 'all'; seed?: number; durationMs?: number; levels?: readonly string[]; log: (m: string) => void }): Promise<LevelScore[]> {
  const out: LevelScore[] = [];
  const levels = LABEL_LEVELS.filter((l) => !opts.levels || opts.levels.includes(l.level));
  const score = async (data: string, level: string, events: KEvent[]) => {
    const r = await evaluateLabeler({ modelDir: opts.modelDir, seed: 0, durationMs: 0, events, backend: opts.backend, log: () => {} });
    const m = r.metrics;
    out.push({ data, level, events: m.events, macroF1: m.macroF1, macroF1Trigger: m.macroF1Trigger, accuracy: m.accuracy, eventsPerSecond: Math.round(r.eventsPerSecond) });
    opts.log(`${data} ${level}: ${m.events} events, macro-F1 ${m.macroF1} (trigger ${m.macroF1Trigger}), accuracy ${m.accuracy}`);
  };
  if (opts.corpus) {
    const { trainingEvents } = await import('../record/training.ts');
    const split = opts.split ?? 'test';
    for (const l of levels) await score(`recorded ${split}`, l.level, toKEvents(await trainingEvents(opts.corpus, split, () => {}, [l.policy])));
  }
  if (opts.seed !== undefined) {
    for (const l of levels) {
      const src = await simulatedSource({ seed: opts.seed, durationMs: opts.durationMs ?? 1_800_000, policies: [l.policy] });
      await score(`simulator seed ${opts.seed}`, l.level, [...src.events()]);
    }
  }
  return out;
}
