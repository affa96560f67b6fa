/**
 * The Elasticsearch dead-letter sink: inputs kontext can never store (an event that fails
 * validation, a document Elasticsearch refuses for good) are kept with their reason in
 * `<prefix>-dead-letter-<day of its time>` (template `schema/elasticsearch/dead-letter.json`;
 * read through the `<prefix>-dead-letter` alias). Each entry's
 * `_id` is a hash of its content, written with `create`, so a retried put stores it once.
 * Counted in `kontext_dead_letters_total{stage,reason}`; logged once per stage and reason
 * (then every 1000th), so a flood of one bad input does not flood the log.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { DeadLetter, DeadLetterSink } from '../types/dead-letter.ts';
import { dayOf, indexNames } from './codec.ts';
import { isTransientStatus, itemError } from './errors.ts';
import { log as rootLog } from '../util/log.ts';
import { counter } from '../util/metrics.ts';

const log = rootLog.child({ stage: 'dead-letter' });
const mDead = counter('kontext_dead_letters_total', 'Inputs kept in the dead-letter index (never retried), by stage and reason.');

/** longest `record` text kept per entry */
export const MAX_RECORD_CHARS = 16_384;

export interface EsDeadLetterSink extends DeadLetterSink {
  /** entries stored so far (by this process) */
  readonly stored: number;
}

export function createDeadLetterSink(opts: { client: Client; prefix: string; refresh?: boolean | 'wait_for' }): EsDeadLetterSink {
  const names = indexNames(opts.prefix);
  const index = names.deadLetter;
  const seen = new Map<string, number>();
  let stored = 0;
  return {
    get stored() { return stored; },
    async put(entries: DeadLetter[]): Promise<void> {
      if (!entries.length) return;
      const ops: unknown[] = [];
      for (const e of entries) {
        const doc: DeadLetter = { ...e, ...(e.record !== undefined ? { record: e.record.slice(0, MAX_RECORD_CHARS) } : {}) };
        const id = createHash('sha1').update(`${doc.stage}\u0000${doc.reason}\u0000${doc.auditID ?? ''}\u0000${doc.detail ?? ''}\u0000${doc.record ?? ''}`).digest('hex');
        ops.push({ create: { _index: names.deadLetterDay(dayOf(doc.time)), _id: id } }, doc);
      }
      const resp = await opts.client.bulk({ operations: ops, refresh: opts.refresh });
      let transient: string | undefined;
      resp.items.forEach((item, i) => {
        const r = item.create;
        const st = r?.status ?? 0;
        if (st >= 200 && st < 300) stored++;
        // content-addressed: a 409 means this very entry is stored already (a retried put)
        else if (st === 409) { /* stored before */ }
        else if (isTransientStatus(st)) transient ??= itemError(r);
        else log.error('dead letter could not be stored; it is dropped', { reason: entries[i]!.reason, auditID: entries[i]!.auditID, err: itemError(r) });
      });
      if (transient) throw new Error(`dead letters not stored: ${transient}`);
      for (const e of entries) {
        mDead.inc({ stage: e.stage, reason: e.reason });
        const key = `${e.stage}\u0000${e.reason}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        if (n === 1 || n % 1000 === 0) {
          log.warn('input dead-lettered: it can never be stored, kept in the dead-letter index', { index, stage: e.stage, reason: e.reason, detail: e.detail, auditID: e.auditID, count: n });
        }
      }
    },
  };
}
