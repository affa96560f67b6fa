/**
 * The streaming label stage: rules first, then the BiLSTM over windows of the remaining
 * events. Events leave in the order they came, each exactly once, with their receipts.
 */
import type { KEvent, LabeledEvent, LabelStage } from '../types/pipeline.ts';
import { parseLabelKey, type Label } from '../types/label.ts';
import type { LabelModel, ModelBundle } from './bundle.ts';
import { resolveClass, SESSION_GAP_MS, type EventFeatures, type TracerState } from './features.ts';
import { decodeState, encodeState, num } from '../util/snapshot.ts';
import { Preprocessor } from './prepare.ts';
import { RuleSet } from './rules.ts';
import { Windower, type Voted, type WindowSpec } from './windows.ts';

interface Entry { ev: KEvent; out?: LabeledEvent; features?: EventFeatures }

/** StreamingLabeler.snapshot(): the tracer, plus the features of events taken in and not yet left */
interface LabelerState {
  v: 1;
  tracer: TracerState;
  /** events taken in and not let out yet, by auditID: labeled already, scored and waiting for their decision, or waiting for their window */
  held: Array<[string, Resumed]>;
  /** features of the events the next window starts with that were already let out (a flush), for the same window grid */
  grid?: EventFeatures[];
  newest: number | null;
}
type Resumed =
  | { k: 'out'; label: string; source: 'rule' | 'model'; confidence: number }
  | { k: 'scored'; f: EventFeatures; cls: number; confidence: number; votes?: number[]; weight: number }
  | { k: 'held'; f: EventFeatures };

/**
 * What a labeler restored from a checkpoint needs to know about events arriving again after
 * a restart: `covered` (the checkpoint's tracer already saw this event: it was stored before
 * the checkpoint, and is re-sent only because its unit was not acknowledged yet).
 */
export interface RestoreHints { covered?: (auditID: string, time: number) => boolean }
interface Residual { entry: Entry; emb: Float32Array; wide: Float32Array; candidates: EventFeatures['candidates']; awaitsNext: boolean; sure: boolean }

/**
 * The label of a voted event: the class with most votes that resolves (a pointer class needs
 * its candidate); confidence is that class's vote share.
 */
export function decide(votes: Float32Array | undefined, weight: number, classes: readonly string[], candidates: EventFeatures['candidates']): { label: string; confidence: number } {
  if (votes) {
    const order = Array.from(votes.keys()).sort((a, b) => votes[b]! - votes[a]!);
    for (const c of order) {
      const label = resolveClass(classes[c]!, candidates);
      if (label) return { label, confidence: weight > 0 ? votes[c]! / weight : 0 };
    }
  }
  const fallback = candidates.origin ?? candidates.self;
  return fallback ? { label: fallback, confidence: 0 } : { label: 'background other', confidence: 0 };
}

export interface StageOptions {
  rules: RuleSet;
  /** no bundle: rules plus the link heuristic only */
  bundle?: ModelBundle<LabelModel>;
  /** overrides of the bundle's window/stride (benchmarks, trade-off measurements) */
  window?: number;
  stride?: number;
  /** windows scored per model call */
  maxBatch?: number;
  maxObjects?: number;
  /**
   * Event time (ms) an event waits for the rest of its window at most: once an event this much
   * newer is pushed (or `advance` passes this far), the events waiting are scored in a window
   * that ends where they end (default WINDOW_LAG_MS). Only event time decides it, so the labels
   * are the same however the stream is paced or split into pushes.
   */
  windowLagMs?: number;
}

/**
 * Default `windowLagMs`: 10 s of event time. Far above the session gap (a person's read waits
 * 100 ms for the change it leads to) and the control-plane burst of an action (about 150 ms),
 * so a window is cut only across quiet spells of model-labeled events; well below the 60 s a
 * context waits idle, so an action's events are labeled before its context would close.
 */
export const WINDOW_LAG_MS = 10_000;

const EMPTY = new Float32Array(0);
/** events whose embeddings share one allocation */
const SLAB_EVENTS = 256;
const labelCache = new Map<string, Label>();
function parseCached(key: string): Label {
  let l = labelCache.get(key);
  if (!l) { l = parseLabelKey(key); labelCache.set(key, l); }
  return l;
}

function labeled(ev: KEvent, key: string, source: 'rule' | 'model', confidence: number): LabeledEvent {
  const out: LabeledEvent = { audit: ev.audit, time: ev.time, label: parseCached(key), labelKey: key, labelSource: source, confidence };
  if (ev.receipt) out.receipt = ev.receipt;
  return out;
}

export class StreamingLabeler implements LabelStage {
  private readonly pre: Preprocessor;
  private readonly windower?: Windower<Residual>;
  private queue: Entry[] = [];
  private head = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly maxBatch: number;
  private readonly windowLag: number;
  private embBuf = new Float32Array(0);
  /** scored events waiting for their decision, in order (a person's read waits for the change it leads to) */
  private scored: Voted<Residual>[] = [];
  private scoredHead = 0;
  /** newest event time pushed */
  private newest = -Infinity;
  private wideBuf = new Float32Array(0);
  private slab = new Float32Array(0);
  private slabUsed = SLAB_EVENTS;

  constructor(private readonly opts: StageOptions) {
    const b = opts.bundle;
    this.pre = new Preprocessor(opts.rules, opts.maxObjects ?? b?.config.maxObjects);
    this.maxBatch = opts.maxBatch ?? 256;
    this.windowLag = Math.max(0, opts.windowLagMs ?? WINDOW_LAG_MS);
    if (b) this.windower = new Windower(opts.window ?? b.config.window, opts.stride ?? b.config.stride, b.model.classes);
  }

  /** features of events the checkpoint saw taken in but not labeled yet, by auditID (after a restore) */
  private resumed = new Map<string, Resumed>();
  private covered: RestoreHints['covered'];

  get pending(): number { return this.queue.length - this.head; }

  /**
   * The labeler's memory for the restart checkpoint (see store/checkpoint.ts): the tracer's
   * object→context links, release sessions, people's recent requests, and the features of
   * the events it holds. Take it when every event it let out is in the clusterer.
   */
  snapshot(): string {
    const held: Array<[string, Resumed]> = [];
    const waiting = new Map<Entry, Voted<Residual>>();
    for (let i = this.scoredHead; i < this.scored.length; i++) waiting.set(this.scored[i]!.item.entry, this.scored[i]!);
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      const id = e.ev.audit.auditID;
      if (e.out) held.push([id, { k: 'out', label: e.out.labelKey, source: e.out.labelSource, confidence: e.out.confidence }]);
      else if (waiting.has(e)) { const v = waiting.get(e)!; held.push([id, { k: 'scored', f: e.features!, cls: v.cls, confidence: v.confidence, votes: v.votes ? Array.from(v.votes) : undefined, weight: v.weight }]); }
      else if (e.features) held.push([id, { k: 'held', f: e.features }]);
    }
    for (const [id, r] of this.resumed) held.push([id, r]);
    const grid = this.windower?.releasedTail().map((r) => r.entry.features!).filter(Boolean);
    const state: LabelerState = { v: 1, tracer: this.pre.features.snapshotState(), held, grid, newest: Number.isFinite(this.newest) ? this.newest : null };
    return encodeState(state);
  }

  /**
   * Takes back a `snapshot()` (before the first push). Events it held come back, when they
   * are re-sent, with what it knew of them then (their label, votes or features), and the
   * model's window grid continues where it was; events the tracer already saw are labeled
   * without touching it again. Returns false for an unreadable or other-version snapshot.
   */
  restore(text: string, hints: RestoreHints = {}): boolean {
    let s: LabelerState;
    try { s = decodeState<LabelerState>(text); } catch { return false; }
    if (!s || s.v !== 1 || !this.pre.features.restoreState(s.tracer)) return false;
    this.resumed = new Map(s.held ?? []);
    this.newest = num(s.newest, -Infinity);
    this.covered = hints.covered;
    if (this.windower && s.grid?.length) this.windower.pushReleased(s.grid.map((f) => this.residual({ ev: { audit: { auditID: '' } as KEvent['audit'], time: 0 }, features: f, out: {} as LabeledEvent }, f)));
    return true;
  }

  /** the windower's item for an event: its embedding and wide features from its tokens */
  private residual(entry: Entry, f: EventFeatures): Residual {
    const b = this.opts.bundle!;
    const E = b.model.embedDim; const C = b.model.classes;
    // views into a shared slab (one allocation per SLAB_EVENTS events, not two per event);
    // a full slab is left to the events that still view it
    if (this.slabUsed === SLAB_EVENTS) { this.slab = new Float32Array(SLAB_EVENTS * (E + C)); this.slabUsed = 0; }
    const o = this.slabUsed++ * (E + C);
    const emb = this.slab.subarray(o, o + E);
    const wide = this.slab.subarray(o + E, o + E + C);
    b.model.embed(b.vocab.encode(f.tokens), this.slab, o, this.slab, o + E);
    return { entry, emb, wide, candidates: f.candidates, awaitsNext: f.awaitsNext === true, sure: f.sure === true };
  }

  push(events: KEvent[]): Promise<LabeledEvent[]> { return this.serial(() => this.doPush(events, false)); }
  /** labels everything held (end of input): the windows end where the events end, reads get no later change */
  flush(): Promise<LabeledEvent[]> { return this.serial(() => this.doPush([], true)); }
  /**
   * Event time has reached `time` without an event (a live input gone quiet: the pipeline's
   * watermark): labels what waited `windowLagMs` before it, as an event at `time` would.
   */
  advance(time: number): Promise<LabeledEvent[]> { return this.serial(() => this.doPush([], false, time)); }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * A window cut by event time: when the oldest event no scored window covers is more than
   * `windowLag` behind `time`, what is held is scored in a window ending at the last held
   * event. Checked before each event (and at `advance`), so where windows end depends on the
   * event sequence alone, never on how it was split into pushes.
   */
  private cutByTime(time: number, specs: WindowSpec[]): void {
    const w = this.windower;
    if (!w) return;
    const from = w.uncovered;
    if (from >= w.end || time - w.at(from).entry.ev.time <= this.windowLag) return;
    specs.push(...w.takeFlush());
  }

  private async doPush(events: KEvent[], flush: boolean, advanceTo?: number): Promise<LabeledEvent[]> {
    const b = this.opts.bundle;
    const specs: WindowSpec[] = [];
    for (const ev of events) {
      if (ev.time > this.newest) this.newest = ev.time;
      this.cutByTime(this.newest, specs);
      const entry: Entry = { ev };
      this.queue.push(entry);
      const r = this.resumed.size ? this.resumed.get(ev.audit.auditID) : undefined;
      if (r && r.k !== 'held') {
        this.resumed.delete(ev.audit.auditID);
        if (r.k === 'out') { entry.out = labeled(ev, r.label, r.source, r.confidence); continue; }
        if (b && this.windower) {
          entry.features = r.f;
          const item: Residual = { entry, emb: EMPTY, wide: EMPTY, candidates: r.f.candidates, awaitsNext: r.f.awaitsNext === true, sure: r.f.sure === true };
          this.scored.push({ item, cls: r.cls, confidence: r.confidence, votes: r.votes ? Float32Array.from(r.votes) : undefined, weight: r.weight });
          continue;
        }
      }
      const p = this.prepare(ev);
      if (p === undefined) { entry.out = labeled(ev, 'background other', 'rule', 0); continue; }
      if (p.kind === 'rule') { entry.out = labeled(ev, `background ${p.match.kind}`, 'rule', 1); continue; }
      if (b && this.windower) entry.features = p.features;
      if (!b || !this.windower) {
        const key = p.features.origin === 'nonresource' ? 'background other' : p.features.origin;
        entry.out = labeled(ev, key, 'rule', 0.5);
        continue;
      }
      this.windower.push(this.residual(entry, p.features));
      specs.push(...this.windower.takeReady());
    }
    if (advanceTo !== undefined && advanceTo > this.newest) {
      this.newest = advanceTo;
      this.cutByTime(advanceTo, specs);
    }
    if (b && this.windower) {
      specs.push(...this.windower.takeReady());
      if (flush) specs.push(...this.windower.takeFlush());
      await this.score(specs);
      for (const v of this.windower.release()) this.scored.push(v);
      // decide in order; a person's read waits until its `unext` is known or can no longer come
      while (this.scoredHead < this.scored.length) {
        const v = this.scored[this.scoredHead]!;
        if (!flush && v.item.awaitsNext && v.item.candidates.unext === undefined && this.newest - v.item.entry.ev.time <= SESSION_GAP_MS) break;
        // a certain attribution (a person's request in a helm release) is the label, whatever the model says
        if (v.item.sure && v.item.candidates.origin) {
          v.item.entry.out = labeled(v.item.entry.ev, v.item.candidates.origin, 'rule', 1);
          this.scoredHead++;
          continue;
        }
        const first = b.vocab.label(v.cls);
        const direct = resolveClass(first, v.item.candidates);
        const d = direct ? { label: direct, confidence: v.confidence } : decide(v.votes, v.weight, b.vocab.labels, v.item.candidates);
        v.item.entry.out = labeled(v.item.entry.ev, d.label, 'model', d.confidence);
        this.scoredHead++;
      }
      if (this.scoredHead > 1024 && this.scoredHead * 2 > this.scored.length) { this.scored = this.scored.slice(this.scoredHead); this.scoredHead = 0; }
    }
    return this.drain();
  }

  /** rules, then features: computed, or those of a restored snapshot; undefined for an event the restored tracer already saw */
  private prepare(ev: KEvent): ReturnType<Preprocessor['prepare']> | undefined {
    if (this.resumed.size || this.covered) {
      const match = this.pre.rules.match(ev.audit);
      if (match) return { kind: 'rule', match };
      const id = ev.audit.auditID;
      const r = this.resumed.get(id);
      if (r?.k === 'held') { this.resumed.delete(id); return { kind: 'model', features: r.f }; }
      if (this.covered?.(id, ev.time)) return undefined;
    }
    return this.pre.prepare(ev.audit, ev.time);
  }

  private async score(specs: WindowSpec[]): Promise<void> {
    const b = this.opts.bundle!; const w = this.windower!;
    const E = b.model.embedDim; const C = b.model.classes;
    const byLen = new Map<number, WindowSpec[]>();
    for (const s of specs) { const l = byLen.get(s.length); if (l) l.push(s); else byLen.set(s.length, [s]); }
    for (const [len, group] of byLen) {
      for (let i = 0; i < group.length; i += this.maxBatch) {
        const chunk = group.slice(i, i + this.maxBatch);
        const n = chunk.length * len;
        if (this.embBuf.length < n * E) this.embBuf = new Float32Array(n * E);
        if (this.wideBuf.length < n * C) this.wideBuf = new Float32Array(n * C);
        let r = 0;
        for (const s of chunk) {
          for (let j = 0; j < len; j++, r++) {
            const it = w.at(s.start + j);
            this.embBuf.set(it.emb, r * E);
            this.wideBuf.set(it.wide, r * C);
          }
        }
        const probs = await b.model.predict(this.embBuf.subarray(0, n * E), this.wideBuf.subarray(0, n * C), chunk.length, len);
        chunk.forEach((s, k) => w.vote(s, probs, k * len * C));
      }
    }
  }

  private drain(): LabeledEvent[] {
    const out: LabeledEvent[] = [];
    while (this.head < this.queue.length && this.queue[this.head]!.out) out.push(this.queue[this.head++]!.out!);
    if (this.head > 4096 && this.head * 2 > this.queue.length) { this.queue = this.queue.slice(this.head); this.head = 0; }
    return out;
  }
}
