/**
 * Streaming windows with position-weighted voting.
 *
 * Windows of `window` events start every `stride` events (a fixed grid over the model's input
 * stream). An event is labeled once every grid window that covers it has been scored; its
 * label is the class with the largest position-weighted sum of probabilities over those
 * windows (triangular weights favour windows where the event sits near the middle, i.e. has
 * context on both sides). With stride = window every event is scored exactly once and the stage
 * holds back at most window-1 events. `takeFlush()` scores one window aligned to the end of
 * what is held, so nothing waits for events that may never come; it votes only for the events
 * no scored window covers yet, and later grid windows only for events after it, so the labels
 * depend on where flushes happen in the sequence, never on when the windows are scored.
 */
export interface WindowSpec {
  /** absolute index of the first event */
  start: number;
  length: number;
  /** events before this absolute index take no votes from this window (they have theirs) */
  from?: number;
}

/** Triangular position weights; all ones when windows do not overlap. */
export function positionWeights(window: number, stride: number): Float32Array {
  const w = new Float32Array(window);
  if (stride >= window) { w.fill(1); return w; }
  const half = Math.ceil(window / 2);
  for (let i = 0; i < window; i++) w[i] = Math.min(i + 1, window - i) / half;
  return w;
}

export interface Voted<T> {
  item: T;
  /** winning class */
  cls: number;
  /** weighted vote share of the winning class */
  confidence: number;
  /** weighted votes per class (sum = weight) */
  votes?: Float32Array;
  weight: number;
}

export class Windower<T> {
  readonly weights: Float32Array;
  private items: T[] = [];
  private votes: (Float32Array | undefined)[] = [];
  private weightSum: number[] = [];
  /** absolute index of items[0] */
  private base = 0;
  /** next grid window (absolute start) not scored yet */
  private nextWindow = 0;
  /** everything below this index was released */
  private released = 0;
  /** everything below this index may be released (covered by a flush window) */
  private flushedTo = 0;

  constructor(readonly window: number, readonly stride: number, readonly classes: number) {
    if (!(window >= 1 && stride >= 1 && stride <= window)) throw new Error(`bad window/stride ${window}/${stride}: need 1 <= stride <= window`);
    this.weights = positionWeights(window, stride);
  }

  /** events held (appended but not released) */
  get pending(): number { return this.base + this.items.length - this.released; }
  get end(): number { return this.base + this.items.length; }

  push(item: T): void { this.items.push(item); this.votes.push(undefined); this.weightSum.push(0); }

  /** Items already released that the next grid window still starts with (after a flush), oldest first. */
  releasedTail(): T[] {
    const out: T[] = [];
    for (let abs = Math.max(this.nextWindow, this.base); abs < this.released; abs++) out.push(this.items[abs - this.base]!);
    return out;
  }

  /** A fresh windower takes back `releasedTail()` of another: the grid continues as it was there. */
  pushReleased(items: T[]): void {
    for (const it of items) this.push(it);
    this.released = this.flushedTo = this.end;
  }

  /** item at an absolute index (must still be held) */
  at(i: number): T { return this.items[i - this.base]!; }

  /** Grid windows that are complete and not yet scored; marks them scored. */
  takeReady(): WindowSpec[] {
    const out: WindowSpec[] = [];
    while (this.nextWindow + this.window <= this.end) {
      out.push({ start: this.nextWindow, length: this.window, from: this.flushedTo });
      this.nextWindow += this.stride;
    }
    return out;
  }

  /** absolute index of the first event no scored window covers yet (= `end` when there is none) */
  get uncovered(): number { return Math.min(this.end, Math.max(this.nextWindow, this.flushedTo, this.released)); }

  /** The window that covers every held event not yet covered by a scored window (for flush). */
  takeFlush(): WindowSpec[] {
    const end = this.end;
    const from = this.uncovered;
    if (from >= end) return [];
    const start = Math.max(this.base, end - this.window);
    this.flushedTo = end;
    return [{ start, length: end - start, from }];
  }

  /** Adds one window's probabilities (length × classes, row-major) to the votes of its events. */
  vote(spec: WindowSpec, probs: Float32Array | number[], offset = 0): void {
    const C = this.classes;
    for (let j = 0; j < spec.length; j++) {
      const abs = spec.start + j;
      if (abs < this.released || abs < (spec.from ?? 0)) continue;
      const i = abs - this.base;
      const w = this.weights[j]!;
      let v = this.votes[i];
      if (!v) v = this.votes[i] = new Float32Array(C);
      const row = offset + j * C;
      for (let c = 0; c < C; c++) v[c]! += w * (probs[row + c] as number);
      this.weightSum[i]! += w;
    }
  }

  /** Releases, in order, every event no unscored window covers. */
  release(): Voted<T>[] {
    const upTo = Math.max(Math.min(this.nextWindow, this.end), this.flushedTo);
    const out: Voted<T>[] = [];
    for (let abs = this.released; abs < upTo; abs++) {
      const i = abs - this.base;
      const v = this.votes[i];
      let cls = 0; let best = -1;
      if (v) for (let c = 0; c < v.length; c++) if (v[c]! > best) { best = v[c]!; cls = c; }
      const ws = this.weightSum[i]!;
      out.push({ item: this.items[i]!, cls, confidence: ws > 0 ? best / ws : 0, votes: v, weight: ws });
      this.votes[i] = undefined;
    }
    this.released = Math.max(this.released, upTo);
    this.trim();
    return out;
  }

  /** Drops released events except the last window (left context for later windows). */
  private trim(): void {
    const keepFrom = Math.min(this.released, this.nextWindow, Math.max(0, this.end - this.window));
    const drop = keepFrom - this.base;
    if (drop > 1024 || (drop > 0 && drop >= this.items.length / 2)) {
      this.items.splice(0, drop); this.votes.splice(0, drop); this.weightSum.splice(0, drop);
      this.base = keepFrom;
    }
  }
}
