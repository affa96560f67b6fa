/**
 * Resolvers for schema/kontext.graphql. Query fields validate their arguments, then ask
 * ContextSearch (Elasticsearch); Context fields read the decoded ContextDoc. Enum values map to
 * the strings stored in the index (`secret-read`, `success`, ...).
 */
import { isClusterName, splitScopedId } from '../clusters/names.ts';
import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import { Repeater, SlidingBuffer } from 'graphql-yoga';
import type { ContextDoc, SecurityFlag } from '../types/context.ts';
import { gauge } from '../util/metrics.ts';
import { userError } from './errors.ts';
import { andFilters, matchesFilter, normalizeFilter, type FieldKey, type Filter } from './filter.ts';
import { decodeCursor, encodeCursor, type SortName } from './cursor.ts';
import { fieldsOf, type QueryLimits } from './limits.ts';
import { INTERVALS, docValueSelection, type ContextSearch, type IntervalName, type StoredContext } from './search.ts';
import { DateTimeScalar, parseTime } from './time.ts';
import { flagMatches, memberSource } from './members.ts';

export type SubscribeClosed = (cb: (ctx: ContextDoc) => void) => () => void;

export interface ResolverDeps {
  search: ContextSearch;
  subscribeClosed?: SubscribeClosed;
  limits: QueryLimits;
  /** active subscriptions, ended by the handler's close() */
  subscriptions: Set<() => void>;
}

export const FLAGS: Record<string, SecurityFlag> = {
  SECRET_READ: 'secret-read', EXEC: 'exec', ATTACH: 'attach', PORTFORWARD: 'portforward',
  RBAC_CHANGE: 'rbac-change', CSR_APPROVAL: 'csr-approval', ANONYMOUS: 'anonymous',
  FORBIDDEN_BURST: 'forbidden-burst', IMPERSONATION: 'impersonation', PRIVILEGED_POD: 'privileged-pod',
};
export const SEVERITIES = { CRITICAL: 'critical', HIGH: 'high', MEDIUM: 'medium', LOW: 'low', INFO: 'info' } as const;
export const OUTCOMES = { SUCCESS: 'success', FAILURE: 'failure', FORBIDDEN: 'forbidden', PARTIAL: 'partial' } as const;
export const FACET_FIELDS: Record<string, FieldKey> = {
  TRIGGERED_BY: 'triggeredBy', USER: 'user', GROUP: 'group', LABEL: 'label', NAMESPACE: 'namespace',
  RESOURCE: 'resource', VERB: 'verb', OUTCOME: 'outcome', FLAG: 'flag', CLIENT: 'client',
  DETECTION: 'detection', SEVERITY: 'severity', CLUSTER: 'cluster',
};

/** Flags in the order of the Flag enum (unknown stored values are left out). */
const FLAG_ORDER: SecurityFlag[] = Object.values(FLAGS);

function sortedSet(xs: readonly string[] | undefined): string[] {
  return [...new Set(xs ?? [])].sort();
}

const MAX_MEMBERS = 1000;
const MAX_SAME_OBJECT = 100;
const MAX_FACET = 1000;
const MAX_ID = 512;

const subscriptionsGauge = gauge('kontext_graphql_subscriptions', 'Active contextClosed subscriptions.');
const SUBSCRIBER_BUFFER = 1000;

/** Whether the query selects `path` below the current field (fragments included). */
export function selects(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  let sets: SelectionSetNode[] = info.fieldNodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
  for (let i = 0; i < path.length; i++) {
    const next: SelectionSetNode[] = [];
    let found = false;
    for (const set of sets) {
      for (const f of fieldsOf(set, info.fragments, new Set())) {
        if (f.name.value !== path[i]) continue;
        found = true;
        if (f.selectionSet) next.push(f.selectionSet);
      }
    }
    if (!found) return false;
    sets = next;
  }
  return true;
}

/** Names of the fields selected at `path` below the current field (union over its occurrences). */
export function selectedFields(info: GraphQLResolveInfo, path: readonly string[]): Set<string> {
  let sets: SelectionSetNode[] = info.fieldNodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
  for (const name of path) {
    const next: SelectionSetNode[] = [];
    for (const set of sets) for (const f of fieldsOf(set, info.fragments, new Set())) if (f.name.value === name && f.selectionSet) next.push(f.selectionSet);
    sets = next;
  }
  const out = new Set<string>();
  for (const set of sets) for (const f of fieldsOf(set, info.fragments, new Set())) out.add(f.name.value);
  return out;
}

function intArg(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw userError(`${name}: expected an integer`);
  if (v < min || v > max) throw userError(`${name}: must be between ${min} and ${max}, got ${v}`);
  return v;
}

function idArg(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw userError(`${name}: expected a non-empty ID`);
  if (v.length > MAX_ID) throw userError(`${name}: longer than ${MAX_ID} characters`);
  return v;
}

type Args = Record<string, any>;
interface Ctx { deps: ResolverDeps }

export function createResolvers(deps: ResolverDeps) {
  const { search, limits } = deps;

  const facet = (field: FieldKey) => (_: unknown, args: Args) =>
    search.facet(field, normalizeFilter(args.filter), intArg('first', args.first ?? 20, 0, MAX_FACET));

  return {
    DateTime: DateTimeScalar,
    Flag: FLAGS,
    Outcome: OUTCOMES,
    Severity: SEVERITIES,
    ContextState: { OPEN: 'open', CLOSED: 'closed' },
    FacetField: FACET_FIELDS,

    Query: {
      async contexts(_: unknown, args: Args, _ctx: Ctx, info: GraphQLResolveInfo) {
        const filter = normalizeFilter(args.filter);
        const sort = (args.sort ?? 'START_DESC') as SortName;
        const first = intArg('first', args.first ?? 50, 0, limits.maxFirst);
        const after = args.after === undefined || args.after === null ? undefined : decodeCursor(String(args.after), sort);
        const withMembers = selects(info, ['edges', 'node', 'members']) || selects(info, ['nodes', 'members']);
        const withTotal = selects(info, ['totalCount']);
        const nodeFields = new Set([...selectedFields(info, ['edges', 'node']), ...selectedFields(info, ['nodes'])]);
        const triggerFields = new Set([...selectedFields(info, ['edges', 'node', 'trigger']), ...selectedFields(info, ['nodes', 'trigger'])]);
        const docValues = docValueSelection(nodeFields, triggerFields);
        const page = await search.contexts({ filter, sort, first, after, withMembers, withTotal, docValues });
        const edges = page.hits.map((h) => ({ cursor: encodeCursor(sort, h.sort), node: h.ctx }));
        return {
          edges,
          nodes: edges.map((e) => e.node),
          pageInfo: { hasNextPage: page.hasNext, endCursor: edges.length ? edges[edges.length - 1]!.cursor : null },
          totalCount: page.total ?? 0,
        };
      },
      async context(_: unknown, args: Args, _ctx: Ctx, info: GraphQLResolveInfo) {
        return search.byId(idArg('id', args.id), selects(info, ['members']) || selects(info, ['flagMatches']));
      },
      async contextOfEvent(_: unknown, args: Args, _ctx: Ctx, info: GraphQLResolveInfo) {
        const cluster = args.cluster === undefined || args.cluster === null ? undefined : String(args.cluster);
        if (cluster !== undefined && !isClusterName(cluster)) throw userError('cluster: not a cluster name (1-63 of A-Z a-z 0-9 . _ -)');
        return search.byAuditID(idArg('auditID', args.auditID), selects(info, ['members']) || selects(info, ['flagMatches']), cluster);
      },
      users: facet('triggeredBy'),
      actions: facet('label'),
      namespaces: facet('namespace'),
      clusters: facet('cluster'),
      async facet(_: unknown, args: Args) {
        const field = args.field as FieldKey;
        return search.facet(field, normalizeFilter(args.filter), intArg('first', args.first ?? 20, 0, MAX_FACET));
      },
      async timeline(_: unknown, args: Args) {
        let filter: Filter = normalizeFilter(args.filter);
        if (args.user !== undefined && args.user !== null) filter = andFilters(filter, normalizeFilter({ user: [args.user] }, 'timeline'));
        const from = args.from as number;
        const to = args.to === undefined || args.to === null ? parseTime('now') : (args.to as number);
        if (from >= to) throw userError('timeline: from must be before to');
        const interval = (args.interval ?? 'HOUR') as IntervalName;
        if (!(interval in INTERVALS)) throw userError(`timeline: unknown interval ${String(interval)}`);
        return search.timeline(filter, from, to, interval);
      },
    },

    Context: {
      durationMs: (c: StoredContext) => c.end - c.start,
      cluster: (c: StoredContext) => c.cluster ?? splitScopedId(c.id).cluster,
      // sets, served sorted (the same whether read from _source or doc values)
      users: (c: StoredContext) => sortedSet(c.users),
      namespaces: (c: StoredContext) => sortedSet(c.namespaces),
      resources: (c: StoredContext) => sortedSet(c.resources),
      names: (c: StoredContext) => sortedSet(c.names),
      verbs: (c: StoredContext) => sortedSet(c.verbs),
      flags: (c: StoredContext) => FLAG_ORDER.filter((f) => (c.flags ?? []).includes(f)),
      detections: (c: StoredContext) => c.detections ?? [],
      async members(c: StoredContext, args: Args) {
        const first = intArg('members(first)', args.first ?? 100, 0, MAX_MEMBERS);
        const offset = intArg('members(offset)', args.offset ?? 0, 0, Number.MAX_SAFE_INTEGER);
        let members = c.members;
        if (!members) members = (await search.byId(c.id, true))?.members ?? [];
        return members.slice(offset, offset + first);
      },
      async flagMatches(c: StoredContext) {
        const flags = FLAG_ORDER.filter((f) => (c.flags ?? []).includes(f));
        if (!flags.length) return [];
        const members = c.members ?? (await search.byId(c.id, true))?.members ?? [];
        return flagMatches(flags, members, c.trigger);
      },
      previousOfUser: (c: StoredContext) => search.adjacent(c, { triggeredBy: [c.trigger.user] }, 'previous'),
      nextOfUser: (c: StoredContext) => search.adjacent(c, { triggeredBy: [c.trigger.user] }, 'next'),
      async sameObject(c: StoredContext, args: Args) {
        const first = intArg('sameObject(first)', args.first ?? 10, 0, MAX_SAME_OBJECT);
        const t = c.trigger;
        if (!t.name || first === 0) return [];
        const resource = t.apiGroup ? `${t.apiGroup}/${t.resource}` : t.resource;
        const filter: Filter = { name: [t.name], resource: [resource], ...(t.namespace ? { namespace: [t.namespace] } : {}) };
        const page = await search.contexts({ filter, sort: 'START_DESC', first: first + 1, withMembers: false, withTotal: false });
        return page.hits.map((h) => h.ctx).filter((x) => x.id !== c.id).slice(0, first);
      },
    },

    Member: {
      component: (m: ContextDoc['members'][number]) => memberSource(m.user).component,
      actor: (m: ContextDoc['members'][number]) => memberSource(m.user).actor,
    },

    Trigger: {
      groups: (t: ContextDoc['trigger']) => sortedSet(t.groups),
      sourceIPs: (t: ContextDoc['trigger']) => t.sourceIPs ?? [],
    },

    Subscription: {
      contextClosed: {
        subscribe(_: unknown, args: Args) {
          const filter = normalizeFilter(args.filter);
          const source = deps.subscribeClosed;
          if (!source) throw userError('subscriptions are not available on this server');
          if (deps.subscriptions.size >= limits.maxSubscriptions) {
            throw userError(`too many subscriptions (limit ${limits.maxSubscriptions}); try again later`, 'TOO_MANY_SUBSCRIPTIONS');
          }
          return new Repeater<ContextDoc>(async (push, stop) => {
            const unsubscribe = source((ctx) => {
              if (ctx.state !== 'closed' || !matchesFilter(filter, ctx)) return;
              void push(ctx).catch(() => {});
            });
            const end = () => { stop(); };
            deps.subscriptions.add(end);
            subscriptionsGauge.set(deps.subscriptions.size);
            try { await stop; } finally {
              unsubscribe();
              deps.subscriptions.delete(end);
              subscriptionsGauge.set(deps.subscriptions.size);
            }
          }, new SlidingBuffer(SUBSCRIBER_BUFFER)); // a slow reader loses the oldest, never blocks the pipeline
        },
        resolve: (ctx: ContextDoc) => ctx,
      },
    },
  };
}
