/**
 * Context quality against ground truth: mean best-match Jaccard per true context and the
 * adjusted Rand index (ARI) of the event partition, overall, for trigger and background
 * contexts separately, and for trigger contexts by true size.
 *
 * Inputs are plain maps auditID → context id. Events with a truth but no prediction count as
 * predicted singletons; predicted events without a truth are ignored.
 */
import type { AuditEvent } from '../types/audit.ts';
import { TRUTH_CONTEXT_ANNOTATION } from '../types/audit.ts';
import type { ContextDoc } from '../types/context.ts';

export interface ContextScores {
  /** events evaluated */
  events: number;
  /** true contexts */
  contexts: number;
  /** predicted contexts touching these events */
  predicted: number;
  /** mean over true contexts of max over predicted contexts of |T∩P| / |T∪P| */
  jaccard: number;
  /** adjusted Rand index of the partition restricted to these events */
  ari: number;
  /** share of events whose predicted context's majority true context is their own */
  purity: number;
}

export interface SizeBucketScores extends ContextScores { bucket: string; min: number; max: number }

export interface ContextEvaluation {
  overall: ContextScores;
  trigger: ContextScores;
  background: ContextScores;
  /** trigger contexts by true size */
  bySize: SizeBucketScores[];
  /** events with a truth but no predicted context */
  unassigned: number;
}

export interface EvaluateOptions {
  /** which true contexts are background (default: id starts with "bg:") */
  isBackground?: (trueContextId: string) => boolean;
  /** size buckets as inclusive [min, max] (default 1, 2-5, 6-10, 11-20, 21-50, 51+) */
  buckets?: Array<[number, number]>;
}

export const DEFAULT_BUCKETS: Array<[number, number]> = [[1, 1], [2, 5], [6, 10], [11, 20], [21, 50], [51, Infinity]];

const c2 = (n: number) => (n * (n - 1)) / 2;

function score(ids: string[], truth: Map<string, string>, pred: Map<string, string>, predSize: Map<string, number>): ContextScores {
  // contingency over the events of this subset; predicted sizes for Jaccard are the full
  // predicted contexts (a prediction that spills into other true contexts is penalized)
  const tSize = new Map<string, number>();
  const cells = new Map<string, Map<string, number>>();
  const pSub = new Map<string, number>();
  for (const id of ids) {
    const t = truth.get(id)!; const p = pred.get(id)!;
    tSize.set(t, (tSize.get(t) ?? 0) + 1);
    pSub.set(p, (pSub.get(p) ?? 0) + 1);
    let row = cells.get(t);
    if (!row) { row = new Map(); cells.set(t, row); }
    row.set(p, (row.get(p) ?? 0) + 1);
  }
  let jsum = 0; let sumCells = 0; let sumT = 0; let sumP = 0;
  const pMajority = new Map<string, number>();
  for (const [t, row] of cells) {
    const ts = tSize.get(t)!;
    sumT += c2(ts);
    let best = 0;
    for (const [p, n] of row) {
      sumCells += c2(n);
      const j = n / (ts + predSize.get(p)! - n);
      if (j > best) best = j;
      if (n > (pMajority.get(p) ?? 0)) pMajority.set(p, n);
    }
    jsum += best;
  }
  for (const n of pSub.values()) sumP += c2(n);
  const total = c2(ids.length);
  const expected = total > 0 ? (sumT * sumP) / total : 0;
  const maxIndex = (sumT + sumP) / 2;
  const ari = maxIndex - expected === 0 ? (sumCells === maxIndex ? 1 : 0) : (sumCells - expected) / (maxIndex - expected);
  let majority = 0;
  for (const n of pMajority.values()) majority += n;
  return {
    events: ids.length,
    contexts: cells.size,
    predicted: pSub.size,
    jaccard: cells.size ? jsum / cells.size : 0,
    ari: ids.length ? ari : 0,
    purity: ids.length ? majority / ids.length : 0,
  };
}

/**
 * Scores predicted contexts against ground truth.
 * @param predicted auditID → predicted context id
 * @param truth auditID → true context id (e.g. the simulator's `sim.kontext.io/context`)
 */
export function evaluateContexts(predicted: ReadonlyMap<string, string>, truth: ReadonlyMap<string, string>, opts: EvaluateOptions = {}): ContextEvaluation {
  const isBg = opts.isBackground ?? ((id: string) => id.startsWith('bg:'));
  const buckets = opts.buckets ?? DEFAULT_BUCKETS;
  const pred = new Map<string, string>();
  const tr = new Map<string, string>();
  let unassigned = 0;
  for (const [id, t] of truth) {
    tr.set(id, t);
    const p = predicted.get(id);
    if (p === undefined) { unassigned++; pred.set(id, `\u0000unassigned:${id}`); } else pred.set(id, p);
  }
  const predSize = new Map<string, number>();
  for (const p of pred.values()) predSize.set(p, (predSize.get(p) ?? 0) + 1);
  const trueSize = new Map<string, number>();
  for (const t of tr.values()) trueSize.set(t, (trueSize.get(t) ?? 0) + 1);

  const all = [...tr.keys()];
  const trig = all.filter((id) => !isBg(tr.get(id)!));
  const bg = all.filter((id) => isBg(tr.get(id)!));
  const bySize = buckets.map(([min, max]) => {
    const ids = trig.filter((id) => { const s = trueSize.get(tr.get(id)!)!; return s >= min && s <= max; });
    return { bucket: max === Infinity ? `${min}+` : min === max ? `${min}` : `${min}-${max}`, min, max, ...score(ids, tr, pred, predSize) };
  });
  return {
    overall: score(all, tr, pred, predSize),
    trigger: score(trig, tr, pred, predSize),
    background: score(bg, tr, pred, predSize),
    bySize,
    unassigned,
  };
}

/** auditID → true context id from simulator annotations (events without one are skipped). */
export function truthFromEvents(events: Iterable<AuditEvent>): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of events) {
    const c = e.annotations?.[TRUTH_CONTEXT_ANNOTATION];
    if (c) m.set(e.auditID, c);
  }
  return m;
}

/** auditID → context id from context documents (their members). */
export function predictionFromContexts(docs: Iterable<ContextDoc>): Map<string, string> {
  const m = new Map<string, string>();
  for (const d of docs) for (const mem of d.members) m.set(mem.auditID, d.id);
  return m;
}

/** Plain-text table of an evaluation, for CLI output. */
export function formatContextEvaluation(e: ContextEvaluation): string {
  const f = (x: number) => x.toFixed(3);
  const row = (name: string, s: ContextScores) =>
    `${name.padEnd(12)} ${String(s.contexts).padStart(8)} ${String(s.events).padStart(9)} ${f(s.jaccard).padStart(8)} ${f(s.ari).padStart(7)} ${f(s.purity).padStart(7)}`;
  const lines = [
    `${'contexts'.padEnd(12)} ${'true'.padStart(8)} ${'events'.padStart(9)} ${'jaccard'.padStart(8)} ${'ARI'.padStart(7)} ${'purity'.padStart(7)}`,
    row('all', e.overall), row('trigger', e.trigger), row('background', e.background),
    ...e.bySize.filter((b) => b.contexts > 0).map((b) => row(`  size ${b.bucket}`, b)),
  ];
  if (e.unassigned) lines.push(`unassigned events: ${e.unassigned}`);
  return lines.join('\n');
}
