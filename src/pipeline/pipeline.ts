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
 */
import type { ContextDoc } from '../types/context.ts';
import type { Downstream, KEvent, LabelStage, NormalizeStage, Receipt } from '../types/pipeline.ts';
import type { ClusterStage, ContextSink } from '../cluster/types.ts';
import { counter, gauge } from '../util/metrics.ts';
import { log as rootLog } from '../util/log.ts';
import { StreamCapabilities } from './capabilities.ts';

const log = rootLog.child({ stage: 'pipeline' });

const mEvents = counter('kontext_pipeline_events_total', 'Events that left a pipeline stage.');
const mInFlight = gauge('kontext_pipeline_in_flight', 'Events received but not yet stored in Elasticsearch.');
const mSaturated = gauge('kontext_pipeline_saturated', '1 while sources are paused (backpressure).');
const mErrors = counter('kontext_pipeline_errors_total', 'Errors in the pipeline loop, by stage.');

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
  /** process as soon as this many events are held by normalize (default 4096) */
  batchEvents?: number;
  /** wall clock (tests) */
  now?: () => number;
}

export class Pipeline implements Downstream {
  private readonly normalize: NormalizeStage;
  private readonly label: LabelStage;
  private readonly cluster: ClusterStage;
  private readonly sink: ContextSink;
  private readonly opts: Required<Omit<PipelineOptions, 'now'>>;
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
  private readonly unsubscribeSink: () => void;
  /** what the stream carries of what kontext uses (decided on its first events) */
  readonly capabilities = new StreamCapabilities();

  constructor(stages: PipelineStages, opts: PipelineOptions) {
    this.normalize = stages.normalize;
    this.label = stages.label;
    this.cluster = stages.cluster;
    this.sink = stages.sink;
    this.now = opts.now ?? Date.now;
    this.opts = {
      flushInterval: opts.flushInterval,
      maxInFlight: opts.maxInFlight,
      idleRelease: opts.idleRelease ?? opts.flushInterval,
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
    return this.inFlight >= this.opts.maxInFlight || !this.sink.healthy;
  }

  onDrain(cb: () => void): void {
    this.drainCbs.push(cb);
    this.checkDrain();
  }

  push(records: unknown[], receipt?: Receipt): void {
    if (this.stopped) {
      receipt?.fail(new Error('kontext is shutting down'));
      return;
    }
    this.normalize.push(records, receipt);
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
   * Processes everything received so far and writes it, closing every open context;
   * resolves when Elasticsearch has acknowledged it all. Used at end of a replay.
   */
  async flushAll(): Promise<void> {
    await this.enqueue(async () => {
      await this.process(true);
      this.capabilities.decide();
      this.write(this.cluster.collect(undefined, true));
    });
    await this.settleWrites();
  }

  /** Stops accepting input, flushes everything, and closes the sink. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.flushAll();
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
        this.write(this.cluster.collect(this.watermark(), false));
      }
    });
  }

  /** Serializes all stage work on one chain; errors are logged and counted, never thrown out. */
  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn).catch((e: unknown) => {
      mErrors.inc({ stage: 'loop' });
      log.error('pipeline step failed', { err: e instanceof Error ? e : new Error(String(e)) });
    });
    this.chain = run;
    return run;
  }

  /** normalize → label → cluster for what is ready; `release` also lets go of held events. */
  private async process(release: boolean): Promise<void> {
    const events = this.normalize.drain(release);
    if (events.length) {
      mEvents.inc({ stage: 'normalize' }, events.length);
      this.advanceClock(events);
      this.capabilities.observe(events);
    }
    const labeled = events.length ? await this.label.push(events) : [];
    if (release && this.label.pending > 0) labeled.push(...(await this.label.flush()));
    if (labeled.length) {
      mEvents.inc({ stage: 'label' }, labeled.length);
      this.cluster.push(labeled);
    }
    this.updateGauges();
  }

  private advanceClock(events: KEvent[]): void {
    let max = this.eventClock;
    for (const e of events) if (e.time > max) max = e.time;
    if (max > this.eventClock) { this.eventClock = max; this.eventClockWall = this.now(); }
  }

  /**
   * Event time for closing contexts. While events flow it is the newest event time; when the
   * input is quiet it follows the wall clock from there, so a context whose cascade ended
   * closes after `contextIdle` of real time instead of waiting for the next event. While the
   * sources are paused (backpressure, Elasticsearch down) it stands still.
   */
  watermark(): number | undefined {
    if (this.eventClock === -Infinity) return undefined;
    // paused sources are not a quiet input: do not close contexts on the clock meanwhile
    if (this.saturated) return this.eventClock;
    const quietFor = this.now() - Math.max(this.eventClockWall, this.lastArrival);
    return this.eventClock + Math.max(0, quietFor);
  }

  private write(batch: ReturnType<ClusterStage['collect']>): void {
    if (!batch.length) return;
    const p = this.sink.write(batch).then((r) => {
      if (r.rejected) { mErrors.inc({ stage: 'store' }, r.rejected); log.warn('context documents rejected by Elasticsearch', { rejected: r.rejected }); }
      mEvents.inc({ stage: 'store' }, batch.reduce((n, w) => n + w.newEvents, 0));
    }).catch((e: unknown) => {
      mErrors.inc({ stage: 'store' });
      log.error('context write failed', { err: e instanceof Error ? e : new Error(String(e)) });
    }).finally(() => {
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
