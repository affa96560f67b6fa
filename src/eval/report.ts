/**
 * Evaluation cases through the in-process pipeline, scored, and printed as the per-level
 * table of `kontext evaluate --corpus` and the contexts bench.
 */
import { createLabeler, type BackendChoice } from '../label/index.ts';
import type { EvalCase } from './corpus.ts';
import { runContexts } from './run.ts';
import { scoreContexts, type RunScores } from './score.ts';
import type { ContextDoc } from '../types/context.ts';

export interface CaseResult {
  corpus: string;
  variant: string;
  level: string;
  /** label stage mode: model or rules-only */
  mode: string;
  seconds: number;
  scores: RunScores;
}

export interface EvaluateCasesOptions {
  modelDir?: string;
  backend?: BackendChoice;
  log?: (m: string) => void;
}

/**
 * Each case through the in-process pipeline, one fresh pipeline (label stage, normalizer,
 * clusterer) per stream of the case, the streams' contexts scored together against the
 * case's truth. Cases are read and scored one at a time; only the scores are kept.
 */
export async function evaluateCases(cases: readonly EvalCase[], opts: EvaluateCasesOptions = {}): Promise<CaseResult[]> {
  const log = opts.log ?? (() => {});
  const out: CaseResult[] = [];
  for (const c of cases) {
    const name = `${c.corpus} ${c.variant} @ ${c.level}`;
    const docs: ContextDoc[] = [];
    const labels = new Map<string, string>();
    let seconds = 0; let events = 0; let mode = '';
    let done = 0; let last = 0;
    for (const s of c.streams) {
      const labeler = await createLabeler({ modelDir: opts.modelDir, backend: opts.backend });
      mode = labeler.mode;
      const run = await runContexts(s.records(), labeler, {
        labels: c.labelled,
        progress: (n) => { if (done + n - last >= 20_000) { last = done + n; log(`${name}: ${last}${c.size ? `/${c.size}` : ''} records`); } },
      });
      done += run.events;
      for (const d of run.docs) docs.push(d);
      for (const [k, v] of run.labels) labels.set(k, v);
      seconds += run.seconds; events += run.events;
    }
    const scores = scoreContexts(await c.truth(), docs, c.labelled ? labels : undefined);
    log(`${name}: ${events} events → ${docs.length} contexts in ${seconds.toFixed(1)} s${c.streams.length > 1 ? ` (${c.streams.length} streams)` : ''}`);
    out.push({ corpus: c.corpus, variant: c.variant, level: c.level, mode, seconds, scores });
  }
  return out;
}

const f3 = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(3));

function personCounts(s: RunScores): { predicted: number; truth: number; others: number } {
  let predicted = 0; let truth = 0; let others = 0;
  for (const u of s.users) { if (u.user === '(others)') others = u.predicted; else { predicted += u.predicted; truth += u.truth; } }
  return { predicted, truth, others };
}

/**
 * One row per case: events, actions, actions whole (share ≥ 0.9 and purity ≥ 0.95), mean and
 * min share of an action's core events in its largest context, mean purity, right labels
 * (helm installs), trigger Jaccard and ARI, label macro-F1, trigger contexts of the users who
 * acted against their actions, trigger contexts of everyone else.
 */
export function formatCaseTable(results: readonly CaseResult[]): string {
  const head = ['corpus', 'variant', 'level', 'events', 'actions', 'whole', 'share', 'min', 'purity', 'label', 'J trig', 'ARI trig', 'macroF1', 'users ctx/truth', 'others'];
  const rows = results.map((r) => {
    const s = r.scores;
    const p = personCounts(s);
    return [
      r.corpus, r.variant, r.level, String(s.events), String(s.actions.length), String(s.whole), f3(s.meanShare), f3(s.minShare), f3(s.meanPurity),
      s.labelExpected ? `${s.labelRight}/${s.labelExpected}` : '-', f3(s.partition.trigger.jaccard), f3(s.partition.trigger.ari), f3(s.macroF1),
      `${p.predicted}/${p.truth}`, String(p.others),
    ];
  });
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** Per-action rows (the largest actions first, at most `maxActions`), per-user rows and trigger scores by size. */
export function formatCaseDetail(r: CaseResult, maxActions = 12): string {
  const s = r.scores;
  const lines = [`${r.corpus} ${r.variant} @ ${r.level} (${r.mode}): ${s.events} events in ${s.contexts} contexts`];
  const shown = s.actions.slice(0, maxActions);
  const aw = Math.max(6, ...shown.map((a) => a.action.length));
  lines.push(`  ${'action'.padEnd(aw)}  ${'core'.padStart(5)}  ${'ctxs'.padStart(5)}  ${'share'.padStart(6)}  ${'purity'.padStart(6)}  label  largest context`);
  for (const a of shown) {
    lines.push(`  ${a.action.padEnd(aw)}  ${String(a.core).padStart(5)}  ${String(a.contexts).padStart(5)}  ${f3(a.share).padStart(6)}  ${f3(a.purity).padStart(6)}  ${(a.labelled === null ? '-' : a.labelled ? 'yes' : 'no').padEnd(5)}  ${a.description || a.label}`);
  }
  if (s.actions.length > shown.length) lines.push(`  … ${s.actions.length - shown.length} more actions`);
  const users = s.users.slice(0, 8);
  lines.push(`  contexts triggered per user (kontext / truth): ${users.map((u) => `${u.user} ${u.predicted}/${u.truth}`).join(', ')}`);
  const b = s.partition.bySize.filter((x) => x.contexts > 0).map((x) => `${x.bucket}: J ${f3(x.jaccard)} ARI ${f3(x.ari)} (${x.contexts})`);
  lines.push(`  trigger contexts by true size: ${b.join('; ')}`);
  return lines.join('\n');
}
