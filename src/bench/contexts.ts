/**
 * Context quality end to end: simulated traffic through the shipped labeling model and the
 * clusterer, scored against ground truth (mean best-match Jaccard and ARI, by context size),
 * next to the clusterer fed ground-truth labels; then the same traffic logged at every audit
 * level and mixed policy, and the real corpora where present (recorded corpus in
 * datasets/recorded, the hkerma capture in KONTEXT_HKERMA_DIR or ../shared/real/hkerma-dev),
 * through normalize → label → cluster, scored per level (src/eval).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { BenchMetric, BenchOptions, BenchResult } from './types.ts';
import { simulate } from '../simulate/index.ts';
import { createLabeler } from '../label/index.ts';
import { resolveModelDir } from '../pipeline/build.ts';
import { evaluateEndToEnd } from '../eval/end-to-end.ts';
import { corpusCases, simulatorCases, type EvalCase } from '../eval/corpus.ts';
import { evaluateCases, formatCaseTable, type CaseResult } from '../eval/report.ts';
import { PROJECT_ROOT } from '../es-local/local-es.ts';

/** not a training (1), test or evaluation (7) seed */
export const CONTEXTS_BENCH_SEED = 13;

/** Recorded runs a quick bench scores: the first seven test runs, one each of seven scenarios (about 3,800 events) */
export const QUICK_RECORDED_RUNS = 'r59-r65';

/** Real corpora on this machine: the recorded corpus, the hkerma capture. */
export function corpusDirs(): string[] {
  const hk = process.env.KONTEXT_HKERMA_DIR
    ?? [path.join(PROJECT_ROOT, '..', 'shared', 'real', 'hkerma-dev'), path.join(PROJECT_ROOT, '..', '..', 'shared', 'real', 'hkerma-dev')].find((d) => existsSync(d));
  return [path.join(PROJECT_ROOT, 'datasets', 'recorded'), ...(hk ? [hk] : [])].filter((d) => existsSync(d));
}

const slug = (r: CaseResult) => `${r.corpus}${r.corpus === 'hkerma' ? `_${r.variant}` : ''}_${r.level}`.replace(/[^A-Za-z0-9]+/g, '_');

function levelMetrics(r: CaseResult): BenchMetric[] {
  const s = r.scores;
  const k = slug(r);
  // targets: trigger Jaccard ≥ 0.95 at Metadata, Request and RequestResponse (≥ 0.98 at RequestResponse), macro-F1 ≥ 0.95
  const jTarget = r.level === 'RequestResponse' ? 0.98 : ['Metadata', 'Request'].includes(r.level) && r.corpus !== 'hkerma' ? 0.95 : undefined;
  const out: BenchMetric[] = [
    { name: `${k}_jaccard_trigger`, value: s.partition.trigger.jaccard, unit: 'mean', ...(jTarget ? { target: { op: '>=' as const, value: jTarget } } : {}) },
    { name: `${k}_actions_whole`, value: (100 * s.whole) / Math.max(1, s.actions.length), unit: '%' },
  ];
  if (s.macroF1 !== undefined) out.push({ name: `${k}_label_macro_f1`, value: s.macroF1, unit: 'F1', target: { op: '>=', value: 0.95 } });
  if (r.corpus === 'hkerma') {
    const admin = s.users.find((u) => u.user === 'kubernetes-admin');
    if (admin) out.push({ name: `${k}_kubernetes_admin_contexts`, value: admin.predicted, unit: `contexts (truth ${admin.truth})`, target: { op: '<=', value: admin.truth } });
    out.push({ name: `${k}_min_release_share`, value: s.minShare, unit: 'share', target: { op: '>=', value: 0.9 } });
  }
  return out;
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const seed = CONTEXTS_BENCH_SEED;
  const minutes = opts.quick ? 3 : 30;
  const events = [...simulate({ seed, durationMs: minutes * 60_000 })];
  opts.log(`${events.length} simulated events (seed ${seed}, ${minutes} min)`);
  const modelDir = resolveModelDir('models/default');
  const labeler = await createLabeler({ modelDir });
  const e = await evaluateEndToEnd(events, labeler);
  const bySize = Object.fromEntries(e.labeled.bySize.map((b) => [b.bucket, { contexts: b.contexts, jaccard: b.jaccard, ari: b.ari }]));
  const oracleBySize = Object.fromEntries(e.oracle.bySize.map((b) => [b.bucket, { contexts: b.contexts, jaccard: b.jaccard, ari: b.ari }]));

  const cases: EvalCase[] = await simulatorCases({ seed, durationMs: minutes * 60_000 }, opts.log);
  for (const dir of corpusDirs()) {
    // quick: the first test runs of the recorded corpus (seven scenarios, one run each), the whole capture
    const c = await corpusCases(dir, opts.log, opts.quick && dir.endsWith(path.join('datasets', 'recorded')) ? { split: 'test', runs: QUICK_RECORDED_RUNS } : {});
    if (c) cases.push(...c);
  }
  const levels = await evaluateCases(cases, { modelDir, log: opts.log });
  const table = formatCaseTable(levels);
  return {
    name: 'contexts',
    description: `${minutes} simulated minutes (${events.length} events, seed ${seed}, not used in training) labeled by the ${labeler.mode === 'model' ? 'shipped model' : 'rules only (no model found)'} and clustered; contexts scored against the simulator's ground truth. "oracle" = the same clusterer fed ground-truth labels. Then the same traffic at every audit level, and the real corpora present${opts.quick ? ` (quick: recorded test runs ${QUICK_RECORDED_RUNS} only)` : ''}, through normalize → label → cluster (table below; columns as in \`kontext evaluate --help\`).`,
    metrics: [
      { name: 'jaccard_trigger', value: e.labeled.trigger.jaccard, unit: 'mean' },
      { name: 'ari_trigger', value: e.labeled.trigger.ari, unit: 'index' },
      { name: 'jaccard_overall', value: e.labeled.overall.jaccard, unit: 'mean' },
      { name: 'ari_overall', value: e.labeled.overall.ari, unit: 'index' },
      { name: 'jaccard_trigger_oracle_labels', value: e.oracle.trigger.jaccard, unit: 'mean' },
      { name: 'ari_trigger_oracle_labels', value: e.oracle.trigger.ari, unit: 'index' },
      { name: 'user_actions_found_as_triggers', value: (100 * e.triggersFound) / Math.max(1, e.triggers), unit: '%' },
      ...levels.flatMap(levelMetrics),
    ],
    markdown: 'Per audit level:\n\n```\n' + table + '\n```',
    details: { bySize, oracleBySize, background: e.labeled.background, levels: levels.map((r) => ({ corpus: r.corpus, variant: r.variant, level: r.level, mode: r.mode, seconds: r.seconds, ...r.scores, // per-action rows of the real capture stay out of the repository (they name its objects)
      actions: r.corpus === 'hkerma' || r.scores.actions.length > 30 ? undefined : r.scores.actions })) },
  };
}
