/**
 * Context writer: the Elasticsearch sink of the pipeline. Queues context writes, coalesces
 * them by context id (a newer state of a context replaces a queued older one and takes over
 * its receipts), sends them with the bulk API one request at a time, and settles the members'
 * receipts only after Elasticsearch acknowledged the documents. Every document is a whole
 * `index` op by `_id` with an external version (`2 × eventCount + closed`), so retries and
 * replays are idempotent and an older state never overwrites a newer one.
 *
 * Elasticsearch down (connection refused, timeouts, 429, 5xx): the batch stays queued, the
 * writer reports `healthy = false` and retries with exponential backoff (with jitter) until it
 * succeeds; nothing is dropped. A document Elasticsearch rejects as invalid (other 4xx) is
 * logged and its receipts are failed, so the source does not ack it.
 *
 * With `rawRetentionMs` > 0 the raw events of new members are indexed into daily
 * `<prefix>-raw-YYYY.MM.DD` indices (`_id` = auditID) in the same bulk, and daily indices older
 * than the retention are deleted by the writer (no ILM needed).
 */
import type { Client } from '@elastic/elasticsearch';
import type { ContextDoc } from '../types/context.ts';
import type { ContextSink, ContextWrite, RawEvent, ReceiptShare, WriteResult } from '../cluster/types.ts';
import { indexNames, toEsDoc } from './codec.ts';
import { log as rootLog } from '../util/log.ts';
import { counter, gauge } from '../util/metrics.ts';

const log = rootLog.child({ stage: 'store' });

const mDocs = counter('kontext_store_docs_written_total', 'Context documents acknowledged by Elasticsearch.');
const mEvents = counter('kontext_store_events_stored_total', 'Events whose context write was acknowledged by Elasticsearch.');
const mRaw = counter('kontext_store_raw_written_total', 'Raw events written to the raw index.');
const mBulkFail = counter('kontext_store_bulk_failures_total', 'Bulk requests that failed and were retried.');
const mRejected = counter('kontext_store_docs_rejected_total', 'Context documents rejected by Elasticsearch (receipts failed).');
const mBacklog = gauge('kontext_store_backlog_events', 'Events queued for Elasticsearch, not yet acknowledged.');
const mHealthy = gauge('kontext_store_healthy', '1 while Elasticsearch accepts writes, 0 while writes are failing.');

export interface ContextWriterOptions {
  client: Client;
  /** index prefix (`indexPrefix`) */
  prefix: string;
  /** keep raw events this long (ms) in daily raw indices; 0 = off (default) */
  rawRetentionMs?: number;
  /** documents per bulk request (default 500) */
  maxBulkDocs?: number;
  /** approximate bytes per bulk request (default 8 MiB) */
  maxBulkBytes?: number;
  /** first retry delay (default 250 ms), doubled per failure up to maxBackoffMs (default 30 s) */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** bulk `refresh` parameter (tests use 'wait_for'); default none */
  refresh?: boolean | 'wait_for';
  /** how often expired raw indices are deleted (default 1 h) */
  rawCleanupIntervalMs?: number;
  /** wall clock for raw retention (tests) */
  now?: () => number;
  onStored?: (docs: ContextDoc[]) => void;
}

interface Ticket { done(ok: boolean): void }

interface Entry {
  id: string;
  doc: ContextDoc;
  version: number;
  newEvents: number;
  receipts: ReceiptShare[];
  raw: RawEvent[];
  tickets: Ticket[];
}

function isTransientStatus(status: number): boolean {
  return status === 429 || status >= 500 || status === 408 || status === 0;
}

function errStatus(e: any): number | undefined {
  return e?.meta?.statusCode ?? e?.statusCode;
}

/** UTC day of an epoch ms as used in raw index names. */
export function rawDay(time: number): string {
  const d = new Date(time);
  return `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
}

export interface ContextWriter extends ContextSink {
  /** deletes raw indices older than the retention now (also runs on a timer) */
  cleanupRaw(): Promise<string[]>;
  /** resolves when the queue is empty (no timeout) */
  drain(): Promise<void>;
  /**
   * Stores everything queued (retrying) and stops timers. After `timeoutMs` (default 30 s)
   * of Elasticsearch being unavailable, the rest is given up: its receipts are failed so
   * sources do not ack it and peers resend.
   */
  close(opts?: { timeoutMs?: number }): Promise<void>;
}

export function createContextWriter(opts: ContextWriterOptions): ContextWriter {
  const { client } = opts;
  const names = indexNames(opts.prefix);
  const maxDocs = opts.maxBulkDocs ?? 500;
  const maxBytes = opts.maxBulkBytes ?? 8 * 1024 * 1024;
  const initialBackoff = opts.initialBackoffMs ?? 250;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const rawRetention = opts.rawRetentionMs ?? 0;
  const now = opts.now ?? Date.now;
  const listeners = new Set<(docs: ContextDoc[]) => void>();
  if (opts.onStored) listeners.add(opts.onStored);

  /** waiting to be sent, by context id (insertion order = send order) */
  let queued = new Map<string, Entry>();
  let inflight: Entry[] = [];
  let backlog = 0;
  let healthy = true;
  let failures = 0;
  let pumping = false;
  let closed = false;
  let abandoned = false;
  let wake: (() => void) | undefined;
  let sleepTimer: NodeJS.Timeout | undefined;
  const idleWaiters: Array<() => void> = [];

  const setBacklog = (d: number) => { backlog += d; mBacklog.set(backlog); };
  const setHealthy = (h: boolean) => { healthy = h; mHealthy.set(h ? 1 : 0); };
  setHealthy(true);

  function enqueue(e: Entry): void {
    const prev = queued.get(e.id);
    if (!prev) { queued.set(e.id, e); return; }
    // coalesce: keep the newest document, carry over everything unsettled
    if (e.version >= prev.version) { prev.doc = e.doc; prev.version = e.version; }
    prev.newEvents += e.newEvents;
    prev.receipts.push(...e.receipts);
    prev.raw.push(...e.raw);
    prev.tickets.push(...e.tickets);
  }

  function settle(e: Entry): void {
    for (const r of e.receipts) {
      try { r.receipt.settle(r.n); } catch (err) { log.error('receipt settle threw', { err: err as Error }); }
    }
    mEvents.inc(undefined, e.newEvents);
    setBacklog(-e.newEvents);
    for (const t of e.tickets) t.done(true);
  }

  function reject(e: Entry, reason: string): void {
    const err = new Error(`Elasticsearch rejected context ${e.id}: ${reason}`);
    log.error('context document rejected', { id: e.id, reason, events: e.newEvents });
    for (const r of e.receipts) {
      try { r.receipt.fail(err); } catch (x) { log.error('receipt fail threw', { err: x as Error }); }
    }
    mRejected.inc();
    setBacklog(-e.newEvents);
    for (const t of e.tickets) t.done(false);
  }

  function takeBatch(): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (const [id, e] of queued) {
      const size = 400 + e.doc.members.length * 160 + e.raw.length * 1500;
      if (out.length && (out.length >= maxDocs || bytes + size > maxBytes)) break;
      out.push(e); bytes += size;
      queued.delete(id);
    }
    return out;
  }

  function bulkBody(batch: Entry[]): { ops: unknown[]; spans: Array<[number, number]> } {
    const ops: unknown[] = [];
    const spans: Array<[number, number]> = [];
    let item = 0;
    for (const e of batch) {
      const first = item;
      ops.push({ index: { _index: names.contexts, _id: e.id, version: e.version, version_type: 'external_gte' } }, toEsDoc(e.doc));
      item++;
      if (rawRetention > 0) {
        for (const r of e.raw) {
          ops.push({ index: { _index: names.raw(rawDay(r.time)), _id: r.auditID } }, { '@timestamp': Math.floor(r.time), contextId: r.contextId, ...r.audit });
          item++;
        }
      }
      spans.push([first, item]);
    }
    return { ops, spans };
  }

  /** sends one bulk; returns the entries to retry and why */
  async function sendBatch(batch: Entry[]): Promise<{ retry: Entry[]; error?: string }> {
    const { ops, spans } = bulkBody(batch);
    let resp;
    try {
      resp = await client.bulk({ operations: ops, refresh: opts.refresh });
    } catch (e) {
      const status = errStatus(e);
      return { retry: batch, error: `bulk request failed${status ? ` (${status})` : ''}: ${(e as Error).message}` };
    }
    const items = resp.items;
    const stored: Entry[] = [];
    const retry: Entry[] = [];
    let rawOk = 0;
    batch.forEach((e, i) => {
      const [from, to] = spans[i]!;
      let transient = false; let fatal: string | undefined;
      for (let k = from; k < to; k++) {
        const res = items[k]?.index;
        if (!res) { transient = true; continue; }
        const st = res.status;
        if (st >= 200 && st < 300) { if (k > from) rawOk++; continue; }
        if (st === 409 && k === from) continue; // an equal or newer version is already stored
        if (isTransientStatus(st)) transient = true;
        else fatal ??= `${st} ${res.error?.type ?? ''}: ${res.error?.reason ?? ''}`;
      }
      if (fatal) reject(e, fatal);
      else if (transient) retry.push(e);
      else stored.push(e);
    });
    if (rawOk) mRaw.inc(undefined, rawOk);
    for (const e of stored) settle(e);
    mDocs.inc(undefined, stored.length);
    if (stored.length && listeners.size) {
      const docs = stored.map((e) => e.doc);
      for (const l of listeners) {
        try { l(docs); } catch (err) { log.error('onStored listener threw', { err: err as Error }); }
      }
    }
    return retry.length ? { retry, error: `${retry.length} of ${batch.length} documents were not accepted (overloaded or unavailable)` } : { retry };
  }

  /** put failed entries back in front of the queue, merging with newer queued states */
  function requeue(entries: Entry[]): void {
    const rest = queued;
    queued = new Map();
    for (const e of entries) enqueue(e);
    for (const e of rest.values()) enqueue(e);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      wake = () => { if (sleepTimer) clearTimeout(sleepTimer); sleepTimer = undefined; wake = undefined; r(); };
      sleepTimer = setTimeout(() => wake?.(), ms);
    });
  }

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (queued.size) {
        inflight = takeBatch();
        let result: { retry: Entry[]; error?: string };
        try {
          result = await sendBatch(inflight);
        } catch (e) {
          // programming error (e.g. a document that cannot be serialized): keep the data, report loudly
          log.error('context write failed unexpectedly', { err: e as Error });
          result = { retry: inflight, error: (e as Error).message };
        }
        inflight = [];
        if (!result.retry.length) {
          if (!healthy) log.info('Elasticsearch accepts writes again', { afterFailures: failures });
          failures = 0;
          setHealthy(true);
          continue;
        }
        if (abandoned) {
          for (const e of result.retry) reject(e, 'not stored before shutdown');
          continue;
        }
        requeue(result.retry);
        failures++;
        mBulkFail.inc();
        setHealthy(false);
        const delay = Math.min(maxBackoff, initialBackoff * 2 ** Math.min(failures - 1, 20));
        const jittered = Math.round(delay * (0.75 + Math.random() * 0.5));
        if (failures === 1 || failures % 10 === 0) {
          log.warn('Elasticsearch write failed; retrying', { err: result.error, attempt: failures, retryInMs: jittered, backlog });
        }
        await sleep(jittered);
      }
    } finally {
      pumping = false;
      if (!queued.size) for (const w of idleWaiters.splice(0)) w();
    }
  }

  let cleanupTimer: NodeJS.Timeout | undefined;
  async function cleanupRaw(): Promise<string[]> {
    if (rawRetention <= 0) return [];
    const deleted: string[] = [];
    try {
      const cat = await client.cat.indices({ index: names.rawPattern, format: 'json', h: 'index', expand_wildcards: ['open', 'closed'] });
      const cutoff = now() - rawRetention;
      const re = new RegExp(`^${opts.prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-raw-(\\d{4})\\.(\\d{2})\\.(\\d{2})$`);
      for (const row of cat as Array<{ index?: string }>) {
        const m = row.index ? re.exec(row.index) : null;
        if (!m) continue;
        const dayEnd = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + 86_400_000;
        if (dayEnd <= cutoff) {
          await client.indices.delete({ index: row.index! });
          deleted.push(row.index!);
        }
      }
      if (deleted.length) log.info('deleted expired raw indices', { indices: deleted });
    } catch (e) {
      log.warn('raw index cleanup failed; will retry', { err: e as Error });
    }
    return deleted;
  }
  if (rawRetention > 0) {
    void cleanupRaw();
    cleanupTimer = setInterval(() => { void cleanupRaw(); }, opts.rawCleanupIntervalMs ?? 3_600_000);
    cleanupTimer.unref();
  }

  function drain(): Promise<void> {
    if (!queued.size && !pumping) return Promise.resolve();
    return new Promise((r) => idleWaiters.push(r));
  }

  return {
    write(batch: ContextWrite[]): Promise<WriteResult> {
      if (closed) return Promise.reject(new Error('context writer is closed'));
      if (!batch.length) return Promise.resolve({ stored: 0, rejected: 0 });
      return new Promise<WriteResult>((resolve) => {
        let left = batch.length; let stored = 0; let rejected = 0;
        for (const w of batch) {
          const ticket: Ticket = {
            done(ok) { if (ok) stored++; else rejected++; if (--left === 0) resolve({ stored, rejected }); },
          };
          setBacklog(w.newEvents);
          enqueue({ id: w.doc.id, doc: w.doc, version: w.version, newEvents: w.newEvents, receipts: [...w.receipts], raw: w.raw ? [...w.raw] : [], tickets: [ticket] });
        }
        void pump();
      });
    },
    get healthy() { return healthy; },
    get backlog() { return backlog; },
    get backlogDocs() { return queued.size + inflight.length; },
    onStored(cb) { listeners.add(cb); return () => { listeners.delete(cb); }; },
    cleanupRaw,
    drain,
    async close(closeOpts) {
      closed = true;
      if (cleanupTimer) clearInterval(cleanupTimer);
      const timeoutMs = closeOpts?.timeoutMs ?? 30_000;
      wake?.(); // retry right away
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        drain().then(() => false),
        new Promise<boolean>((r) => { timer = setTimeout(() => r(true), timeoutMs); }),
      ]);
      if (timer) clearTimeout(timer);
      if (timedOut) {
        abandoned = true;
        const left = [...queued.values()];
        queued.clear();
        for (const e of left) reject(e, `not stored before shutdown (Elasticsearch unavailable for ${timeoutMs} ms)`);
        wake?.();
      }
    },
  };
}
