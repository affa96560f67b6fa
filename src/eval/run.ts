/**
 * Runs audit records through kontext's own stages in-process — normalize (dedupe, final
 * stage, event-time order) → label → cluster — and returns the contexts and every event's
 * label. No Elasticsearch: the store only persists what the clusterer wrote.
 *
 * Streaming: records are pulled in chunks, each chunk's labeled events go into the clusterer
 * as they leave the label stage (on an event-time flush tick, as `replay` does), so memory is
 * bounded by what the stages hold, not by the length of the log.
 */
import type { ContextDoc } from '../types/context.ts';
import type { LabelStage, LabeledEvent } from '../types/pipeline.ts';
import { createNormalizer } from '../normalize/index.ts';
import { createClusterer, type ClustererOptions } from '../cluster/clusterer.ts';

export interface ContextRun {
  docs: ContextDoc[];
  /** auditID → label key the label stage gave (when asked for: `labels`) */
  labels: Map<string, string>;
  /** events that left normalize */
  events: number;
  /** wall-clock seconds of the run */
  seconds: number;
}

export interface RunOptions extends ClustererOptions {
  /** normalize's lateness window, ms (default 2000, as `kontext serve`) */
  lateness?: number;
  /** records per push (default 2000) */
  chunk?: number;
  /** flush tick of the clusterer in event time, ms (default 1000, as `replay`) */
  tickMs?: number;
  /** keep every event's label (label macro-F1); off, only the contexts are kept */
  labels?: boolean;
  /** called with the number of records pushed so far */
  progress?: (records: number) => void;
}

/** Pushes raw records (audit events as read from a log) through normalize → label → cluster. */
export async function runContexts(records: Iterable<unknown> | AsyncIterable<unknown>, labeler: LabelStage, opts: RunOptions = {}): Promise<ContextRun> {
  const started = performance.now();
  const norm = createNormalizer({ lateness: opts.lateness ?? 2000 });
  const cl = createClusterer(opts);
  const chunk = opts.chunk ?? 2000;
  const tick = opts.tickMs ?? 1_000;
  const docs = new Map<string, ContextDoc>();
  const labels = new Map<string, string>();
  let events = 0;
  let nextTick = -Infinity;
  let batch: LabeledEvent[] = [];
  const collect = (wm: number | undefined, force: boolean) => {
    if (batch.length) { cl.push(batch); batch = []; }
    for (const w of cl.collect(wm, force)) docs.set(w.doc.id, w.doc);
  };
  const cluster = (labeled: readonly LabeledEvent[]) => {
    for (const e of labeled) {
      events++;
      if (opts.labels) labels.set(e.audit.auditID, e.labelKey);
      if (nextTick === -Infinity) nextTick = e.time + tick;
      while (e.time >= nextTick) { collect(nextTick, false); nextTick += tick; }
      batch.push(e);
    }
  };
  let buf: unknown[] = [];
  let pushed = 0;
  const step = async (force: boolean) => {
    norm.push(buf); pushed += buf.length; buf = [];
    const ready = norm.drain(force);
    if (ready.length) cluster(await labeler.push(ready));
    opts.progress?.(pushed);
  };
  for await (const r of records) {
    buf.push(r);
    if (buf.length >= chunk) await step(false);
  }
  await step(true);
  cluster(await labeler.flush());
  collect(undefined, true);
  return { docs: [...docs.values()], labels, events, seconds: (performance.now() - started) / 1000 };
}
