/**
 * The pipeline: what every source pushes into. It drives the stages in one direction,
 *
 *   push(records, receipt) → normalize → label → cluster → (flush tick) → context sink (ES)
 *
 * and owns the three things no single stage can: scheduling (process as data arrives, write
 * on the flush interval), event time while the input is quiet (the watermark keeps moving
 * with the wall clock so idle contexts close and held events are released), and
 * backpressure (sources pause while too many events are in flight or Elasticsearch is down).
 *
 * Receipts travel with the events untouched; the sink settles them once Elasticsearch has
 * acknowledged the documents holding those events, and only then do sources ack upstream.
 * Nothing is logged and dropped: an error in a stage fails the receipts of every event that
 * stage held (the pipeline tracks which receipts are inside the labeler and the clusterer),
 * so the units are not acknowledged and their peers re-send them.
 */
import type { ContextDoc } from '../types/context.ts';
import type { Downstream, KEvent, LabelStage, NormalizeStage, Receipt } from '../types/pipeline.ts';
import type { ClusterStage, ContextSink } from '../cluster/types.ts';
import { counter, gauge, histogram } from '../util/metrics.ts';
import { log as rootLog } from '../util/log.ts';
import { StreamCapabilities } from './capabilities.ts';

const log = rootLog.child({ stage: 'pipeline' });

const mEvents = counter('kontext_pipeline_events_total', 'Events that left a pipeline stage.');
const mInFlight = gauge('kontext_pipeline_in_flight', 'Events received but not yet stored in Elasticsearch.');
const mSaturated = gauge('kontext_pipeline_saturated', '1 while sources are paused (backpressure).');
const mErrors = counter('kontext_pipeline_errors_total', 'Errors in the pipeline loop, by stage.');
const mFlush = histogram('kontext_pipeline_flush_duration_seconds', 'Time from handing a batch of context writes to the store until Elasticsearch acknowledged it (or it failed).');

export interface PipelineStages {
  normalize: NormalizeStage;
  label: LabelStage;
  cluster: ClusterStage;
  sink: ContextSink;
}

export interface PipelineOptions {
  /** how often contexts are collected and written (ms) */
  flushInterval: number;
  /** events in flight (received, not yet stored) above which sources pause */
  maxInFlight: number;
  /**
   * Wall-clock quiet time (ms) after which held events are released and labeled without
   * waiting for newer events; also how long event time waits before it follows the clock.
   * Default: the flush interval.
   */
  idleRelease?: number;
  /**
   * Wall-clock quiet time (ms) after which event time follows the wall clock, so contexts of
   * an input that went quiet close. Shorter quiet spells never move event time: contexts
   * close only on event time while data flows (default: idleRelease).
   */
  clockQuiet?: number;
  /**
   * Wall-clock quiet time (ms) after which a backlog being caught up counts as ended for now:
   * the labeler's last windows are labeled (so the units holding them can be acknowledged) and
   * event time follows the wall clock. Shorter pauses of a backlog change nothing: its event
   * time moves only with its events (default max(10 s, clockQuiet)).
   */
  inputEndQuiet?: number;
  /** process as soon as this many events are held by normalize (default 4096) */
  batchEvents?: number;
  /** wall clock (tests) */
  now?: () => number;
  /**
   * The restart checkpoint (store/checkpoint.ts): asked for a snapshot whenever a batch of
   * writes is handed to the sink (every event the labeler let out is in it), saved once that
   * batch is stored.
   */
  checkpoint?: { capture(newest: number, force?: boolean): (() => Promise<void>) | undefined; settled(): Promise<void> };
}

export class Pipeline implements Downstream {
  private readonly normalize: NormalizeStage;
  private readonly label: LabelStage;
  private readonly cluster: ClusterStage;
  private readonly sink: ContextSink;
  private readonly opts: Required<Omit<PipelineOptions, 'now' | 'checkpoint'>>;
  private readonly checkpoint: PipelineOptions['checkpoint'];
  private readonly now: () => number;
  private readonly drainCbs: Array<() => void> = [];
  private readonly closedSubs = new Set<(ctx: ContextDoc) => void>();
  private readonly storedSubs = new Set<(docs: ContextDoc[]) => void>();
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private lastArrival = 0;
  private lastFlush = 0;
  /** newest event time released to the labeler, and the wall time it was seen */
  private eventClock = -Infinity;
  private eventClockWall = 0;
  private stopped = false;
  private wasSaturated = false;
  private readonly writes = new Set<Promise<unknown>>();
  /** receipts of events handed to the labeler and not returned yet */
  private readonly inLabel = new Set<Receipt>();
  /** receipts of events pushed to the clusterer since its last collect */
  private inCluster: Receipt[] = [];
  /** units pushed whose records normalize has not all settled or released yet */
  private readonly inNormalize = new Set<Receipt>();
  private readonly unsubscribeSink: () => void;
  /** what the stream carries of what kontext uses (decided on its first events) */
  readonly capabilities = new StreamCapabilities();

  constructor(stages: PipelineStages, opts: PipelineOptions) {
    this.normalize = stages.normalize;
    this.label = stages.label;
    this.cluster = stages.cluster;
    this.sink = stages.sink;
    this.now = opts.now ?? Date.now;
    this.checkpoint = opts.checkpoint;
    this.opts = {
      flushInterval: opts.flushInterval,
      maxInFlight: opts.maxInFlight,
      idleRelease: opts.idleRelease ?? opts.flushInterval,
      clockQuiet: opts.clockQuiet ?? opts.idleRelease ?? opts.flushInterval,
      inputEndQuiet: opts.inputEndQuiet ?? Math.max(10_000, opts.clockQuiet ?? opts.idleRelease ?? opts.flushInterval),
      batchEvents: opts.batchEvents ?? 4096,
    };
    this.unsubscribeSink = this.sink.onStored((docs) => this.published(docs));
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(this.opts.flushInterval, this.opts.idleRelease)));
    this.timer.unref();
  }

  /** Events received and not yet durably stored (or dropped on purpose). */
  get inFlight(): number {
    return this.normalize.pending + this.label.pending + this.cluster.pending + this.sink.backlog;
  }

  get saturated(): boolean {
    const n = this.normalize;
    return this.inFlight >= this.opts.maxInFlight || !this.sink.healthy
      || (n.byteLimit !== undefined && (n.pendingBytes ?? 0) >= n.byteLimit);
  }

  onDrain(cb: () => void): void {
    this.drainCbs.push(cb);
    this.checkDrain();
  }

  push(records: unknown[], receipt?: Receipt, cluster?: string): void {
    if (this.stopped) {
      receipt?.fail(new Error('kontext is shutting down'));
      return;
    }
    try {
      this.normalize.push(records, receipt && this.trackUnit(receipt, records.length), cluster);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      mErrors.inc({ stage: 'normalize' });
      log.error('normalize failed; the unit is not acknowledged', { err });
      receipt?.fail(err);
    }
    this.lastArrival = this.now();
    if (this.normalize.pending >= this.opts.batchEvents) this.schedule();
    this.updateGauges();
  }

  /** Called with every closed context once it is stored (GraphQL subscriptions). */
  subscribeClosed(cb: (ctx: ContextDoc) => void): () => void {
    this.closedSubs.add(cb);
    return () => { this.closedSubs.delete(cb); };
  }

  /** Called with every batch of stored context documents (open and closed). */
  subscribeStored(cb: (docs: ContextDoc[]) => void): () => void {
    this.storedSubs.add(cb);
    return () => { this.storedSubs.delete(cb); };
  }

  /**
   * Processes everything received so far and writes it, closing every open context (unless
   * `close: false`: then only those due); resolves when Elasticsearch has acknowledged it all.
   * Used at end of a replay and on shutdown.
   */
  async flushAll(opts: { close?: boolean } = {}): Promise<void> {
    const force = opts.close !== false;
    await this.enqueue(async () => {
      await this.process(true, true);
      this.capabilities.decide();
      this.write(this.collect(force ? undefined : this.watermark(), force), true);
    });
    await this.settleWrites();
    await this.checkpoint?.settled();
  }

  /**
   * Stops accepting input, flushes everything, and closes the sink. `close: false` (a service
   * restart) writes open contexts as open instead of closing them, for the next start to take back.
   */
  async stop(opts: { close?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    await this.flushAll(opts);
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sink.close();
    this.unsubscribeSink();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.enqueue(() => this.process(false));
    });
  }

  private tick(): void {
    const now = this.now();
    const quiet = now - this.lastArrival >= this.opts.idleRelease;
    const flushDue = now - this.lastFlush >= this.opts.flushInterval;
    if (!quiet && !flushDue && this.normalize.pending < this.opts.batchEvents) return;
    void this.enqueue(async () => {
      await this.process(quiet);
      if (flushDue || quiet) {
        this.lastFlush = this.now();
        this.write(this.collect(this.watermark(), false));
      }
    });
  }

  /**
   * Serializes all stage work on one chain. A failed step fails the receipts of the events
   * the failing stage and the ones after it held; the error is logged and counted, never
   * thrown out of the loop.
   */
  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn).catch((e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      const stage = e instanceof StageError ? e.stage : 'loop';
      const failed = this.failHeld(err, stage);
      mErrors.inc({ stage });
      log.error('pipeline step failed; the receipts of the events it held are failed (their units will be re-sent)', { err, stage, failed });
    });
    this.chain = run;
    return run;
  }

  /**
   * The unit's receipt as normalize sees it: normalize settles each record once (stored,
   * dropped on purpose, dead-lettered) or hands it on inside an event; until then the unit
   * is tracked, so a failure of normalize itself can fail it.
   */
  private trackUnit(receipt: Receipt, records: number): Receipt {
    let left = records;
    const units = this.inNormalize;
    const tracked: Receipt = {
      settle(n = 1) { left -= n; if (left <= 0) units.delete(tracked); receipt.settle(n); },
      fail(err) { units.delete(tracked); receipt.fail(err); },
      duplicate(n = 1) { receipt.duplicate?.(n); },
    };
    if (left > 0) units.add(tracked);
    return tracked;
  }

  /** fails every receipt inside the labeler and the clusterer (and normalize's, when it failed); returns how many */
  private failHeld(err: Error, stage: string): number {
    const all = [...this.inLabel, ...this.inCluster, ...(stage === 'normalize' ? this.inNormalize : [])];
    this.inLabel.clear();
    this.inCluster = [];
    if (stage === 'normalize') this.inNormalize.clear();
    for (const r of all) r.fail(err);
    return all.length;
  }

  private async stage<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    try { return await fn(); } catch (e) { throw new StageError(name, e); }
  }

  /**
   * normalize → label → cluster for what is ready. Normalize releases events on its own
   * (event time and its reorder wait); the labeler ends its windows on event time. `release`
   * (the input is quiet): a live input's event time follows the wall clock into the labeler
   * (`advance`), and a backlog quiet for `inputEndQuiet` has ended for now (its windows are
   * flushed); `force` releases and labels everything held (flushAll).
   */
  private async process(release: boolean, force = false): Promise<void> {
    const events = await this.stage('normalize', () => this.normalize.drain(force));
    if (events.length) {
      mEvents.inc({ stage: 'normalize' }, events.length);
      this.advanceClock(events);
      this.capabilities.observe(events);
      for (const e of events) if (e.receipt) this.inLabel.add(e.receipt);
    }
    const labeled = events.length ? await this.stage('label', () => this.label.push(events)) : [];
    // the labeler's windows end on event time; a flush (end of input) only when nothing is held before it
    if ((release || force) && this.label.pending > 0 && this.normalize.pending === 0) {
      if (force || this.inputEnded()) labeled.push(...(await this.stage('label', () => this.label.flush())));
      else if (this.label.advance && !this.catchingUp) {
        const wm = this.watermark();
        if (wm !== undefined && wm > this.eventClock) labeled.push(...(await this.stage('label', () => this.label.advance!(wm))));
      }
    }
    if (labeled.length) {
      mEvents.inc({ stage: 'label' }, labeled.length);
      for (const e of labeled) {
        if (!e.receipt) continue;
        this.inLabel.delete(e.receipt);
        this.inCluster.push(e.receipt);
      }
      await this.stage('cluster', () => this.cluster.push(labeled));
    }
    this.updateGauges();
  }

  /** collects the clusterer's writes; from here on the writes carry the receipts */
  private collect(watermark: number | undefined, force: boolean): ReturnType<ClusterStage['collect']> {
    let batch: ReturnType<ClusterStage['collect']>;
    try { batch = this.cluster.collect(watermark, force); } catch (e) { throw new StageError('cluster', e); }
    this.inCluster = [];
    return batch;
  }

  private advanceClock(events: KEvent[]): void {
    let max = this.eventClock;
    for (const e of events) if (e.time > max) max = e.time;
    if (max > this.eventClock) { this.eventClock = max; this.eventClockWall = this.now(); }
  }

  /** the input is a backlog being caught up (its event time far behind the wall clock): wall time says nothing about its event time */
  private get catchingUp(): boolean { return this.normalize.catchingUp === true; }

  private quietFor(): number { return this.now() - Math.max(this.eventClockWall, this.lastArrival); }

  /** a backlog quiet for `inputEndQuiet`: ended for now (see PipelineOptions.inputEndQuiet) */
  private inputEnded(): boolean { return this.catchingUp && this.now() - this.lastArrival >= this.opts.inputEndQuiet; }

  /**
   * Event time for closing contexts. While events flow it is the newest event time; when a
   * live input is quiet it follows the wall clock from there, so a context whose cascade ended
   * closes after `contextIdle` of real time instead of waiting for the next event. A backlog's
   * event time moves only with its events, so a pause in its delivery closes nothing early,
   * until it has been quiet for `inputEndQuiet`. While the sources are paused (backpressure,
   * Elasticsearch down) it stands still.
   */
  watermark(): number | undefined {
    if (this.eventClock === -Infinity) return undefined;
    // paused sources are not a quiet input: do not close contexts on the clock meanwhile
    if (this.saturated) return this.eventClock;
    // events still held for reordering may belong to the open contexts: wait for them
    if (this.normalize.pending > 0) return this.eventClock;
    const quietFor = this.quietFor();
    if (this.catchingUp && !this.inputEnded()) return this.eventClock;
    return quietFor >= this.opts.clockQuiet ? this.eventClock + quietFor : this.eventClock;
  }

  private write(batch: ReturnType<ClusterStage['collect']>, forceCheckpoint = false): void {
    if (!batch.length) return;
    const saveCheckpoint = this.checkpoint?.capture(this.eventClock, forceCheckpoint);
    let pending: Promise<Awaited<ReturnType<ContextSink['write']>>>;
    const flushTimer = mFlush.startTimer();
    try { pending = this.sink.write(batch); } catch (e) { pending = Promise.reject(e); }
    const p = pending.then((r) => {
      if (r.rejected) { mErrors.inc({ stage: 'store' }, r.rejected); log.warn('context documents rejected by Elasticsearch', { rejected: r.rejected }); }
      mEvents.inc({ stage: 'store' }, batch.reduce((n, w) => n + w.newEvents, 0));
      if (saveCheckpoint) void saveCheckpoint();
    }).catch((e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      mErrors.inc({ stage: 'store' });
      log.error('context write failed; its receipts are failed (the units will be re-sent)', { err });
      for (const w of batch) for (const r of w.receipts) r.receipt.fail(err);
    }).finally(() => {
      flushTimer();
      this.writes.delete(p);
      this.updateGauges();
      this.checkDrain();
    });
    this.writes.add(p);
    this.updateGauges();
  }

  private async settleWrites(): Promise<void> {
    while (this.writes.size) await Promise.all([...this.writes]);
  }

  private published(docs: ContextDoc[]): void {
    for (const cb of this.storedSubs) {
      try { cb(docs); } catch (e) { log.warn('stored-contexts subscriber failed', { err: e as Error }); }
    }
    if (this.closedSubs.size) {
      for (const d of docs) {
        if (d.state !== 'closed') continue;
        for (const cb of this.closedSubs) {
          try { cb(d); } catch (e) { log.warn('closed-context subscriber failed', { err: e as Error }); }
        }
      }
    }
    this.checkDrain();
  }

  private updateGauges(): void {
    mInFlight.set(this.inFlight);
    const sat = this.saturated;
    mSaturated.set(sat ? 1 : 0);
    if (sat && !this.wasSaturated) log.warn('backpressure: pausing sources', { inFlight: this.inFlight, esHealthy: this.sink.healthy });
    if (!sat && this.wasSaturated) log.info('backpressure released', { inFlight: this.inFlight });
    this.wasSaturated = sat;
    if (!sat) this.checkDrain();
  }

  private checkDrain(): void {
    if (!this.drainCbs.length || this.saturated) return;
    const cbs = this.drainCbs.splice(0);
    for (const cb of cbs) cb();
  }
}

/** an error thrown by one stage, named for the log and the metric */
class StageError extends Error {
  constructor(readonly stage: string, cause: unknown) {
    super(`${stage}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StageError';
  }
}
