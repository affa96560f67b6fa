/** What every benchmark returns; `kontext bench` writes them to bench-results/. */
export interface BenchMetric {
  name: string;
  value: number;
  unit: string;
  /** target this metric is held to, if any */
  target?: { op: '>=' | '<='; value: number };
}

export interface BenchResult {
  /** benchmark id, e.g. "label-throughput" */
  name: string;
  /** one line: what was measured, on what data */
  description: string;
  metrics: BenchMetric[];
  /** extra Markdown (e.g. a per-level table) printed under the metrics in results.md */
  markdown?: string;
  /** free-form details (configurations, sizes, notes) kept in the JSON output */
  details?: Record<string, unknown>;
}

export interface BenchOptions {
  /** smaller data for a smoke run */
  quick: boolean;
  log: (msg: string) => void;
}

export function met(m: BenchMetric): boolean | undefined {
  if (!m.target) return undefined;
  return m.target.op === '>=' ? m.value >= m.target.value : m.value <= m.target.value;
}
