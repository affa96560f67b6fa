/**
 * Labeling metrics against simulator ground truth: macro-F1 (all labels, and trigger labels
 * only), per-label precision/recall/F1, the most confused label pairs, and accuracy by the
 * size of the event's true context.
 */
export interface Scored {
  truth: string;
  pred: string;
  /** true context id */
  context: string;
  source: 'rule' | 'model';
}

export interface LabelScore { label: string; support: number; precision: number; recall: number; f1: number }
export interface Confusion { truth: string; pred: string; count: number }
export interface BucketScore { bucket: string; events: number; accuracy: number; triggerEvents: number; triggerAccuracy: number }

export interface LabelMetrics {
  events: number;
  accuracy: number;
  /** macro-F1 over every label present in the ground truth */
  macroF1: number;
  /** macro-F1 over trigger labels only (background labels left out) */
  macroF1Trigger: number;
  /** accuracy on events whose true label is a trigger label */
  triggerAccuracy: number;
  labels: number;
  triggerLabels: number;
  bySource: Record<string, { events: number; accuracy: number }>;
  perLabel: LabelScore[];
  topConfusions: Confusion[];
  bySize: BucketScore[];
}

export const SIZE_BUCKETS: readonly [string, number, number][] = [
  ['1', 1, 1], ['2-5', 2, 5], ['6-10', 6, 10], ['11-20', 11, 20], ['21-50', 21, 50], ['51+', 51, Infinity],
];

export function isBackground(label: string): boolean { return label.startsWith('background '); }

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * @param contextSizes true size of each context (defaults to counting the scored events)
 */
export function computeMetrics(rows: readonly Scored[], contextSizes?: ReadonlyMap<string, number>, topN = 10): LabelMetrics {
  const tp = new Map<string, number>(); const fp = new Map<string, number>(); const fn = new Map<string, number>();
  const support = new Map<string, number>();
  const conf = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
  let correct = 0; let trig = 0; let trigCorrect = 0;
  const src = new Map<string, [number, number]>();
  let sizes = contextSizes;
  if (!sizes) { const s = new Map<string, number>(); for (const r of rows) inc(s, r.context); sizes = s; }
  const buckets = SIZE_BUCKETS.map(() => ({ n: 0, ok: 0, tn: 0, tok: 0 }));
  for (const r of rows) {
    inc(support, r.truth);
    const ok = r.truth === r.pred;
    if (ok) { correct++; inc(tp, r.truth); } else { inc(fp, r.pred); inc(fn, r.truth); inc(conf, `${r.truth}\u0000${r.pred}`); }
    const t = !isBackground(r.truth);
    if (t) { trig++; if (ok) trigCorrect++; }
    const s = src.get(r.source) ?? [0, 0]; s[0]++; if (ok) s[1]++; src.set(r.source, s);
    const size = sizes.get(r.context) ?? 1;
    const bi = SIZE_BUCKETS.findIndex(([, lo, hi]) => size >= lo && size <= hi);
    const b = buckets[bi < 0 ? 0 : bi]!;
    b.n++; if (ok) b.ok++;
    if (t) { b.tn++; if (ok) b.tok++; }
  }
  const perLabel: LabelScore[] = [...support.keys()].sort().map((label) => {
    const a = tp.get(label) ?? 0; const p = a + (fp.get(label) ?? 0); const s = support.get(label)!;
    const precision = p ? a / p : 0; const recall = s ? a / s : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, support: s, precision: round(precision), recall: round(recall), f1: round(f1) };
  });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const trigLabels = perLabel.filter((l) => !isBackground(l.label));
  return {
    events: rows.length,
    accuracy: round(rows.length ? correct / rows.length : 0),
    macroF1: round(mean(perLabel.map((l) => l.f1))),
    macroF1Trigger: round(mean(trigLabels.map((l) => l.f1))),
    triggerAccuracy: round(trig ? trigCorrect / trig : 0),
    labels: perLabel.length,
    triggerLabels: trigLabels.length,
    bySource: Object.fromEntries([...src].map(([k, [n, ok]]) => [k, { events: n, accuracy: round(ok / n) }])),
    perLabel,
    topConfusions: [...conf].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([k, count]) => {
      const [truth, pred] = k.split('\u0000') as [string, string];
      return { truth, pred, count };
    }),
    bySize: SIZE_BUCKETS.map(([bucket], i) => {
      const b = buckets[i]!;
      return { bucket, events: b.n, accuracy: round(b.n ? b.ok / b.n : 0), triggerEvents: b.tn, triggerAccuracy: round(b.tn ? b.tok / b.tn : 0) };
    }),
  };
}

/** Human-readable report of the metrics. */
export function formatMetrics(m: LabelMetrics, perLabel = true): string {
  const pct = (x: number) => (x * 100).toFixed(2) + '%';
  const lines = [
    `events ${m.events}  accuracy ${pct(m.accuracy)}  trigger-event accuracy ${pct(m.triggerAccuracy)}`,
    `macro-F1 all labels ${m.macroF1.toFixed(4)} (${m.labels} labels)  trigger labels only ${m.macroF1Trigger.toFixed(4)} (${m.triggerLabels} labels)`,
    `by source: ${Object.entries(m.bySource).map(([k, v]) => `${k} ${v.events} events ${pct(v.accuracy)}`).join(', ')}`,
    '', 'accuracy by true context size:',
    ...m.bySize.map((b) => `  ${b.bucket.padEnd(6)} ${String(b.events).padStart(8)} events  ${pct(b.accuracy).padStart(8)}   trigger-labeled ${String(b.triggerEvents).padStart(8)}  ${pct(b.triggerAccuracy).padStart(8)}`),
  ];
  if (perLabel) {
    const w = Math.max(10, ...m.perLabel.map((l) => l.label.length));
    lines.push('', `${'label'.padEnd(w)}  support  precision  recall      f1`);
    for (const l of m.perLabel) lines.push(`${l.label.padEnd(w)}  ${String(l.support).padStart(7)}  ${l.precision.toFixed(4).padStart(9)}  ${l.recall.toFixed(4).padStart(6)}  ${l.f1.toFixed(4).padStart(6)}`);
  }
  if (m.topConfusions.length) {
    lines.push('', 'most confused (truth → predicted):');
    for (const c of m.topConfusions) lines.push(`  ${String(c.count).padStart(6)}  ${c.truth} → ${c.pred}`);
  }
  return lines.join('\n');
}
