/**
 * Process-wide metrics in the Prometheus text format (served at /metrics), on prom-client:
 * counters and gauges with optional labels (label names are learned from use), histograms with
 * buckets, and the default process metrics (CPU, memory, event-loop lag, GC, handles) as
 * `kontext_process_*` / `kontext_nodejs_*`.
 */
import { Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, Registry, collectDefaultMetrics } from 'prom-client';

type Labels = Record<string, string>;

/** The registry /metrics renders. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'kontext_' });

export interface Counter { inc(labels?: Labels, n?: number): void; get(labels?: Labels): number }
export interface Gauge { set(v: number, labels?: Labels): void; inc(labels?: Labels, n?: number): void; get(labels?: Labels): number }
export interface Histogram {
  /** records one observation (seconds for durations) */
  observe(v: number, labels?: Labels): void;
  /** starts a timer; calling the result records the elapsed seconds */
  startTimer(labels?: Labels): (more?: Labels) => number;
}

function key(labels?: Labels): string {
  if (!labels) return '';
  const ks = Object.keys(labels);
  if (ks.length === 0) return '';
  if (ks.length === 1) return `${ks[0]}=${labels[ks[0]!]}`;
  return ks.sort().map((k) => `${k}=${labels[k]}`).join('\u0000');
}

/**
 * A counter or gauge whose label names are learned from use: a call with a label not seen
 * before re-creates the prom-client metric with the wider label set and carries the values
 * over. Values are mirrored so `get` answers synchronously.
 */
class Series {
  readonly values = new Map<string, { labels: Labels; v: number }>();
  private labelNames: string[] = [];
  private metric: PromCounter<string> | PromGauge<string>;
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge') {
    this.metric = this.create();
  }

  private create(): PromCounter<string> | PromGauge<string> {
    const cfg = { name: this.name, help: this.help, labelNames: this.labelNames, registers: [registry] };
    return this.type === 'counter' ? new PromCounter(cfg) : new PromGauge(cfg);
  }

  private widen(labels: Labels): void {
    const extra = Object.keys(labels).filter((k) => !this.labelNames.includes(k));
    if (!extra.length) return;
    registry.removeSingleMetric(this.name);
    this.labelNames = [...this.labelNames, ...extra];
    this.metric = this.create();
    for (const { labels: l, v } of this.values.values()) {
      if (this.metric instanceof PromCounter) this.metric.inc(l, v); else this.metric.set(l, v);
    }
  }

  add(labels: Labels | undefined, n: number): void {
    const l = labels ?? {};
    const k = key(labels);
    let e = this.values.get(k);
    if (!e) { this.widen(l); e = { labels: { ...l }, v: 0 }; this.values.set(k, e); }
    e.v += n;
    if (this.metric instanceof PromCounter) this.metric.inc(l, n); else this.metric.inc(l, n);
  }

  set(labels: Labels | undefined, v: number): void {
    const l = labels ?? {};
    const k = key(labels);
    let e = this.values.get(k);
    if (!e) { this.widen(l); e = { labels: { ...l }, v: 0 }; this.values.set(k, e); }
    e.v = v;
    (this.metric as PromGauge<string>).set(l, v);
  }

  get(labels?: Labels): number { return this.values.get(key(labels))?.v ?? 0; }
}

const series = new Map<string, Series>();
const histograms = new Map<string, Histogram>();

function seriesFor(name: string, help: string, type: 'counter' | 'gauge'): Series {
  let s = series.get(name);
  if (!s) { s = new Series(name, help, type); series.set(name, s); }
  else if (s.type !== type) throw new Error(`metric ${name} is a ${s.type}, not a ${type}`);
  return s;
}

export function counter(name: string, help: string): Counter {
  const s = seriesFor(name, help, 'counter');
  return {
    inc(labels, n = 1) { s.add(labels, n); },
    get(labels) { return s.get(labels); },
  };
}

export function gauge(name: string, help: string): Gauge {
  const s = seriesFor(name, help, 'gauge');
  return {
    set(v, labels) { s.set(labels, v); },
    inc(labels, n = 1) { s.add(labels, n); },
    get(labels) { return s.get(labels); },
  };
}

/** Default buckets for durations in seconds: 1 ms to 60 s. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** A histogram (Prometheus `_bucket`, `_sum`, `_count`); the same name returns the same histogram. */
export function histogram(name: string, help: string, opts: { labelNames?: string[]; buckets?: number[] } = {}): Histogram {
  const existing = histograms.get(name);
  if (existing) return existing;
  const h = new PromHistogram({ name, help, labelNames: opts.labelNames ?? [], buckets: opts.buckets ?? DURATION_BUCKETS, registers: [registry] });
  const out: Histogram = {
    observe(v, labels) { if (labels) h.observe(labels, v); else h.observe(v); },
    startTimer(labels) { return labels ? h.startTimer(labels) : h.startTimer(); },
  };
  histograms.set(name, out);
  return out;
}

/** The Prometheus text exposition of every metric. */
export function renderMetrics(): Promise<string> { return registry.metrics(); }

/** Content type of renderMetrics' text. */
export const METRICS_CONTENT_TYPE = registry.contentType;
