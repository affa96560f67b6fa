/**
 * Elasticsearch requests behind the GraphQL fields. Every answer comes from a search over the
 * contexts index pattern (`<prefix>-contexts*`, so rolled-over indices count too); nothing is
 * scanned in memory. Documents are decoded with fromEsDoc only. Members live in their own
 * index (`<prefix>-members`, one document per auditID, see store/codec.ts) and are read only
 * when a query selects them.
 */
import type { Client } from '@elastic/elasticsearch';
import { fromEsDoc, indexNames, memberIdOf, type EsContextSource, type EsMemberSource } from '../store/codec.ts';
import { isClusterName, splitScopedId } from '../clusters/names.ts';
import { ECS_KEYS } from '../store/ecs.ts';
import { membersOf } from '../store/read.ts';
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

// ---- doc values -------------------------------------------------------------------------------

/** Context fields (GraphQL name → index field) readable from doc values exactly as stored. */
const DV_CONTEXT: Record<string, { es: string; kind: 'one' | 'many' | 'num' | 'date' }> = {
  id: { es: 'id', kind: 'one' },
  label: { es: 'label', kind: 'one' },
  action: { es: 'action.keyword', kind: 'one' },
  state: { es: 'state', kind: 'one' },
  start: { es: 'start', kind: 'date' },
  end: { es: 'end', kind: 'date' },
  eventCount: { es: 'eventCount', kind: 'num' },
  failures: { es: 'failures', kind: 'num' },
  forbidden: { es: 'forbidden', kind: 'num' },
  outcome: { es: 'outcome', kind: 'one' },
  cluster: { es: 'cluster', kind: 'one' },
  // keyword arrays come back sorted and deduplicated; GraphQL serves them sorted on both paths
  users: { es: 'users', kind: 'many' },
  namespaces: { es: 'namespaces', kind: 'many' },
  resources: { es: 'resources', kind: 'many' },
  names: { es: 'names', kind: 'many' },
  verbs: { es: 'verbs', kind: 'many' },
  flags: { es: 'flags', kind: 'many' },
};
const DV_TRIGGER: Record<string, { kind: 'one' | 'num'; optional?: boolean }> = {
  auditID: { kind: 'one' }, user: { kind: 'one' }, client: { kind: 'one' }, verb: { kind: 'one' }, apiGroup: { kind: 'one' },
  resource: { kind: 'one' }, code: { kind: 'num' }, subresource: { kind: 'one', optional: true }, namespace: { kind: 'one', optional: true },
  name: { kind: 'one', optional: true }, impersonatedUser: { kind: 'one', optional: true },
};
/** GraphQL Context fields computed from others. */
const DV_DERIVED: Record<string, string[]> = { durationMs: ['start', 'end'] };

export interface DocValueSelection { context: string[]; trigger: string[] }

/**
 * The doc-value selection for the Context (and Trigger) fields a query selects, or undefined
 * when some field needs `_source` (members, counts, confidence, trigger groups, ...).
 */
export function docValueSelection(contextFields: Iterable<string>, triggerFields: Iterable<string>): DocValueSelection | undefined {
  const context = new Set<string>(['id']);
  for (const f of contextFields) {
    if (f === '__typename') continue;
    if (f === 'trigger') continue;
    if (DV_DERIVED[f]) { for (const d of DV_DERIVED[f]!) context.add(d); continue; }
    if (!DV_CONTEXT[f]) return undefined;
    context.add(f);
  }
  const trigger: string[] = [];
  for (const f of triggerFields) {
    if (f === '__typename') continue;
    if (!DV_TRIGGER[f]) return undefined;
    trigger.push(f);
  }
  return { context: [...context], trigger };
}

function docValueFields(sel: DocValueSelection): Array<string | { field: string; format: string }> {
  return [
    ...sel.context.map((f) => (DV_CONTEXT[f]!.kind === 'date' ? { field: DV_CONTEXT[f]!.es, format: 'epoch_millis' } : DV_CONTEXT[f]!.es)),
    ...sel.trigger.map((f) => `trigger.${f}`),
  ];
}

function fromDocValues(fields: Record<string, unknown[]>, sel: DocValueSelection): StoredContext {
  const out: Record<string, unknown> = {};
  for (const f of sel.context) {
    const spec = DV_CONTEXT[f]!;
    const v = fields[spec.es];
    if (spec.kind === 'many') out[f] = v ?? [];
    else if (v && v.length) out[f] = spec.kind === 'one' ? String(v[0]) : Number(v[0]);
  }
  if (sel.trigger.length) {
    const t: Record<string, unknown> = {};
    for (const f of sel.trigger) {
      const v = fields[`trigger.${f}`];
      if (v && v.length) t[f] = DV_TRIGGER[f]!.kind === 'num' ? Number(v[0]) : String(v[0]);
    }
    out.trigger = t;
  }
  return out as unknown as StoredContext;
}

function isComplete(c: StoredContext, sel: DocValueSelection): boolean {
  const rec = c as unknown as Record<string, unknown>;
  for (const f of sel.context) if (rec[f] === undefined) return false;
  const t = rec.trigger as Record<string, unknown> | undefined;
  for (const f of sel.trigger) if (!DV_TRIGGER[f]!.optional && t?.[f] === undefined) return false;
  return true;
}

function backendError(e: unknown, what: string): Error {
  const err = e as { meta?: { statusCode?: number; body?: { error?: { type?: string; reason?: string } } }; message?: string };
  log.error('elasticsearch request failed', { what, status: err.meta?.statusCode, type: err.meta?.body?.error?.type, reason: err.meta?.body?.error?.reason ?? err.message });
  return userError('the context store (Elasticsearch) could not answer; try again later', 'BACKEND_UNAVAILABLE');
}

export class ContextSearch {
  readonly index: string;
  private readonly names: ReturnType<typeof indexNames>;
  constructor(private readonly es: Client, private readonly prefix: string) {
    this.names = indexNames(prefix);
    this.index = this.names.contextsPattern;
  }

  /** attaches every context's members (sorted by time, auditID) */
  private async withMembers(ctxs: StoredContext[]): Promise<void> {
    if (!ctxs.length) return;
    let byId: Map<string, ContextDoc['members']>;
    try {
      byId = await membersOf(this.es, this.prefix, ctxs.map((c) => c.id));
    } catch (e) {
      throw backendError(e, 'members');
    }
    for (const c of ctxs) c.members = byId.get(c.id) ?? [];
  }

  private async search(what: string, body: Record<string, unknown>): Promise<any> {
    try {
      return await this.es.search({ index: this.index, ignore_unavailable: true, allow_no_indices: true, ...body } as any);
    } catch (e) {
      throw backendError(e, what);
    }
  }

  private static source(_withMembers: boolean): { excludes: string[] } {
    return { excludes: ['members', 'memberIds', ...ECS_KEYS] };
  }

  private static decode(src: EsContextSource): StoredContext {
    const { members: _m, ...ctx } = fromEsDoc(src as EsContextSource);
    return ctx as StoredContext;
  }

  /**
   * One page of contexts; `hasNext` from fetching one more than asked. With `docValues` (the
   * fields the query selects, all servable from doc values) hits are read from doc values
   * only: no stored fields are loaded, which skips decompressing `_source` (members and all)
   * and makes list queries several times faster. Otherwise `_source` is read, without members
   * unless `withMembers`.
   */
  async contexts(opts: { filter: Filter; sort: SortName; first: number; after?: SortValues; withMembers: boolean; withTotal: boolean; docValues?: DocValueSelection }): Promise<{ hits: Hit[]; hasNext: boolean; total: number | undefined }> {
    const dv = opts.docValues;
    const res = await this.search('contexts', {
      query: toEsQuery(opts.filter),
      sort: SORTS[opts.sort],
      size: opts.first + 1,
      ...(opts.after ? { search_after: opts.after } : {}),
      ...(dv ? { stored_fields: ['_none_'], docvalue_fields: docValueFields(dv) } : { _source: ContextSearch.source(opts.withMembers) }),
      track_total_hits: opts.withTotal,
    });
    const raw: any[] = res.hits.hits.slice(0, opts.first);
    let hits: Hit[];
    if (dv) {
      hits = raw.map((h) => ({ ctx: fromDocValues(h.fields ?? {}, dv), sort: h.sort as SortValues }));
      // a value doc values cannot hold (e.g. an action longer than `ignore_above`): read those from _source
      const incomplete = hits.filter((h) => !isComplete(h.ctx, dv));
      if (incomplete.length) {
        const full = await this.search('contexts (source)', { query: { ids: { values: incomplete.map((h) => h.ctx.id) } }, size: incomplete.length, _source: ContextSearch.source(false) });
        const byId = new Map<string, StoredContext>(full.hits.hits.map((h: any) => [h._source.id, ContextSearch.decode(h._source)]));
        for (const h of incomplete) h.ctx = byId.get(h.ctx.id) ?? h.ctx;
      }
    } else {
      hits = raw.map((h) => ({ ctx: ContextSearch.decode(h._source), sort: h.sort as SortValues }));
    }
    if (opts.withMembers) await this.withMembers(hits.map((h) => h.ctx));
    const total = opts.withTotal ? (typeof res.hits.total === 'number' ? res.hits.total : res.hits.total?.value) : undefined;
    return { hits, hasNext: res.hits.hits.length > opts.first, total };
  }

  async byId(id: string, withMembers = true): Promise<StoredContext | null> {
    const res = await this.search('context', { query: { ids: { values: [id] } }, size: 1, _source: ContextSearch.source(withMembers) });
    const h = res.hits.hits[0];
    if (!h) return null;
    const ctx = ContextSearch.decode(h._source);
    if (withMembers) await this.withMembers([ctx]);
    return ctx;
  }

  /**
   * The context holding an auditID of `cluster`: its member document names it (one context per
   * auditID and cluster). Without a cluster, the auditID is looked up in every cluster; found in
   * more than one, the answer is an error naming them (auditIDs are unique only per cluster).
   */
  async byAuditID(auditID: string, withMembers = true, cluster?: string): Promise<StoredContext | null> {
    let res: any;
    try {
      // (an id that is the bare auditID: a member stored before clusters, not migrated yet)
      const query = cluster !== undefined ? { ids: { values: [memberIdOf(cluster, auditID)] } } : { bool: { should: [{ term: { auditID } }, { ids: { values: [auditID] } }], minimum_should_match: 1 } };
      res = await this.es.search<EsMemberSource>({ index: this.names.membersPattern, ignore_unavailable: true, allow_no_indices: true, query, size: 10, _source: ['contextId', 'cluster'] });
    } catch (e) {
      throw backendError(e, 'contextOfEvent');
    }
    const owners = new Map<string, string>();
    for (const h of res.hits.hits) if (typeof h._source?.contextId === 'string') owners.set(h._source.contextId, h._source.cluster ?? splitScopedId(h._source.contextId).cluster);
    if (owners.size > 1) throw userError(`auditID ${auditID} is in several clusters (${[...new Set(owners.values())].sort().join(', ')}): give contextOfEvent a cluster`);
    const contextId = owners.keys().next().value;
    return contextId !== undefined ? this.byId(contextId, withMembers) : null;
  }

  /**
   * The context right before (`previous`) or after (`next`) `ctx` in start order among those
   * matching `filter` (ties broken by id, as list pages are).
   */
  async adjacent(ctx: Pick<StoredContext, 'id' | 'start'>, filter: Filter, dir: 'previous' | 'next'): Promise<StoredContext | null> {
    const sort: SortName = dir === 'previous' ? 'START_DESC' : 'START_ASC';
    const res = await this.search(`${dir} context`, {
      query: toEsQuery(filter),
      sort: SORTS[sort],
      search_after: [ctx.start, ctx.id],
      size: 1,
      _source: ContextSearch.source(false),
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
    const byStart = new Map<number, any>();
    for (const b of res.aggregations?.t?.buckets ?? []) byStart.set(Number(b.key), b);
    // every bucket of the range, also when no index exists yet
    const buckets: TimelineBucket[] = [];
    for (let k = 0; k < n; k++) {
      const start = from + k * step;
      const b = byStart.get(start);
      buckets.push({
        start,
        count: b?.doc_count ?? 0,
        events: Math.round(b?.events?.value ?? 0),
        outcomes: (b?.outcomes?.buckets ?? []).map((o: any) => ({ key: String(o.key), count: o.doc_count })),
      });
    }
    return { interval, from, to, buckets, total: res.hits.total.value };
  }

  /** Elasticsearch answers (for /readyz). */
  async ping(): Promise<boolean> {
    try {
      const h = await this.es.cluster.health({ timeout: '2s' });
      return h.status !== 'red';
    } catch { return false; }
  }
}
