import type { AuditEvent } from './audit.ts';
import type { Label } from './label.ts';

/**
 * A receipt stands for one unit a source must confirm upstream (a forward `chunk`, a webhook
 * POST, a replayed file block). Every event carries the receipt of the unit it came in; when
 * the last event of a unit is durably stored (or deliberately dropped, e.g. a duplicate),
 * the receipt resolves and the source acks. A failure rejects it and the source does not ack,
 * so the peer retries.
 */
export interface Receipt {
  /** one event of this unit is settled (stored, or dropped on purpose) */
  settle(n?: number): void;
  /** the unit cannot be stored; the source must not ack it */
  fail(err: Error): void;
  /** one event of this unit is a copy of one received before (it settles with the original; optional) */
  duplicate?(n?: number): void;
}

/** Normalize → label. One audit event in its final stage, with event time in epoch ms. */
export interface KEvent {
  audit: AuditEvent;
  /** requestReceivedTimestamp, epoch milliseconds (sub-ms precision kept as fraction) */
  time: number;
  receipt?: Receipt;
  /** the Kubernetes cluster it came from (set by normalize: record key, forward tag, webhook path or --cluster-name) */
  cluster?: string;
}

/** Label → cluster. */
export interface LabeledEvent extends KEvent {
  label: Label;
  /** labelKey(label) */
  labelKey: string;
  labelSource: 'rule' | 'model';
  /** vote share of the winning class, 1 for rules */
  confidence: number;
  /** link keys from bodies the clusterer stripped (kept for the stored member, see ContextMember.keys) */
  linkKeys?: string[];
}

/**
 * What sources push into. Implemented by the pipeline (normalize → label → cluster → store).
 * `push` never blocks; a source checks `saturated` and pauses its sockets until `onDrain` fires.
 */
export interface Downstream {
  /** `cluster`: the cluster the unit came from when the source knows it (forward tag, webhook path) */
  push(records: unknown[], receipt?: Receipt, cluster?: string): void;
  readonly saturated: boolean;
  onDrain(cb: () => void): void;
}

/**
 * Normalize stage: raw records (whatever a source received) → valid audit events in their
 * final stage, deduplicated by auditID+stage and put in event-time order within the reorder
 * horizon; invalid events go to the dead-letter sink.
 */
export interface NormalizeStage {
  /** accept raw records (of `cluster` when the source knows it); returns nothing until events are released by `drain` */
  push(records: unknown[], receipt?: Receipt, cluster?: string): void;
  /**
   * Release, in event-time order, the events whose turn has come (see src/normalize/index.ts:
   * reorder wait and horizon). `force` releases everything (shutdown, end of a replay).
   */
  drain(force?: boolean): KEvent[];
  /** events held, for backpressure accounting */
  readonly pending: number;
  /** estimated bytes of the events held, and the bound past which sources must pause */
  readonly pendingBytes?: number;
  readonly byteLimit?: number;
  /** the input is a backlog being caught up (its newest event time far behind the wall clock) */
  readonly catchingUp?: boolean;
}

/**
 * Label stage: events in order → the same events with labels. May hold events back while a
 * window fills; `flush` labels everything held.
 */
export interface LabelStage {
  push(events: KEvent[]): Promise<LabeledEvent[]>;
  flush(): Promise<LabeledEvent[]>;
  /** event time has reached `time` with no event (a live input gone quiet): labels what waited long enough for it */
  advance?(time: number): Promise<LabeledEvent[]>;
  readonly pending: number;
}
