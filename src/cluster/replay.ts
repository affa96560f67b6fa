/**
 * Offline runs of the clusterer: replay labeled events with a simulated flush tick and return
 * the final context documents. Used by evaluation, benchmarks and tests; the live pipeline
 * drives the clusterer itself.
 */
import type { AuditEvent } from '../types/audit.ts';
import { TRUTH_LABEL_ANNOTATION } from '../types/audit.ts';
import type { ContextDoc } from '../types/context.ts';
import { parseLabelKey } from '../types/label.ts';
import type { LabeledEvent } from '../types/pipeline.ts';
import { createClusterer, type ClustererOptions } from './clusterer.ts';
import type { ClusterStage, ContextWrite } from './types.ts';

/** Event time of an audit event (requestReceivedTimestamp, epoch ms with sub-ms fraction). */
export function eventTime(a: AuditEvent): number {
  const ts = a.requestReceivedTimestamp || a.stageTimestamp;
  const ms = Date.parse(ts);
  if (!Number.isFinite(ms)) throw new Error(`event ${a.auditID}: invalid requestReceivedTimestamp ${JSON.stringify(ts)}`);
  const frac = /\.(\d{4,9})/.exec(ts);
  return frac ? ms + Number(`0.${frac[1]!.slice(3)}`) : ms;
}

/**
 * The "oracle labeler": labels an event with the simulator's ground-truth label
 * (`sim.kontext.io/label`), so the clusterer can be evaluated on its own.
 */
export function oracleLabel(a: AuditEvent): LabeledEvent {
  const key = a.annotations?.[TRUTH_LABEL_ANNOTATION];
  if (!key) throw new Error(`event ${a.auditID} has no ${TRUTH_LABEL_ANNOTATION} annotation (not from the simulator?)`);
  return { audit: a, time: eventTime(a), label: parseLabelKey(key), labelKey: key, labelSource: 'rule', confidence: 1 };
}

/**
 * Puts a nearly ordered stream in event-time order, holding events until the newest time seen
 * is `latenessMs` past them (what the normalize stage does in the pipeline).
 */
export function* reorder<T extends { time: number }>(events: Iterable<T>, latenessMs = 2_000): Generator<T> {
  let buf: T[] = [];
  let newest = -Infinity;
  let sinceSort = 0;
  for (const e of events) {
    buf.push(e);
    if (e.time > newest) newest = e.time;
    if (++sinceSort >= 512) {
      sinceSort = 0;
      buf.sort((a, b) => a.time - b.time);
      const cut = newest - latenessMs;
      let i = 0;
      while (i < buf.length && buf[i]!.time <= cut) yield buf[i++]!;
      buf = buf.slice(i);
    }
  }
  buf.sort((a, b) => a.time - b.time);
  yield* buf;
}

export interface ReplayOptions extends ClustererOptions {
  /** flush tick in event time (default 1 s) */
  tickMs?: number;
  /** called with each tick's writes (e.g. to store them) */
  onWrites?: (writes: ContextWrite[]) => void | Promise<void>;
  /** a ready clusterer to drive instead of a new one */
  clusterer?: ClusterStage;
}

/**
 * Replays events (in event-time order) through the clusterer, collecting on an event-time
 * tick, and returns the final state of every context by id.
 */
export async function replay(events: Iterable<LabeledEvent>, opts: ReplayOptions = {}): Promise<Map<string, ContextDoc>> {
  const cl = opts.clusterer ?? createClusterer(opts);
  const tick = opts.tickMs ?? 1_000;
  const docs = new Map<string, ContextDoc>();
  let nextTick = -Infinity;
  let batch: LabeledEvent[] = [];
  const flush = async (wm: number | undefined, force: boolean) => {
    if (batch.length) { cl.push(batch); batch = []; }
    const writes = cl.collect(wm, force);
    for (const w of writes) docs.set(w.doc.id, w.doc);
    if (opts.onWrites && writes.length) await opts.onWrites(writes);
  };
  for (const e of events) {
    if (nextTick === -Infinity) nextTick = e.time + tick;
    while (e.time >= nextTick) {
      await flush(nextTick, false);
      nextTick += tick;
    }
    batch.push(e);
  }
  await flush(undefined, true);
  return docs;
}
