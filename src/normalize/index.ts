/**
 * Normalize stage: raw records → valid audit events in their final stage, one per auditID,
 * in event-time (requestReceivedTimestamp) order within a reorder horizon.
 *
 * - unwrap: the event itself, an EventList, or a log shipper's wrapper (see unwrap.ts);
 *   records that hold no event at all are dropped with a metric and a debug log.
 * - validate at the door: every field kontext reads is type-checked and every string it
 *   turns into a key or an id is bounded (validate.ts, schema.ts). An event that fails can
 *   never succeed on a retry: it goes with its reason to the dead-letter sink and its share
 *   of the receipt settles once the dead letter is stored (dead-letters.ts).
 * - dedupe by auditID + stage, remembering an auditID only once it is stored: a copy that
 *   arrives while the original is on its way to Elasticsearch waits for it (settles when the
 *   original's receipt settles, fails when it fails); after a failure the auditID is
 *   forgotten, so a re-sent unit is processed and stored. Stored auditIDs are remembered up
 *   to `dedupeCapacity`.
 * - final stage: of RequestReceived / ResponseStarted / ResponseComplete / Panic only the
 *   latest stage held is kept; an auditID seen only at an early stage (long-running watch)
 *   is released as that stage, and later stages of it then wait for / follow that one.
 * - reorder: events are held and released in event-time order, with a release point that
 *   understands catch-up. Live (newest event time close to the wall clock): the newest event
 *   time that arrived at least `reorderWait` (wall time) ago, and at least the newest event
 *   time minus `reorderHorizon`. Catching up a backlog (newest event time minutes behind the
 *   wall clock), chunks that a peer delivers out of order (several output workers, retries;
 *   40 minutes of event time apart) are put in place over the whole horizon, and everything
 *   goes once arrivals stop for `reorderWait`. An event behind what was already released is
 *   released at the next drain (counted late; the clusterer attaches it to its context if it
 *   still retains it).
 * - bounded memory: events are held as their JSON text (held.ts); at most `maxPending` events
 *   and `maxBytes` (that text and a fixed overhead per event) held; beyond,
 *   the oldest are released early (counted as forced). The pipeline pauses sources before.
 */
import type { AuditStage } from '../types/audit.ts';
import type { DeadLetter, DeadLetterSink } from '../types/dead-letter.ts';
import type { KEvent, NormalizeStage, Receipt } from '../types/pipeline.ts';
import { log as rootLog, type Logger } from '../util/log.ts';
import { counter, gauge } from '../util/metrics.ts';
import { partReceipt } from './receipt.ts';
import { MinHeap } from './heap.ts';
import { DEFAULT_CLUSTER, isClusterName, scopedId } from '../clusters/names.ts';
import { unwrapRecord } from './unwrap.ts';
import { validateEvent, type Validated } from './validate.ts';
import { DeadLetters, recordText } from './dead-letters.ts';
import { packEvent, unpackEvent } from './held.ts';

export { unwrapRecord, type Candidate } from './unwrap.ts';
export { validateEvent, STAGE_RANK } from './validate.ts';
export { parseAuditTime } from './time.ts';
export { LIMITS } from './schema.ts';

const eventsIn = counter('kontext_normalize_events_total', 'Audit events accepted by normalize (before dedupe).');
const rejected = counter('kontext_normalize_rejected_total', 'Records dropped or dead-lettered by normalize because they hold no valid audit event, by reason.');
const dropped = counter('kontext_normalize_dropped_total', 'Audit events dropped on purpose: duplicate (same auditID+stage), superseded (a later stage of the auditID is kept), after-release (stage arrived after the auditID was released).');
const lateTotal = counter('kontext_normalize_late_total', 'Events that arrived after events with a later time were already released (out of order beyond the reorder wait/horizon).');
const forcedTotal = counter('kontext_normalize_forced_total', 'Events released before their turn because max-pending events or max-buffer bytes were held.');
const pendingGauge = gauge('kontext_normalize_pending', 'Events held by normalize for reordering.');
const bytesGauge = gauge('kontext_normalize_pending_bytes', 'Estimated bytes of the events held by normalize.');

export interface NormalizeOptions {
  /** how far (event time, ms) an event may be behind the newest one and still be put in order (default 1 h) */
  reorderHorizon?: number;
  /** former name of reorderHorizon */
  lateness?: number;
  /** how long (wall time, ms) an event waits for older events that arrive after it (default 2000) */
  reorderWait?: number;
  /** most events held for reordering (default 100000) */
  maxPending?: number;
  /** most bytes (estimated) held for reordering (default 256 MiB) */
  maxBytes?: number;
  /** stored auditIDs remembered to drop re-sent duplicates (default 200000) */
  dedupeCapacity?: number;
  /** where invalid events go; without one they are counted, logged and acknowledged */
  deadLetters?: DeadLetterSink;
  logger?: Logger;
  /** wall clock (tests) */
  now?: () => number;
  /** the cluster of records that name none (default "default") */
  clusterName?: string;
  /** record field naming the cluster, before the one the source passes */
  clusterKey?: string;
  /** clusters accepted; events of others are dead-lettered (`foreign-cluster`). Absent: any */
  clusters?: readonly string[];
}

export interface NormalizeStats {
  accepted: number;
  rejected: number;
  deadLettered: number;
  duplicates: number;
  superseded: number;
  afterRelease: number;
  late: number;
  forced: number;
  released: number;
  pending: number;
}

/** newest event time this far (ms) behind the wall clock: the input is a backlog being caught up */
export const CATCH_UP_LAG_MS = 120_000;

const STAGE_BIT: Record<AuditStage, number> = { RequestReceived: 1, ResponseStarted: 2, ResponseComplete: 4, Panic: 8 };

interface Held {
  /** `<cluster>/<auditID>`: dedupe and final-stage selection are per cluster (auditIDs of two clusters may collide) */
  id: string;
  cluster: string;
  time: number;
  seq: number;
  /** the event's JSON (held.ts: far smaller than the decoded object, and it ages nothing into the old generation) */
  json: string;
  rank: number;
  receipt?: Receipt;
  stages: number;
  bytes: number;
  /** receipts of copies and superseded stages: they settle or fail with this one */
  waiters: Receipt[];
}

/** an auditID released and not yet stored: copies of it wait for its outcome */
interface InFlight { stages: number; waiters: Receipt[] }

/** short, generic reason for the metric label (the debug log carries the detail) */
function reasonLabel(reason: string): string {
  if (reason.startsWith('invalid JSON')) return 'invalid-json';
  if (reason.startsWith('not an audit event')) return 'not-an-event';
  return 'not-an-event';
}

export class Normalizer implements NormalizeStage {
  private readonly horizon: number;
  private readonly wait: number;
  private readonly maxPending: number;
  private readonly maxBytes: number;
  private readonly dedupeCapacity: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly dead: DeadLetters;
  private readonly clusterName: string;
  private readonly clusterKey: string | undefined;
  private readonly clusters: ReadonlySet<string> | undefined;
  private readonly held = new Map<string, Held>();
  private readonly heap = new MinHeap<Held>((a, b) => a.time < b.time || (a.time === b.time && a.seq < b.seq));
  /** arrivals in wall-time order: [wall ms, event time] (for the wait-based release point) */
  private arrivals: number[] = [];
  private arrivalsHead = 0;
  private readonly inflight = new Map<string, InFlight>();
  /** auditID → stage bits, of events stored (insertion order = store order) */
  private readonly stored = new Map<string, number>();
  private seq = 0;
  private maxTime = -Infinity;
  private waitedTime = -Infinity;
  private lastArrival = -Infinity;
  private lastReleased = -Infinity;
  private heldBytes = 0;
  private readonly s: Omit<NormalizeStats, 'pending'> = { accepted: 0, rejected: 0, deadLettered: 0, duplicates: 0, superseded: 0, afterRelease: 0, late: 0, forced: 0, released: 0 };

  constructor(opts: NormalizeOptions = {}) {
    this.horizon = Math.max(0, opts.reorderHorizon ?? opts.lateness ?? 3_600_000);
    this.wait = Math.max(0, opts.reorderWait ?? 2000);
    this.maxPending = Math.max(1, opts.maxPending ?? 100_000);
    this.maxBytes = Math.max(1, opts.maxBytes ?? 256 * 1024 * 1024);
    this.dedupeCapacity = Math.max(1, opts.dedupeCapacity ?? 200_000);
    this.log = (opts.logger ?? rootLog).child({ component: 'normalize' });
    this.now = opts.now ?? Date.now;
    this.dead = new DeadLetters(opts.deadLetters, this.log, this.now);
    this.clusterName = opts.clusterName ?? DEFAULT_CLUSTER;
    this.clusterKey = opts.clusterKey;
    this.clusters = opts.clusters?.length ? new Set(opts.clusters) : undefined;
  }

  /** the cluster of a record: its `clusterKey` field, else the source's, else the default; a dead letter when it is not one */
  private clusterOf(record: unknown, fromSource: string | undefined): string | DeadLetter {
    let name: unknown = fromSource ?? this.clusterName;
    if (this.clusterKey !== undefined && typeof record === 'object' && record !== null && !Array.isArray(record)) {
      const v = (record as Record<string, unknown>)[this.clusterKey];
      if (v !== undefined) name = v;
    }
    if (!isClusterName(name)) {
      return { time: this.now(), stage: 'normalize', reason: 'bad-format', detail: `cluster (${this.clusterKey ?? 'source'}): not a cluster name (1-63 of A-Z a-z 0-9 . _ -)`, record: recordText(record) };
    }
    if (this.clusters && !this.clusters.has(name)) {
      return { time: this.now(), stage: 'normalize', reason: 'foreign-cluster', detail: `cluster ${name} is not one of --clusters (${[...this.clusters].join(',')})`, record: recordText(record) };
    }
    return name;
  }

  /** events held (and dead letters not stored yet), for backpressure accounting */
  get pending(): number { return this.held.size + this.dead.pending; }
  /** estimated bytes of the events held */
  get pendingBytes(): number { return this.heldBytes; }
  /** the byte bound; the pipeline pauses sources when it is reached */
  get byteLimit(): number { return this.maxBytes; }
  /** auditIDs released and not stored yet */
  get unstored(): number { return this.inflight.size; }

  stats(): NormalizeStats { return { ...this.s, pending: this.held.size }; }

  push(records: unknown[], receipt?: Receipt, cluster?: string): void {
    const dead: { entry: DeadLetter; share?: Receipt }[] = [];
    for (const record of records) {
      const cl = this.clusterOf(record, cluster);
      if (typeof cl !== 'string') {
        this.s.rejected++; this.s.deadLettered++;
        rejected.inc({ reason: cl.reason });
        dead.push({ entry: cl, share: receipt });
        continue;
      }
      const cands = unwrapRecord(record);
      const share = receipt && (cands.length === 1 ? receipt : partReceipt(receipt, cands.length));
      for (const c of cands) {
        if ('reject' in c) { this.reject(c.reject, record, share); continue; }
        const v = validateEvent(c.event);
        if (!v.ok) { dead.push({ entry: this.deadLetter(v, c.event), share }); continue; }
        this.accept(v, share, cl);
      }
    }
    this.dead.put(dead);
    this.gauges();
  }

  private deadLetter(v: Extract<Validated, { ok: false }>, event: unknown): DeadLetter {
    this.s.rejected++;
    this.s.deadLettered++;
    rejected.inc({ reason: v.code });
    const entry: DeadLetter = { time: this.now(), stage: 'normalize', reason: v.code, detail: v.reason };
    if (v.auditID) entry.auditID = v.auditID;
    const text = recordText(event);
    if (text !== undefined) entry.record = text;
    return entry;
  }

  private reject(reason: string, record: unknown, share: Receipt | undefined): void {
    this.s.rejected++;
    rejected.inc({ reason: reasonLabel(reason) });
    const keys = typeof record === 'object' && record !== null && !Array.isArray(record) ? Object.keys(record).slice(0, 8) : undefined;
    this.log.debug(`dropping record: ${reason}`, { keys });
    share?.settle();
  }

  private count(kind: 'duplicate' | 'superseded' | 'after-release'): void {
    if (kind === 'duplicate') this.s.duplicates++;
    else if (kind === 'superseded') this.s.superseded++;
    else this.s.afterRelease++;
    dropped.inc({ reason: kind });
  }

  private accept(v: Extract<Validated, { ok: true }>, receipt: Receipt | undefined, cluster: string): void {
    this.s.accepted++;
    eventsIn.inc();
    const id = scopedId(cluster, v.event.auditID);
    const bit = STAGE_BIT[v.event.stage];
    const st = this.stored.get(id);
    if (st !== undefined) {
      this.stored.set(id, st | bit);
      this.count(st & bit ? 'duplicate' : 'after-release');
      if (st & bit) receipt?.duplicate?.();
      receipt?.settle();
      return;
    }
    const f = this.inflight.get(id);
    if (f) {
      this.count(f.stages & bit ? 'duplicate' : 'after-release');
      if (f.stages & bit) receipt?.duplicate?.();
      f.stages |= bit;
      if (receipt) f.waiters.push(receipt);
      return;
    }
    const h = this.held.get(id);
    if (h) {
      // a copy or another stage of a held event: settles (or fails) with the one kept
      if (h.stages & bit) { this.count('duplicate'); if (receipt) { receipt.duplicate?.(); h.waiters.push(receipt); } return; }
      h.stages |= bit;
      this.count('superseded');
      if (v.rank > h.rank) {
        const old = h.receipt;
        const { json, bytes } = packEvent(v.event);
        this.heldBytes += bytes - h.bytes;
        h.json = json; h.rank = v.rank; h.receipt = receipt; h.bytes = bytes;
        if (old) h.waiters.push(old);
      } else if (receipt) {
        h.waiters.push(receipt);
      }
      return;
    }
    const { json, bytes } = packEvent(v.event);
    const e: Held = { id, cluster, time: v.time, seq: this.seq++, json, rank: v.rank, receipt, stages: bit, bytes, waiters: [] };
    this.held.set(id, e);
    this.heap.push(e);
    this.heldBytes += e.bytes;
    const now = this.now();
    this.arrivals.push(now, v.time);
    this.lastArrival = now;
    if (v.time > this.maxTime) this.maxTime = v.time;
    if (v.time < this.lastReleased) { this.s.late++; lateTotal.inc(); }
  }

  /** newest event time that arrived at least `reorderWait` ago */
  private advanceWaited(now: number): number {
    const cut = now - this.wait;
    const a = this.arrivals;
    let i = this.arrivalsHead;
    while (i < a.length && a[i]! <= cut) {
      if (a[i + 1]! > this.waitedTime) this.waitedTime = a[i + 1]!;
      i += 2;
    }
    if (i >= a.length) { this.arrivals = []; this.arrivalsHead = 0; }
    else if (i > 65_536 && i * 2 > a.length) { this.arrivals = a.slice(i); this.arrivalsHead = 0; }
    else this.arrivalsHead = i;
    return this.waitedTime;
  }

  /**
   * The event time up to which held events are released now. Live (the newest event is
   * close to the wall clock): what arrived at least `reorderWait` ago, at least the newest
   * time minus the horizon. Catching up (a backlog, the newest event more than
   * CATCH_UP_LAG_MS behind the wall clock): order over the whole horizon — processing a
   * backlog competes with reading it, so wall time says nothing about its order — and release
   * everything once arrivals stop for `reorderWait`.
   */
  releasePoint(): number {
    const now = this.now();
    const waited = this.advanceWaited(now);
    if (this.held.size === 0) return waited;
    if (now - this.maxTime <= CATCH_UP_LAG_MS) return Math.max(this.maxTime - this.horizon, waited);
    if (now - this.lastArrival >= this.wait) return Infinity;
    return this.maxTime - this.horizon;
  }

  /** whether the input is a backlog being caught up (see releasePoint) */
  get catchingUp(): boolean { return this.now() - this.maxTime > CATCH_UP_LAG_MS; }

  drain(force = false): KEvent[] {
    const point = force ? Infinity : this.releasePoint();
    const out: KEvent[] = [];
    for (;;) {
      const top = this.heap.peek();
      if (!top) break;
      if (top.time > point) {
        if (this.held.size <= this.maxPending && this.heldBytes <= this.maxBytes) break;
        this.s.forced++;
        forcedTotal.inc();
      }
      this.heap.pop();
      this.held.delete(top.id);
      this.heldBytes -= top.bytes;
      if (top.time > this.lastReleased) this.lastReleased = top.time;
      out.push({ audit: unpackEvent(top.json), time: top.time, receipt: this.track(top), cluster: top.cluster });
    }
    if (!this.held.size) this.heldBytes = 0;
    this.s.released += out.length;
    this.gauges();
    return out;
  }

  /** the receipt a released event carries: its outcome decides what copies of it do */
  private track(h: Held): Receipt {
    const id = h.id;
    const origin = h.receipt;
    const f: InFlight = { stages: h.stages, waiters: h.waiters };
    this.inflight.set(id, f);
    let done = false;
    return {
      settle: () => {
        if (done) return;
        done = true;
        if (this.inflight.get(id) === f) this.inflight.delete(id);
        this.remember(id, f.stages);
        origin?.settle();
        for (const w of f.waiters) w.settle();
      },
      fail: (err: Error) => {
        if (done) return;
        done = true;
        // forgotten: a re-sent copy is processed and stored
        if (this.inflight.get(id) === f) this.inflight.delete(id);
        origin?.fail(err);
        for (const w of f.waiters) w.fail(err);
      },
    };
  }

  private remember(id: string, stages: number): void {
    this.stored.delete(id);
    this.stored.set(id, stages);
    if (this.stored.size > this.dedupeCapacity) {
      const oldest = this.stored.keys().next().value;
      if (oldest !== undefined) this.stored.delete(oldest);
    }
  }

  private gauges(): void {
    pendingGauge.set(this.held.size);
    bytesGauge.set(this.heldBytes);
  }
}

export function createNormalizer(opts: NormalizeOptions = {}): Normalizer {
  return new Normalizer(opts);
}
