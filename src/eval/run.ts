/**
 * Runs audit records through kontext's own stages in-process — normalize (dedupe, final
 * stage, event-time order) → label → cluster — and returns the contexts and every event's
 * label. No Elasticsearch: the store only persists what the clusterer wrote.
 */
import type { ContextDoc } from '../types/context.ts';
import type { LabelStage, LabeledEvent } from '../types/pipeline.ts';
import { createNormalizer } from '../normalize/index.ts';
import { replay } from '../cluster/replay.ts';
import type { ClustererOptions } from '../cluster/clusterer.ts';

export interface ContextRun {
  docs: ContextDoc[];
  /** auditID → label key the label stage gave */
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
  /** called with the number of records pushed so far */
  progress?: (records: number) => void;
}

/** Pushes raw records (audit events as read from a log) through normalize → label → cluster. */
export async function runContexts(records: Iterable<unknown>, labeler: LabelStage, opts: RunOptions = {}): Promise<ContextRun> {
  const started = performance.now();
  const norm = createNormalizer({ lateness: opts.lateness ?? 2000 });
  const chunk = opts.chunk ?? 2000;
  const labeled: LabeledEvent[] = [];
  let buf: unknown[] = [];
  let pushed = 0;
  const step = async (force: boolean) => {
    norm.push(buf); pushed += buf.length; buf = [];
    const ready = norm.drain(force);
    if (ready.length) labeled.push(...(await labeler.push(ready)));
    opts.progress?.(pushed);
  };
  for (const r of records) {
    buf.push(r);
    if (buf.length >= chunk) await step(false);
  }
  await step(true);
  labeled.push(...(await labeler.flush()));
  const docs = await replay(labeled, opts);
  const labels = new Map<string, string>();
  for (const e of labeled) labels.set(e.audit.auditID, e.labelKey);
  return { docs: [...docs.values()], labels, events: labeled.length, seconds: (performance.now() - started) / 1000 };
}
