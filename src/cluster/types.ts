/**
 * Interfaces between the clusterer (src/cluster), the context writer (src/store) and the
 * pipeline that drives both on a flush tick.
 *
 *   label → ClusterStage.push(events)      (event-time order)
 *   tick  → ClusterStage.collect(watermark) → ContextWrite[] → ContextSink.write(batch)
 *   ES ack → receipts settled, onStored(docs) (publish closed contexts to subscribers)
 */
import type { AuditEvent } from '../types/audit.ts';
import type { ContextDoc } from '../types/context.ts';
import type { LabeledEvent, Receipt } from '../types/pipeline.ts';

/** n events of one source unit; settled once (settle(n)) when the write carrying it is acked. */
export interface ReceiptShare { receipt: Receipt; n: number }

/** An audit event to keep in the optional raw index (`rawRetention` > 0). */
export interface RawEvent { auditID: string; time: number; contextId: string; audit: AuditEvent }

/**
 * One document write: the whole current state of a context (index op by `_id`, so a
 * re-write replaces the document in place).
 */
export interface ContextWrite {
  doc: ContextDoc;
  /**
   * Monotonic per context for a given input (2 × eventCount + closed); the writer uses it as
   * an external version so an older state never overwrites a newer one, even across retries
   * and replays.
   */
  version: number;
  /** members added since the previous write of this context, not stored yet */
  newEvents: number;
  /**
   * auditIDs of the members added since the previous write of this context (the writer sends
   * only these besides the summary); absent = every member of `doc` is new
   */
  added?: string[];
  /** receipts of those members; settled only after Elasticsearch acknowledged the write */
  receipts: ReceiptShare[];
  /** raw events of those members (only when the clusterer keeps raw events) */
  raw?: RawEvent[];
}

/** The streaming clusterer. Not thread-safe; call from one loop. */
export interface ClusterStage {
  /** Events in event-time order (small disorder is tolerated: late events attach to recent contexts). */
  push(events: LabeledEvent[]): void;
  /**
   * Closes contexts that are idle, too old or full relative to `watermark` (event time, epoch
   * ms; default: newest event time pushed, advanced by the wall time since the last push when
   * the input is quiet) and returns the writes of every context that
   * changed since the previous call (open ones as `state: 'open'`). `force` closes every open
   * context (shutdown, or a long pause of the input).
   */
  collect(watermark?: number, force?: boolean): ContextWrite[];
  /** newest event time pushed (epoch ms), -Infinity before the first event */
  readonly watermark: number;
  /** contexts still open */
  readonly openContexts: number;
  /** closed contexts still held for late events */
  readonly retainedContexts: number;
  /** events pushed whose context has not been collected yet */
  readonly pending: number;
}

export interface WriteResult {
  /** documents Elasticsearch acknowledged (including ones superseded by a newer version) */
  stored: number;
  /** documents given up on (rejected as invalid); their receipts were failed */
  rejected: number;
}

/**
 * Where context writes go. `write` queues the batch and resolves once every write in it is
 * durably stored (acknowledged by Elasticsearch) or rejected for good; transient failures
 * (connection refused, 429, 5xx) are retried with exponential backoff and never resolve the
 * promise early. A newer write of the same context supersedes a queued older one.
 */
export interface ContextSink {
  write(batch: ContextWrite[]): Promise<WriteResult>;
  /** false while Elasticsearch is failing; sources should pause */
  readonly healthy: boolean;
  /** events queued but not yet acknowledged */
  readonly backlog: number;
  /** context documents queued (after coalescing by id) */
  readonly backlogDocs: number;
  /** called with the documents of every acknowledged bulk; returns an unsubscribe function */
  onStored(cb: (docs: ContextDoc[]) => void): () => void;
  /** waits until everything queued is stored (retrying as needed), then stops timers */
  close(): Promise<void>;
}
