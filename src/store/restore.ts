/**
 * Start-up reads of the context store: the contexts a restarted kontext takes back (open
 * ones younger than the horizon, and recently closed ones that late or re-sent events may
 * still reach), and the sweeper that closes documents left `open` by a crash once they are
 * past their maximum age. Times are event time: the store's watermark is the newest `end`
 * stored, so a replay of old data and a live restart behave the same.
 */
import type { Client } from '@elastic/elasticsearch';
import type { ContextDoc } from '../types/context.ts';
import { fromEsDoc, indexNames, toEsDoc, type EsContextSource } from './codec.ts';
import { membersOf } from './read.ts';
import { searchPages } from './pages.ts';
import { DEFAULT_CLUSTER } from '../clusters/names.ts';
import { log as rootLog } from '../util/log.ts';
import { counter } from '../util/metrics.ts';

const log = rootLog.child({ stage: 'store' });
const mRestored = counter('kontext_store_restored_contexts_total', 'Contexts loaded back from Elasticsearch at start-up, by state.');
const mSwept = counter('kontext_store_swept_contexts_total', 'Stale open context documents closed by the sweeper.');

export interface RestoreOptions {
  /** open contexts whose last member is at most this old (event time, vs the store watermark) come back */
  openHorizonMs: number;
  /** closed contexts whose last member is at most this old come back (for late and re-sent events) */
  closedHorizonMs: number;
  /** at most this many members are loaded (newest contexts first; default 500 000) */
  maxMembers?: number;
  /** at most this many contexts (default and most 10 000) */
  maxContexts?: number;
  /** only contexts of these clusters (a replica's own, see --clusters); absent: every cluster */
  clusters?: readonly string[];
}

/** the filter of documents of `clusters` (contexts stored before clusters are the default cluster's) */
function clusterFilter(clusters: readonly string[] | undefined): any[] {
  if (!clusters?.length) return [];
  const any: any[] = [{ terms: { cluster: [...clusters] } }];
  if (clusters.includes(DEFAULT_CLUSTER)) any.push({ bool: { must_not: { exists: { field: 'cluster' } } } });
  return [{ bool: { should: any, minimum_should_match: 1 } }];
}

/** Newest event time stored (max `end`), or undefined for an empty store. */
export async function storeWatermark(client: Client, prefix: string, clusters?: readonly string[]): Promise<number | undefined> {
  const only = clusterFilter(clusters);
  const res: any = await client.search({ index: indexNames(prefix).contextsPattern, size: 0, ignore_unavailable: true, allow_no_indices: true, ...(only.length ? { query: { bool: { filter: only } } } : {}), aggs: { end: { max: { field: 'end' } } } });
  const v = res.aggregations?.end?.value;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Contexts to take back after a restart, with their members; newest first within the limits. */
export async function loadRecentContexts(client: Client, prefix: string, opts: RestoreOptions): Promise<{ docs: ContextDoc[]; watermark?: number; truncated: boolean }> {
  const watermark = await storeWatermark(client, prefix, opts.clusters);
  if (watermark === undefined) return { docs: [], truncated: false };
  const only = clusterFilter(opts.clusters);
  const maxContexts = Math.min(opts.maxContexts ?? 10_000, 10_000);
  const maxMembers = opts.maxMembers ?? 500_000;
  const res: any = await client.search({
    index: indexNames(prefix).contexts, size: maxContexts, ignore_unavailable: true,
    _source: { excludes: ['members', 'memberIds'] },
    query: { bool: { filter: only, should: [
      { bool: { filter: [{ term: { state: 'open' } }, { range: { end: { gte: watermark - opts.openHorizonMs } } }] } },
      { bool: { filter: [{ term: { state: 'closed' } }, { range: { end: { gte: watermark - opts.closedHorizonMs } } }] } },
    ], minimum_should_match: 1 } },
    sort: [{ end: 'desc' }],
  });
  let summaries: EsContextSource[] = res.hits.hits.map((h: any) => h._source);
  let truncated = res.hits.hits.length >= maxContexts;
  let total = 0; let keep = 0;
  for (const s of summaries) { if (total + s.eventCount > maxMembers) { truncated = true; break; } total += s.eventCount; keep++; }
  summaries = summaries.slice(0, keep);
  const members = await membersOf(client, prefix, summaries.map((s) => s.id));
  const docs = summaries.map((s) => fromEsDoc(s, members.get(s.id) ?? [])).filter((d) => d.members.length);
  for (const d of docs) mRestored.inc({ state: d.state });
  if (truncated) log.warn('restore limit reached: older contexts are not taken back (events re-sent for them are still stored once, in their stored context)', { contexts: docs.length, members: total });
  return { docs, watermark, truncated };
}

/**
 * Closes every stored context still `open` whose last member is older than `horizonMs`
 * before the store watermark (left open by a crash); returns how many. Each is rewritten
 * with the next external version, so a newer write by the pipeline always wins.
 */
/**
 * Pages (1 000 each, at most `maxPages`) of stored contexts still `open` whose last member is more
 * than `horizonMs` behind the store's newest event; nothing for an empty store.
 */
export async function* staleOpenPages(client: Client, prefix: string, horizonMs: number, maxPages: number): AsyncGenerator<any[]> {
  const watermark = await storeWatermark(client, prefix);
  if (watermark === undefined) return;
  yield* searchPages(client, {
    index: indexNames(prefix).contexts, size: 1000, maxPages, version: true, _source: { excludes: ['members', 'memberIds'] },
    query: { bool: { filter: [{ term: { state: 'open' } }, { range: { end: { lt: watermark - horizonMs } } }] } },
    sort: [{ end: 'asc' }, { id: 'asc' }],
  });
}

/** The bulk operation that closes a stale hit in its own day index, at the next version (its ECS fields derived afresh). */
export function closeOperation(h: any): unknown[] {
  return [{ index: { _index: h._index, _id: h._id, version: (h._version ?? 0) + 1, version_type: 'external' } }, toEsDoc({ ...h._source, state: 'closed' })];
}

export async function sweepStaleOpen(client: Client, prefix: string, horizonMs: number, opts: { refresh?: boolean | 'wait_for' } = {}): Promise<number> {
  let swept = 0;
  for await (const hits of staleOpenPages(client, prefix, horizonMs, 1000)) {
    const r = await client.bulk({ operations: hits.flatMap(closeOperation), refresh: opts.refresh });
    for (const it of r.items) if (it.index && it.index.status >= 200 && it.index.status < 300) swept++;
  }
  if (swept) { mSwept.inc(undefined, swept); log.info('closed stale open contexts left by an earlier run', { contexts: swept, olderThanMs: horizonMs }); }
  return swept;
}
