/**
 * Context writer: the Elasticsearch sink of the pipeline. Queues context writes, coalesces
 * them by context id (a newer state of a context replaces a queued older one and takes over
 * its receipts and new members), and stores each batch in two bulk requests, one batch at a
 * time:
 *
 *  1. the new members, each a `create` of `<prefix>-members-<day of its time>/_doc/<auditID>`
 *     (layout in codec.ts). 201: stored. 409: that auditID is stored already; a realtime get tells in
 *     which context, and the summary is then recomputed from what the store holds (merge.ts):
 *     an event is never counted in two contexts, and a 409 never counts as stored by itself.
 *  2. the summaries, an `index` of `<prefix>-contexts-<day of its start>/_doc/<id>` (start =
 *     the time of the context's first event, its trigger) with external version
 *     `2 × eventCount + closed` (external_gte). A 409 means the stored summary knows more
 *     members than this process (a restart, a replay of an overlapping file): the summary is
 *     recomputed from the stored members plus ours and written with a version at least the
 *     stored one. A stored context is only ever replaced by a state holding all its members.
 *
 * Receipts settle only after both: every new member is held by a stored member document (or
 * was dead-lettered) and the summary is stored. An update of a context sends only its new
 * members plus the small summary, not every member again.
 *
 * Transient errors (no answer, 408, 429, 5xx) keep the batch queued and retry with
 * exponential backoff (with jitter); meanwhile `healthy = false` and the pipeline pauses the
 * sources. Permanent errors (mapping, other 4xx, an id over 512 bytes) can never succeed: the
 * document goes to the dead-letter index with the reason (dead-letter.ts) and its receipts
 * settle once the dead letter is stored. A whole bulk refused as invalid is split and retried
 * document by document, so one bad document never blocks the others.
 *
 * With `rawRetentionMs` > 0 the raw events of new members are indexed into daily
 * `<prefix>-raw-YYYY.MM.DD` indices (`_id` = auditID) in the member bulk, and daily indices
 * older than the retention are deleted by the writer (no ILM needed).
 */
import type { Client } from '@elastic/elasticsearch';
import type { ContextDoc, ContextMember } from '../types/context.ts';
import type { DeadLetter, DeadLetterSink } from '../types/dead-letter.ts';
import type { ContextSink, ContextWrite, RawEvent, ReceiptShare, WriteResult } from '../cluster/types.ts';
import { contextIndexOf, dayOf, indexNames, memberIdOf, memberIndexOf, toEsDoc, toEsMember } from './codec.ts';
import { errStatus, idTooLong, isTransientStatus, itemError, permanentReason } from './errors.ts';
import { mergeSummary } from './merge.ts';
import { membersOf, ownersOf, summariesOf } from './read.ts';
import { log as rootLog } from '../util/log.ts';
import { counter, gauge } from '../util/metrics.ts';

const log = rootLog.child({ stage: 'store' });

const mDocs = counter('kontext_store_docs_written_total', 'Context summaries acknowledged by Elasticsearch.');
const mMembers = counter('kontext_store_members_written_total', 'Member documents created in Elasticsearch.');
const mEvents = counter('kontext_store_events_stored_total', 'Events whose context write was acknowledged by Elasticsearch.');
const mRaw = counter('kontext_store_raw_written_total', 'Raw events written to the raw index.');
const mBulkFail = counter('kontext_store_bulk_failures_total', 'Bulk requests that failed transiently and were retried.');
const mRetries = counter('kontext_store_retries_total', 'Transient Elasticsearch failures retried with backoff, by kind.');
const mRejected = counter('kontext_store_docs_rejected_total', 'Documents Elasticsearch refused for good (dead-lettered), by kind.');
const mConflicts = counter('kontext_store_conflicts_total', 'Writes whose stored state differed from the pipeline view (resolved by recomputing from the store), by kind.');
const mBytes = counter('kontext_store_bytes_sent_total', 'Bytes of bulk request bodies sent to Elasticsearch.');
const mSlow = counter('kontext_store_slow_bulks_total', 'Bulk requests Elasticsearch took longer than 5 s to answer.');
const SLOW_BULK_MS = 5_000;
const mBacklog = gauge('kontext_store_backlog_events', 'Events queued for Elasticsearch, not yet acknowledged.');
const mHealthy = gauge('kontext_store_healthy', '1 while Elasticsearch accepts writes, 0 while writes are failing.');

export interface ContextWriterOptions {
  client: Client;
  /** index prefix (`indexPrefix`) */
  prefix: string;
  /** where documents Elasticsearch refuses for good are kept (default: failed receipts, logged) */
  deadLetters?: DeadLetterSink;
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
  /** auditIDs of members not yet known to be held by a stored member document */
  added: Set<string>;
  receipts: ReceiptShare[];
  raw: RawEvent[];
  tickets: Ticket[];
  /** the summary must be recomputed from the store (a member or summary conflict) */
  rebuild: boolean;
  /** members refused for good: excluded from the summary */
  deadMembers: Set<string>;
  dead: DeadLetter[];
}

/** UTC day of an epoch ms as used in raw index names. */
export function rawDay(time: number): string {
  return dayOf(time);
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

/** Contexts remembered as needing a summary recomputed from the store on every write. */
const MAX_REBUILD_IDS = 100_000;

function ndjson(ops: unknown[]): string {
  let s = '';
  for (const o of ops) s += JSON.stringify(o) + '\n';
  return s;
}

function truncatedJson(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 16_384 ? s.slice(0, 16_384) : s;
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
  /** send the next batches one document at a time (a whole bulk was refused as invalid) */
  let isolate = 0;
  let wake: (() => void) | undefined;
  let sleepTimer: NodeJS.Timeout | undefined;
  const idleWaiters: Array<() => void> = [];
  /** context ids whose stored state differs from the pipeline's view (LRU by insertion) */
  const rebuildIds = new Set<string>();

  const setBacklog = (d: number) => { backlog += d; mBacklog.set(backlog); };
  const setHealthy = (h: boolean) => { healthy = h; mHealthy.set(h ? 1 : 0); };
  setHealthy(true);

  function recovered(): void {
    if (!healthy) log.info('Elasticsearch accepts writes again', { afterFailures: failures });
    failures = 0;
    setHealthy(true);
  }

  function markRebuild(id: string): void {
    rebuildIds.delete(id);
    rebuildIds.add(id);
    if (rebuildIds.size > MAX_REBUILD_IDS) rebuildIds.delete(rebuildIds.values().next().value!);
  }

  function enqueue(e: Entry): void {
    const prev = queued.get(e.id);
    if (!prev) { queued.set(e.id, e); return; }
    // coalesce: keep the newest document, carry over everything unsettled
    if (e.version >= prev.version) { prev.doc = e.doc; prev.version = e.version; }
    prev.newEvents += e.newEvents;
    for (const a of e.added) prev.added.add(a);
    for (const a of e.deadMembers) prev.deadMembers.add(a);
    prev.receipts.push(...e.receipts);
    prev.raw.push(...e.raw);
    prev.tickets.push(...e.tickets);
    prev.dead.push(...e.dead);
    prev.rebuild ||= e.rebuild;
  }

  function settle(e: Entry, ok: boolean): void {
    for (const r of e.receipts) {
      try { r.receipt.settle(r.n); } catch (err) { log.error('receipt settle threw', { err: err as Error }); }
    }
    mEvents.inc(undefined, e.newEvents);
    setBacklog(-e.newEvents);
    for (const t of e.tickets) t.done(ok);
  }

  function fail(e: Entry, reason: string): void {
    const err = new Error(`context ${e.id} not stored: ${reason}`);
    log.error('context not stored', { id: e.id, reason, events: e.newEvents });
    for (const r of e.receipts) {
      try { r.receipt.fail(err); } catch (x) { log.error('receipt fail threw', { err: x as Error }); }
    }
    setBacklog(-e.newEvents);
    for (const t of e.tickets) t.done(false);
  }

  function deadLetter(e: Entry, kind: 'member' | 'summary' | 'raw', reason: string, detail: string, auditID: string | undefined, record: unknown): void {
    mRejected.inc({ kind });
    e.dead.push({ time: now(), stage: 'store', reason, detail: `${kind}: ${detail}`, auditID, record: truncatedJson(record) });
  }

  function takeBatch(): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    const limit = isolate > 0 ? 1 : maxDocs;
    for (const [id, e] of queued) {
      const size = 400 + e.added.size * 200 + e.raw.length * 1500;
      if (out.length && (out.length >= limit || bytes + size > maxBytes)) break;
      out.push(e); bytes += size;
      queued.delete(id);
    }
    if (isolate > 0) isolate--;
    return out;
  }

  let slowSince = 0;
  async function bulk(ops: unknown[], kind: string): Promise<any[]> {
    const body = ndjson(ops);
    mBytes.inc({ kind }, Buffer.byteLength(body));
    const t0 = Date.now();
    // a stalled Elasticsearch (paused, overloaded) answers late rather than failing: say so
    const slow = setTimeout(() => {
      mSlow.inc();
      if (Date.now() - slowSince > 60_000) { slowSince = Date.now(); log.warn('Elasticsearch is slow to answer a bulk request; waiting (acks wait too)', { kind, waitedMs: Date.now() - t0, backlog }); }
    }, SLOW_BULK_MS);
    try {
      const resp = await client.bulk({ operations: body as any, refresh: opts.refresh });
      return resp.items;
    } finally {
      clearTimeout(slow);
    }
  }

  type Outcome = { retry: Entry[]; error?: string; permanent?: boolean };

  /** phase 1: new members (+ raw events); marks members held, conflicts and dead letters */
  async function sendMembers(batch: Entry[]): Promise<Outcome> {
    const ops: unknown[] = [];
    const refs: Array<{ e: Entry; kind: 'member' | 'raw'; m: ContextMember | RawEvent }> = [];
    for (const e of batch) {
      if (idTooLong(e.id)) continue; // the whole context is dead-lettered in phase 2
      const byId = new Map(e.doc.members.map((m) => [m.auditID, m]));
      for (const a of e.added) {
        const m = byId.get(a);
        if (!m) { e.added.delete(a); continue; } // no longer part of the context
        if (idTooLong(a)) {
          deadLetter(e, 'member', 'id-too-long', `auditID is ${Buffer.byteLength(a)} bytes, Elasticsearch ids are at most 512`, a.slice(0, 1024), m);
          e.deadMembers.add(a); e.added.delete(a); e.rebuild = true;
          continue;
        }
        ops.push({ create: { _index: memberIndexOf(opts.prefix, m), _id: memberIdOf(e.doc.cluster, a) } }, toEsMember(e.id, m, e.doc.cluster));
        refs.push({ e, kind: 'member', m });
      }
      if (rawRetention > 0) {
        for (const r of e.raw) {
          if (idTooLong(r.auditID)) continue;
          ops.push({ index: { _index: names.raw(rawDay(r.time)), _id: memberIdOf(e.doc.cluster, r.auditID) } }, { '@timestamp': Math.floor(r.time), contextId: r.contextId, ...(e.doc.cluster ? { cluster: e.doc.cluster } : {}), ...r.audit });
          refs.push({ e, kind: 'raw', m: r });
        }
      }
    }
    if (!ops.length) return { retry: [] };
    let items: any[];
    try {
      items = await bulk(ops, 'members');
    } catch (err) {
      const status = errStatus(err);
      const msg = `member bulk failed${status ? ` (${status})` : ''}: ${(err as Error).message}`;
      return { retry: batch, error: msg, permanent: !isTransientStatus(status) };
    }
    const retry = new Set<Entry>();
    const exists: Array<{ e: Entry; id: string; time: number }> = [];
    let rawOk = 0; let created = 0;
    items.forEach((item, k) => {
      const ref = refs[k]!;
      const res = ref.kind === 'member' ? item.create : item.index;
      const st: number = res?.status ?? 0;
      if (ref.kind === 'raw') {
        if (st >= 200 && st < 300) { rawOk++; ref.e.raw = ref.e.raw.filter((r) => r !== ref.m); }
        else if (isTransientStatus(st)) { retry.add(ref.e); mRetries.inc({ kind: 'raw' }); }
        else { deadLetter(ref.e, 'raw', permanentReason(res), itemError(res), (ref.m as RawEvent).auditID, (ref.m as RawEvent).audit); ref.e.raw = ref.e.raw.filter((r) => r !== ref.m); }
        return;
      }
      const id = (ref.m as ContextMember).auditID;
      if (st >= 200 && st < 300) { ref.e.added.delete(id); created++; }
      else if (st === 409) exists.push({ e: ref.e, id, time: (ref.m as ContextMember).time });
      else if (isTransientStatus(st)) { retry.add(ref.e); mRetries.inc({ kind: 'member' }); }
      else {
        deadLetter(ref.e, 'member', permanentReason(res), itemError(res), id, ref.m);
        ref.e.deadMembers.add(id); ref.e.added.delete(id); ref.e.rebuild = true;
      }
    });
    if (rawOk) mRaw.inc(undefined, rawOk);
    if (created) mMembers.inc(undefined, created);
    if (exists.length) {
      // stored before (a retry, a restart, a replay): find out in which context
      // by member document id: the same auditID of two clusters are two members
      const owners = new Map<string, string>();
      try {
        const byCluster = new Map<string | undefined, typeof exists>();
        for (const x of exists) {
          const list = byCluster.get(x.e.doc.cluster);
          if (list) list.push(x); else byCluster.set(x.e.doc.cluster, [x]);
        }
        for (const [cluster, list] of byCluster) {
          const found = await ownersOf(client, opts.prefix, list.map((x) => ({ auditID: x.id, time: x.time })), cluster);
          for (const [a, c] of found) owners.set(memberIdOf(cluster, a), c);
        }
      } catch (err) {
        for (const x of exists) retry.add(x.e);
        return { retry: [...retry], error: `member owner lookup failed: ${(err as Error).message}` };
      }
      for (const x of exists) {
        const owner = owners.get(memberIdOf(x.e.doc.cluster, x.id));
        if (owner === undefined) { retry.add(x.e); continue; } // 409 without a document: ask again
        x.e.added.delete(x.id);
        x.e.rebuild = true;
        mConflicts.inc({ kind: owner === x.e.id ? 'member-stored' : 'member-elsewhere' });
      }
    }
    return retry.size ? { retry: [...retry], error: `${retry.size} of ${batch.length} contexts' members were not accepted (overloaded or unavailable)` } : { retry: [] };
  }

  /** the summary to store for `e`, recomputed from the store when needed; null = nothing of it is ours */
  async function rebuilt(e: Entry, stored?: { doc: any; version: number }): Promise<{ doc: ContextDoc; version: number } | null> {
    const mine = e.doc.members.filter((m) => !e.deadMembers.has(m.auditID));
    const [owners, held, summaries] = await Promise.all([
      ownersOf(client, opts.prefix, mine.map((m) => ({ auditID: m.auditID, time: m.time })), e.doc.cluster),
      membersOf(client, opts.prefix, [e.id]),
      stored ? Promise.resolve(new Map([[e.id, stored]])) : summariesOf(client, opts.prefix, [{ id: e.id, start: e.doc.start }]),
    ]);
    const union = new Map<string, ContextMember>();
    for (const m of held.get(e.id) ?? []) union.set(m.auditID, m);
    for (const m of mine) if (owners.get(m.auditID) === e.id) union.set(m.auditID, m);
    const s = summaries.get(e.id);
    if (!union.size) return null;
    const doc = mergeSummary(e.doc, s?.doc, [...union.values()]);
    const version = Math.max(s?.version ?? 0, 2 * doc.eventCount + (doc.state === 'closed' ? 1 : 0));
    return { doc, version };
  }

  /** phase 2: summaries; returns entries to retry and the stored ones */
  async function sendSummaries(batch: Entry[]): Promise<Outcome & { stored: Array<{ e: Entry; doc: ContextDoc | null }> }> {
    const retry: Entry[] = [];
    const stored: Array<{ e: Entry; doc: ContextDoc | null }> = [];
    let pending: Array<{ e: Entry; doc: ContextDoc; version: number }> = [];
    for (const e of batch) {
      if (idTooLong(e.id)) {
        // the whole context, members included: none of it can be stored under this id
        deadLetter(e, 'summary', 'id-too-long', `context id is ${Buffer.byteLength(e.id)} bytes, Elasticsearch ids are at most 512`, e.id.slice(0, 1024), e.doc);
        stored.push({ e, doc: null });
        continue;
      }
      const dup = new Set(e.doc.members.map((m) => m.auditID)).size !== e.doc.members.length;
      if (dup) mConflicts.inc({ kind: 'duplicate-member' });
      if (e.rebuild || dup || rebuildIds.has(e.id)) {
        markRebuild(e.id);
        try {
          const r = await rebuilt(e);
          if (!r) { stored.push({ e, doc: null }); continue; }
          pending.push({ e, ...r });
        } catch (err) {
          retry.push(e);
          mRetries.inc({ kind: 'read' });
          log.debug('conflict resolution read failed; retrying', { id: e.id, err: err as Error });
        }
      } else {
        pending.push({ e, doc: e.doc, version: e.version });
      }
    }
    let error: string | undefined;
    for (let round = 0; pending.length && round < 3; round++) {
      const ops: unknown[] = [];
      for (const p of pending) ops.push({ index: { _index: contextIndexOf(opts.prefix, p.e.doc), _id: p.e.id, version: p.version, version_type: 'external_gte' } }, toEsDoc(p.doc));
      let items: any[];
      try {
        items = await bulk(ops, 'summaries');
      } catch (err) {
        const status = errStatus(err);
        return { retry: [...retry, ...pending.map((p) => p.e)], stored, error: `summary bulk failed${status ? ` (${status})` : ''}: ${(err as Error).message}`, permanent: !isTransientStatus(status) };
      }
      const conflicts: typeof pending = [];
      items.forEach((item, i) => {
        const p = pending[i]!;
        const res = item.index;
        const st: number = res?.status ?? 0;
        if (st >= 200 && st < 300) stored.push({ e: p.e, doc: p.doc });
        else if (st === 409) conflicts.push(p);
        else if (isTransientStatus(st)) { retry.push(p.e); mRetries.inc({ kind: 'summary' }); }
        else { deadLetter(p.e, 'summary', permanentReason(res), itemError(res), p.e.id, toEsDoc(p.doc)); stored.push({ e: p.e, doc: null }); }
      });
      // the stored summary knows more than we do: recompute from the store, write again
      pending = [];
      if (conflicts.length) {
        const summaries = await summariesOf(client, opts.prefix, conflicts.map((c) => ({ id: c.e.id, start: c.e.doc.start }))).catch(() => undefined);
        for (const c of conflicts) {
          mConflicts.inc({ kind: 'summary' });
          markRebuild(c.e.id);
          try {
            const r = summaries ? await rebuilt(c.e, summaries.get(c.e.id)) : undefined;
            if (r === undefined) { retry.push(c.e); continue; }
            if (!r) { stored.push({ e: c.e, doc: null }); continue; }
            pending.push({ e: c.e, ...r });
          } catch {
            retry.push(c.e);
          }
        }
        error = `${conflicts.length} summaries changed concurrently`;
      }
    }
    for (const p of pending) retry.push(p.e);
    return { retry, stored, error: retry.length ? error ?? `${retry.length} of ${batch.length} summaries were not accepted (overloaded or unavailable)` : undefined };
  }

  /** stores one batch; returns the entries to retry and why */
  async function sendBatch(batch: Entry[]): Promise<Outcome> {
    const m = await sendMembers(batch);
    if (m.permanent) {
      if (batch.length > 1) { isolate = batch.length; return { retry: batch, error: `${m.error}; retrying one context at a time` }; }
      // one context whose bulk is refused as a whole: keep it as a dead letter
      const e = batch[0]!;
      deadLetter(e, 'summary', 'es-bad-request', m.error ?? 'bulk refused', e.id.slice(0, 1024), e.doc);
      e.added.clear();
      return finish([{ e, doc: null }], []);
    }
    const retrySet = new Set(m.retry);
    const ready = batch.filter((e) => !retrySet.has(e));
    const s = ready.length ? await sendSummaries(ready) : { retry: [], stored: [] as Array<{ e: Entry; doc: ContextDoc | null }> };
    if ((s as Outcome).permanent) {
      if (ready.length > 1) { isolate = batch.length; return { retry: batch, error: `${(s as Outcome).error}; retrying one context at a time` }; }
      const e = ready[0]!;
      deadLetter(e, 'summary', 'es-bad-request', (s as Outcome).error ?? 'bulk refused', e.id.slice(0, 1024), toEsDoc(e.doc));
      return finish([{ e, doc: null }], m.retry, m.error);
    }
    return finish(s.stored, [...m.retry, ...s.retry], m.error ?? (s as Outcome).error);
  }

  /** dead letters first (their receipts settle once those are stored), then settle and publish */
  async function finish(done: Array<{ e: Entry; doc: ContextDoc | null }>, retry: Entry[], error?: string): Promise<Outcome> {
    const dead = done.flatMap((d) => d.e.dead);
    if (dead.length) {
      if (!opts.deadLetters) {
        for (const d of dead) log.error('document refused by Elasticsearch and no dead-letter index configured', { reason: d.reason, detail: d.detail, auditID: d.auditID });
      } else {
        try {
          await opts.deadLetters.put(dead);
        } catch (err) {
          return { retry: [...retry, ...done.map((d) => d.e)], error: `dead letters not stored: ${(err as Error).message}` };
        }
      }
      for (const d of done) d.e.dead = [];
    }
    if (!retry.length) recovered();
    const published: ContextDoc[] = [];
    for (const { e, doc } of done) {
      settle(e, true);
      if (doc) { published.push(doc); mDocs.inc(); }
    }
    if (published.length && listeners.size) {
      for (const l of listeners) {
        try { l(published); } catch (err) { log.error('onStored listener threw', { err: err as Error }); }
      }
    }
    return retry.length ? { retry, error } : { retry: [] };
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
        let result: Outcome;
        try {
          result = await sendBatch(inflight);
        } catch (e) {
          // programming error (e.g. a document that cannot be serialized): keep the data, report loudly
          log.error('context write failed unexpectedly', { err: e as Error });
          result = { retry: inflight, error: (e as Error).message };
        }
        inflight = [];
        if (!result.retry.length) { recovered(); continue; }
        if (abandoned) {
          for (const e of result.retry) fail(e, 'not stored before shutdown');
          continue;
        }
        requeue(result.retry);
        if (isolate > 0) continue; // split and resend right away
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
          enqueue({
            id: w.doc.id, doc: w.doc, version: w.version, newEvents: w.newEvents,
            added: new Set(w.added ?? w.doc.members.map((m) => m.auditID)),
            receipts: [...w.receipts], raw: w.raw ? [...w.raw] : [], tickets: [ticket],
            rebuild: false, deadMembers: new Set(), dead: [],
          });
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
        for (const e of left) fail(e, `not stored before shutdown (Elasticsearch unavailable for ${timeoutMs} ms)`);
        wake?.();
      }
    },
  };
}
