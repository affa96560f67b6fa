/**
 * Receipts for source units (a forward chunk, a webhook POST, a replayed file block).
 *
 * Contract with the pipeline: a receipt pushed together with N records expects N settlements
 * in total (`settle(n)` counts n). When the count is reached the unit is done and the source
 * acknowledges it upstream; `fail` ends the unit without acknowledgement. Whatever happens
 * after the first outcome is ignored, so a late settle after a failure cannot ack.
 */
import type { Receipt } from '../types/pipeline.ts';

export class UnitReceipt implements Receipt {
  private left: number;
  private outcome: 'pending' | 'done' | 'failed' = 'pending';
  private resolveFn!: () => void;
  private rejectFn!: (e: Error) => void;
  /** resolves when every record is settled, rejects on the first `fail` */
  readonly done: Promise<void>;

  constructor(readonly expected: number) {
    this.left = expected;
    this.done = new Promise<void>((res, rej) => { this.resolveFn = res; this.rejectFn = rej; });
    // Callers attach handlers when they care; never let an unobserved failure crash the process.
    this.done.catch(() => {});
    if (expected <= 0) this.finish();
  }

  get state(): 'pending' | 'done' | 'failed' { return this.outcome; }
  /** records not settled yet */
  get outstanding(): number { return Math.max(0, this.left); }
  /** records normalize found to be copies of events received before (settled with the original) */
  duplicates = 0;

  duplicate(n = 1): void { if (n > 0) this.duplicates += n; }

  settle(n = 1): void {
    if (this.outcome !== 'pending' || n <= 0) return;
    this.left -= n;
    if (this.left <= 0) this.finish();
  }

  fail(err: Error): void {
    if (this.outcome !== 'pending') return;
    this.outcome = 'failed';
    this.rejectFn(err);
  }

  private finish(): void {
    this.outcome = 'done';
    this.resolveFn();
  }
}
