/**
 * One contract for every stage and one for every source.
 *
 *   Source.start(downstream) ──push(records, receipt)──▶ Stage<RawUnit, KEvent>     (normalize)
 *                                                      ▶ Stage<KEvent, LabeledEvent> (label)
 *                                                      ▶ Stage<LabeledEvent, ContextWrite> (cluster)
 *                                                      ▶ Stage<ContextWrite, ContextDoc>   (store)
 *
 * A stage takes items and returns the items it is done with, for the next stage; it may hold
 * items back (a reorder buffer, a labeling window, an open context) and hands them on at the
 * latest on `flush`. Every item carries the receipt of the unit it came in (events: `receipt`;
 * context writes: `receipts`), and a stage passes receipts through untouched or settles them
 * itself (dropped on purpose, stored). A stage that throws has not handed on what it held: the
 * pipeline fails those receipts, so the source does not acknowledge and the peer re-sends.
 *
 * Each stage folder exposes its stage in this shape (`*Stage` in its `contract.ts`), each source
 * folder its source; test/compliance.test.ts runs one compliance check over all of them.
 */
import type { Downstream, Receipt } from './pipeline.ts';

/** What a source pushes: the records of one unit (a forward chunk, a webhook POST, a file block). */
export interface RawUnit {
  records: unknown[];
  receipt?: Receipt;
  /** the cluster the unit came from, when the source knows it */
  cluster?: string;
}

export interface Stage<In, Out> {
  readonly name: string;
  /** Takes items; resolves with the items ready for the next stage. */
  push(items: In[]): Promise<Out[]>;
  /** Hands on everything held (end of input, shutdown). */
  flush(): Promise<Out[]>;
  /** items held */
  readonly pending: number;
  /** order of the output: event time, the input's order, or none promised */
  readonly order: 'event-time' | 'input' | 'none';
}

/** Where a started source can be reached, for logs and tests. */
export interface SourceAddress {
  /** e.g. "127.0.0.1:24224", "http://127.0.0.1:8080/webhook/audit", a file path */
  address: string;
  port?: number;
}

export interface SourceContext {
  /** aborts a source that runs to an end (a file replay) */
  signal?: AbortSignal;
}

export interface Source {
  readonly name: string;
  /** starts reading; every unit goes to `downstream.push(records, receipt)` and is acknowledged upstream only once its receipt settles */
  start(downstream: Downstream, ctx?: SourceContext): Promise<SourceAddress>;
  /** stops reading and releases sockets, timers and files; units not settled are not acknowledged */
  stop(): Promise<void>;
}
