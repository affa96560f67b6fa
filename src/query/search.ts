/**
 * Elasticsearch requests behind the GraphQL fields. Every answer comes from a search over the
 * contexts index pattern (`<prefix>-contexts*`, so rolled-over indices count too); nothing is
 * scanned in memory. Documents are decoded with fromEsDoc only.
 */
import type { Client } from '@elastic/elasticsearch';
import { fromEsDoc, indexNames, type EsContextSource } from '../store/codec.ts';
import type { ContextDoc } from '../types/context.ts';
import { log } from '../util/log.ts';
import { userError } from './errors.ts';
import { FIELDS, toEsQuery, type FieldKey, type Filter } from './filter.ts';
import { SORTS, type SortName, type SortValues } from './cursor.ts';

/** A context as read from the index; `members` is absent when they were not fetched. */
export type StoredContext = Omit<ContextDoc, 'members'> & { members?: ContextDoc['members'] };

export interface Hit { ctx: StoredContext; sort: SortValues }

export const INTERVALS = {
  MINUTE: 60_000,
  FIVE_MINUTES: 300_000,
  FIFTEEN_MINUTES: 900_000,
  HOUR: 3_600_000,
  SIX_HOURS: 21_600_000,
  DAY: 86_400_000,
} as const;
export type IntervalName = keyof typeof INTERVALS;
export const MAX_BUCKETS = 1000;

const ES_INTERVAL: Record<IntervalName, string> = {
  MINUTE: '1m', FIVE_MINUTES: '5m', FIFTEEN_MINUTES: '15m', HOUR: '1h', SIX_HOURS: '6h', DAY: '1d',
};

export interface KeyCount { key: string; count: number }
export interface FacetResult { field: FieldKey; buckets: KeyCount[]; otherCount: number; total: number }
export interface TimelineBucket { start: number; count: number; events: number; outcomes: KeyCount[] }
export interface TimelineResult { interval: IntervalName; from: number; to: number; buckets: TimelineBucket[]; total: number }

function backendError(e: unknown, what: string): Error {
  const err = e as { meta?: { statusCode?: number; body?: { error?: { type?: string; reason?: string } } }; message?: string };
  log.error('elasticsearch request failed', { what, status: err.meta?.statusCode, type: err.meta?.body?.error?.type, reason: err.meta?.body?.error?.reason ?? err.message });
  return userError('the context store (Elasticsearch) could not answer; try again later', 'BACKEND_UNAVAILABLE');
}

export class ContextSearch {
  readonly index: string;
  constructor(private readonly es: Client, prefix: string) {
    this.index = indexNames(prefix).contextsPattern;
  }

  private async search(what: string, body: Record<string, unknown>): Promise<any> {
    try {
      return await this.es.search({ index: this.index, ignore_unavailable: true, allow_no_indices: true, ...body } as any);
    } catch (e) {
      throw backendError(e, what);
    }
  }

  private static source(withMembers: boolean): { excludes: string[] } {
    return { excludes: withMembers ? ['memberIds'] : ['members', 'memberIds'] };
  }

  private static decode(src: EsContextSource): StoredContext {
    return fromEsDoc(src as EsContextSource) as StoredContext;
  }

  /** One page of contexts; `hasNext` from fetching one more than asked. */
  async contexts(opts: { filter: Filter; sort: SortName; first: number; after?: SortValues; withMembers: boolean; withTotal: boolean }): Promise<{ hits: Hit[]; hasNext: boolean; total: number | undefined }> {
    const res = await this.search('contexts', {
      query: toEsQuery(opts.filter),
      sort: SORTS[opts.sort],
      size: opts.first + 1,
      ...(opts.after ? { search_after: opts.after } : {}),
      _source: ContextSearch.source(opts.withMembers),
      track_total_hits: opts.withTotal,
    });
    const raw: any[] = res.hits.hits;
    const hits = raw.slice(0, opts.first).map((h) => ({ ctx: ContextSearch.decode(h._source), sort: h.sort as SortValues }));
    const total = opts.withTotal ? (typeof res.hits.total === 'number' ? res.hits.total : res.hits.total?.value) : undefined;
    return { hits, hasNext: raw.length > opts.first, total };
  }

  async byId(id: string, withMembers = true): Promise<StoredContext | null> {
    const res = await this.search('context', { query: { ids: { values: [id] } }, size: 1, _source: ContextSearch.source(withMembers) });
    const h = res.hits.hits[0];
    return h ? ContextSearch.decode(h._source) : null;
  }

  async byAuditID(auditID: string, withMembers = true): Promise<StoredContext | null> {
    const res = await this.search('contextOfEvent', {
      query: { term: { memberIds: auditID } },
      // an event belongs to one context; should a re-labelled event appear twice, the newest wins
      sort: SORTS.START_DESC,
      size: 1,
      _source: ContextSearch.source(withMembers),
    });
    const h = res.hits.hits[0];
    return h ? ContextSearch.decode(h._source) : null;
  }

  /** Context counts per value of a keyword field. */
  async facet(field: FieldKey, filter: Filter, first: number): Promise<FacetResult> {
    const res = await this.search(`facet ${field}`, {
      query: toEsQuery(filter),
      size: 0,
      track_total_hits: true,
      aggs: { f: { terms: { field: FIELDS[field].es, size: Math.max(1, first), order: [{ _count: 'desc' }, { _key: 'asc' }] } } },
    });
    const agg = res.aggregations?.f ?? { buckets: [], sum_other_doc_count: 0 };
    return {
      field,
      buckets: (first === 0 ? [] : agg.buckets).map((b: any) => ({ key: String(b.key_as_string ?? b.key), count: b.doc_count })),
      otherCount: agg.sum_other_doc_count + (first === 0 ? agg.buckets.reduce((s: number, b: any) => s + b.doc_count, 0) : 0),
      total: res.hits.total.value,
    };
  }

  /** Contexts per time bucket of `start` in [from, to). */
  async timeline(filter: Filter, from: number, to: number, interval: IntervalName): Promise<TimelineResult> {
    const step = INTERVALS[interval];
    if (!(from < to)) throw userError('timeline: from must be before to');
    const n = Math.ceil((to - from) / step);
    if (n > MAX_BUCKETS) throw userError(`timeline: ${n} buckets of ${ES_INTERVAL[interval]} exceed the limit of ${MAX_BUCKETS}; use a larger interval or a shorter range`);
    const ranged: Filter = { ...filter, from: Math.max(from, filter.from ?? from), to: Math.min(to, filter.to ?? to) };
    const res = await this.search('timeline', {
      query: toEsQuery(ranged),
      size: 0,
      track_total_hits: true,
      aggs: {
        t: {
          date_histogram: {
            field: 'start',
            fixed_interval: ES_INTERVAL[interval],
            offset: `${from % step}ms`, // buckets start at `from`
            min_doc_count: 0,
            extended_bounds: { min: from, max: to - 1 },
            hard_bounds: { min: from, max: to - 1 },
          },
          aggs: {
            events: { sum: { field: 'eventCount' } },
            outcomes: { terms: { field: 'outcome', size: 10 } },
          },
        },
      },
    });
    const buckets: TimelineBucket[] = (res.aggregations?.t?.buckets ?? []).map((b: any) => ({
      start: Number(b.key),
      count: b.doc_count,
      events: Math.round(b.events?.value ?? 0),
      outcomes: (b.outcomes?.buckets ?? []).map((o: any) => ({ key: String(o.key), count: o.doc_count })),
    }));
    return { interval, from, to, buckets, total: res.hits.total.value };
  }

  /** Elasticsearch answers (for /readyz). */
  async ping(): Promise<boolean> {
    try { return await this.es.ping(); } catch { return false; }
  }
}
