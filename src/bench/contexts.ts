/**
 * Context quality end to end: simulated traffic through the shipped labeling model and the
 * clusterer, scored against ground truth (mean best-match Jaccard and ARI, by context size),
 * next to the clusterer fed ground-truth labels.
 */
import type { BenchOptions, BenchResult } from './types.ts';
import { simulate } from '../simulate/index.ts';
import { createLabeler } from '../label/index.ts';
import { resolveModelDir } from '../pipeline/build.ts';
import { evaluateEndToEnd } from '../eval/end-to-end.ts';

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const seed = 11;
  const minutes = opts.quick ? 10 : 30;
  const events = [...simulate({ seed, durationMs: minutes * 60_000 })];
  opts.log(`${events.length} simulated events (seed ${seed}, ${minutes} min)`);
  const labeler = await createLabeler({ modelDir: resolveModelDir('models/default') });
  const e = await evaluateEndToEnd(events, labeler);
  const bySize = Object.fromEntries(e.labeled.bySize.map((b) => [b.bucket, { contexts: b.contexts, jaccard: b.jaccard, ari: b.ari }]));
  const oracleBySize = Object.fromEntries(e.oracle.bySize.map((b) => [b.bucket, { contexts: b.contexts, jaccard: b.jaccard, ari: b.ari }]));
  return {
    name: 'contexts',
    description: `${minutes} simulated minutes (${events.length} events, seed ${seed}, not used in training) labeled by the ${labeler.mode === 'model' ? 'shipped model' : 'rules only (no model found)'} and clustered; contexts scored against the simulator's ground truth. "oracle" = the same clusterer fed ground-truth labels.`,
    metrics: [
      { name: 'jaccard_trigger', value: e.labeled.trigger.jaccard, unit: 'mean' },
      { name: 'ari_trigger', value: e.labeled.trigger.ari, unit: 'index' },
      { name: 'jaccard_overall', value: e.labeled.overall.jaccard, unit: 'mean' },
      { name: 'ari_overall', value: e.labeled.overall.ari, unit: 'index' },
      { name: 'jaccard_trigger_oracle_labels', value: e.oracle.trigger.jaccard, unit: 'mean' },
      { name: 'ari_trigger_oracle_labels', value: e.oracle.trigger.ari, unit: 'index' },
      { name: 'user_actions_found_as_triggers', value: (100 * e.triggersFound) / Math.max(1, e.triggers), unit: '%' },
    ],
    details: { bySize, oracleBySize, background: e.labeled.background },
  };
}
