/**
 * Normalize stage: raw records → audit events in their final stage, one per auditID, in
 * event-time (requestReceivedTimestamp) order within a lateness window.
 *
 * - unwrap: the event itself, an EventList, or a log shipper's wrapper (see unwrap.ts);
 *   records that hold no valid event are dropped with a metric and a debug log.
 * - dedupe by auditID + stage: re-sent records (a forward chunk retried after a lost ack, a
 *   webhook batch retried) are dropped; bounded memory of released auditIDs.
 * - final stage: of RequestReceived / ResponseStarted / ResponseComplete / Panic only the
 *   latest stage held is kept; an auditID seen only at an early stage (long-running watch)
 *   is released as that stage when it ages out of the window, and later stages of it are
 *   then dropped.
 * - reorder: events are held until the newest event time seen minus `lateness` passes them,
 *   then released sorted; an event arriving later than that is released at the next drain
 *   (counted as late). At most `maxPending` events are held: beyond, the oldest go early.
 * Every record dropped (not an event, duplicate, superseded) settles its share of the
 * receipt, so sources can acknowledge their units.
 */
import type { AuditStage } from '../types/audit.ts';
import type { KEvent, NormalizeStage, Receipt } from '../types/pipeline.ts';
import { log as rootLog, type Logger } from '../util/log.ts';
import { counter, gauge } from '../util/metrics.ts';
import { partReceipt } from './receipt.ts';
import { MinHeap } from './heap.ts';
import { unwrapRecord } from './unwrap.ts';
import { validateEvent, type Validated } from './validate.ts';

export { unwrapRecord, type Candidate } from './unwrap.ts';
export { validateEvent, STAGE_RANK } from './validate.ts';
export { parseAuditTime } from './time.ts';

const eventsIn = counter('kontext_normalize_events_total', 'Audit events accepted by normalize (before dedupe).');
const rejected = counter('kontext_normalize_rejected_total', 'Records dropped by normalize because they hold no valid audit event, by reason.');
const dropped = counter('kontext_normalize_dropped_total', 'Audit events dropped on purpose: duplicate (same auditID+stage), superseded (a later stage of the auditID is kept), after-release (stage arrived after the auditID was released).');
const lateTotal = counter('kontext_normalize_late_total', 'Events that arrived after events with a later time were already released (out of order by more than the lateness window).');
const forcedTotal = counter('kontext_normalize_forced_total', 'Events released before the lateness window passed because max-pending events were held.');
const pendingGauge = gauge('kontext_normalize_pending', 'Events held by normalize for reordering.');

export interface NormalizeOptions {
  /** how late (event time, ms) an event may arrive and still be put in order (default 2000) */
  lateness?: number;
  /** most events held for reordering (default 100000) */
  maxPending?: number;
  /** auditIDs remembered after release to drop late duplicates (default 200000) */
  dedupeCapacity?: number;
  logger?: Logger;
}

export interface NormalizeStats {
  accepted: number;
  rejected: number;
  duplicates: number;
  superseded: number;
  afterRelease: number;
  late: number;
  forced: number;
  released: number;
  pending: number;
}

const STAGE_BIT: Record<AuditStage, number> = { RequestReceived: 1, ResponseStarted: 2, ResponseComplete: 4, Panic: 8 };

interface Held {
  id: string;
  time: number;
  seq: number;
  event: KEvent['audit'];
  rank: number;
  receipt?: Receipt;
  stages: number;
}

/** short, generic reason for the metric label (the debug log carries the detail) */
function reasonLabel(reason: string): string {
  if (reason.startsWith('missing ')) return `missing-${reason.split(' ')[1]}`;
  if (reason.startsWith('invalid JSON')) return 'invalid-json';
  if (reason.startsWith('not an audit event')) return 'not-an-event';
  if (reason.startsWith('invalid ')) return `invalid-${reason.split(' ')[1]}`;
  if (reason.startsWith('kind ')) return 'wrong-kind';
  if (reason.startsWith('apiVersion')) return 'unsupported-apiversion';
  return 'invalid-field';
}

export class Normalizer implements NormalizeStage {
  private readonly lateness: number;
  private readonly maxPending: number;
  private readonly dedupeCapacity: number;
  private readonly log: Logger;
  private readonly held = new Map<string, Held>();
  private readonly heap = new MinHeap<Held>((a, b) => a.time < b.time || (a.time === b.time && a.seq < b.seq));
  /** auditID → stage bits, of events already released (insertion order = release order) */
  private readonly released = new Map<string, number>();
  private seq = 0;
  private maxTime = -Infinity;
  private lastReleased = -Infinity;
  private readonly s: Omit<NormalizeStats, 'pending'> = { accepted: 0, rejected: 0, duplicates: 0, superseded: 0, afterRelease: 0, late: 0, forced: 0, released: 0 };

  constructor(opts: NormalizeOptions = {}) {
    this.lateness = opts.lateness ?? 2000;
    this.maxPending = Math.max(1, opts.maxPending ?? 100_000);
    this.dedupeCapacity = Math.max(1, opts.dedupeCapacity ?? 200_000);
    this.log = (opts.logger ?? rootLog).child({ component: 'normalize' });
  }

  get pending(): number { return this.held.size; }

  stats(): NormalizeStats { return { ...this.s, pending: this.held.size }; }

  push(records: unknown[], receipt?: Receipt): void {
    for (const record of records) {
      const cands = unwrapRecord(record);
      const share = receipt && (cands.length === 1 ? receipt : partReceipt(receipt, cands.length));
      for (const c of cands) {
        if ('reject' in c) { this.reject(c.reject, record, share); continue; }
        const v = validateEvent(c.event);
        if (!v.ok) { this.reject(v.reason, record, share); continue; }
        this.accept(v, share);
      }
    }
    pendingGauge.set(this.held.size);
  }

  private reject(reason: string, record: unknown, share: Receipt | undefined): void {
    this.s.rejected++;
    rejected.inc({ reason: reasonLabel(reason) });
    const keys = typeof record === 'object' && record !== null && !Array.isArray(record) ? Object.keys(record).slice(0, 8) : undefined;
    this.log.debug(`dropping record: ${reason}`, { keys });
    share?.settle();
  }

  private drop(kind: 'duplicate' | 'superseded' | 'after-release', r: Receipt | undefined): void {
    if (kind === 'duplicate') this.s.duplicates++;
    else if (kind === 'superseded') this.s.superseded++;
    else this.s.afterRelease++;
    dropped.inc({ reason: kind });
    r?.settle();
  }

  private accept(v: Extract<Validated, { ok: true }>, receipt: Receipt | undefined): void {
    this.s.accepted++;
    eventsIn.inc();
    const id = v.event.auditID;
    const bit = STAGE_BIT[v.event.stage];
    const rel = this.released.get(id);
    if (rel !== undefined) {
      this.released.set(id, rel | bit);
      this.drop(rel & bit ? 'duplicate' : 'after-release', receipt);
      return;
    }
    const h = this.held.get(id);
    if (h) {
      if (h.stages & bit) { this.drop('duplicate', receipt); return; }
      h.stages |= bit;
      if (v.rank > h.rank) {
        const old = h.receipt;
        h.event = v.event; h.rank = v.rank; h.receipt = receipt;
        this.drop('superseded', old);
      } else {
        this.drop('superseded', receipt);
      }
      return;
    }
    const e: Held = { id, time: v.time, seq: this.seq++, event: v.event, rank: v.rank, receipt, stages: bit };
    this.held.set(id, e);
    this.heap.push(e);
    if (v.time > this.maxTime) this.maxTime = v.time;
    if (v.time < this.lastReleased) { this.s.late++; lateTotal.inc(); }
  }

  drain(force = false): KEvent[] {
    const watermark = force ? Infinity : this.maxTime - this.lateness;
    const out: KEvent[] = [];
    for (;;) {
      const top = this.heap.peek();
      if (!top) break;
      if (top.time > watermark) {
        if (this.held.size <= this.maxPending) break;
        this.s.forced++;
        forcedTotal.inc();
      }
      this.heap.pop();
      this.held.delete(top.id);
      this.remember(top.id, top.stages);
      if (top.time > this.lastReleased) this.lastReleased = top.time;
      out.push(top.receipt ? { audit: top.event, time: top.time, receipt: top.receipt } : { audit: top.event, time: top.time });
    }
    this.s.released += out.length;
    pendingGauge.set(this.held.size);
    return out;
  }

  private remember(id: string, stages: number): void {
    this.released.set(id, stages);
    if (this.released.size > this.dedupeCapacity) {
      const oldest = this.released.keys().next().value;
      if (oldest !== undefined) this.released.delete(oldest);
    }
  }
}

export function createNormalizer(opts: NormalizeOptions = {}): Normalizer {
  return new Normalizer(opts);
}
