/**
 * Events that fail validation can never succeed on a retry: they go, with their reason, to
 * the dead-letter sink, and the receipt share of each settles only once the sink stored it
 * (a failing sink fails the share, so the unit is retried later). Counted per reason and
 * logged once per reason per minute.
 */
import type { DeadLetter, DeadLetterSink } from '../types/dead-letter.ts';
import type { Receipt } from '../types/pipeline.ts';
import type { Logger } from '../util/log.ts';
import { counter } from '../util/metrics.ts';

const mDead = counter('kontext_ingest_dead_letters_total', 'Inputs that can never be stored (invalid events), kept in the dead-letter index, by reason.');
const mDeadFailed = counter('kontext_ingest_dead_letter_failures_total', 'Dead-letter writes that failed (their units are not acknowledged and will be re-sent).');

/** most characters of the offending record kept in the dead letter */
export const DEAD_LETTER_RECORD_MAX = 16_384;
const LOG_EVERY_MS = 60_000;

export function recordText(v: unknown): string | undefined {
  let s: string | undefined;
  try { s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x instanceof Uint8Array ? `<${x.byteLength} bytes>` : x)); } catch { s = undefined; }
  if (s === undefined) return undefined;
  return s.length > DEAD_LETTER_RECORD_MAX ? s.slice(0, DEAD_LETTER_RECORD_MAX) + '…' : s;
}

export class DeadLetters {
  private readonly lastLog = new Map<string, { at: number; suppressed: number }>();
  private inFlight = 0;

  constructor(private readonly sink: DeadLetterSink | undefined, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  /** dead letters handed to the sink and not stored yet */
  get pending(): number { return this.inFlight; }

  /** Stores the batch; each share settles once stored, fails if the sink fails. */
  put(batch: { entry: DeadLetter; share?: Receipt }[]): void {
    if (!batch.length) return;
    for (const { entry } of batch) this.note(entry);
    if (!this.sink) {
      // nowhere to keep them: counted and logged, acknowledged (a retry cannot succeed)
      for (const { entry, share } of batch) { mDead.inc({ reason: entry.reason }); share?.settle(); }
      return;
    }
    this.inFlight += batch.length;
    let p: Promise<void>;
    try { p = this.sink.put(batch.map((b) => b.entry)); } catch (e) { p = Promise.reject(e); }
    p.then(() => {
      for (const { entry, share } of batch) { mDead.inc({ reason: entry.reason }); share?.settle(); }
    }, (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      mDeadFailed.inc(undefined, batch.length);
      this.log.warn('dead-letter write failed; the units will be re-sent', { err, entries: batch.length });
      for (const { share } of batch) share?.fail(err);
    }).finally(() => { this.inFlight -= batch.length; });
  }

  /** one warning per reason per minute, with how many were not logged meanwhile */
  private note(entry: DeadLetter): void {
    const now = this.now();
    const last = this.lastLog.get(entry.reason);
    if (last && now - last.at < LOG_EVERY_MS) { last.suppressed++; return; }
    this.lastLog.set(entry.reason, { at: now, suppressed: 0 });
    this.log.warn(`invalid audit event dead-lettered: ${entry.detail ?? entry.reason}`, {
      reason: entry.reason, auditID: entry.auditID, ...(last?.suppressed ? { alsoSinceLastLog: last.suppressed } : {}),
    });
  }
}
