/**
 * Benchmark: latency of "contexts of user X in the last 24 hours" (first 50, with totalCount)
 * through the real GraphQL handler, over 1M realistic contexts (quick: 10k) spread over 7 days
 * in a throw-away index prefix. Reports p50/p95/p99; target p95 <= 50 ms.
 *
 * Contexts come from a fast synthetic generator (not the simulator): a few hundred users with a
 * skewed activity distribution, realistic labels, namespaces, cascades and outcomes.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { BenchOptions, BenchResult } from './types.ts';
import { memberAggregates } from '../cluster/summary.ts';
import { createGraphqlHandler } from '../query/handler.ts';
import { createEsClient } from '../store/es-client.ts';
import { dayOf, indexNames, toEsDoc } from '../store/codec.ts';
import { ensureIndexTemplates } from '../store/templates.ts';
import type { ContextDoc, ContextMember, Outcome, SecurityFlag } from '../types/context.ts';
import { labelKey, verbClassOf } from '../types/label.ts';
import { Progress } from '../util/progress.ts';
import { prng } from '../util/prng.ts';

const DAY = 86_400_000;
const SPAN_DAYS = 7;
const BATCH = 2000;
const IN_FLIGHT = 2;

// ---- generator -------------------------------------------------------------------------------



interface Action { verb: string; group: string; resource: string; sub?: string; cascade: [number, number]; namespaced: boolean; weight: number; flags?: SecurityFlag[] }

const ACTIONS: Action[] = [
  { verb: 'get', group: '', resource: 'pods', cascade: [1, 1], namespaced: true, weight: 30 },
  { verb: 'list', group: '', resource: 'pods', cascade: [1, 1], namespaced: true, weight: 25 },
  { verb: 'get', group: 'apps', resource: 'deployments', cascade: [1, 1], namespaced: true, weight: 10 },
  { verb: 'list', group: '', resource: 'services', cascade: [1, 1], namespaced: true, weight: 6 },
  { verb: 'create', group: 'apps', resource: 'deployments', cascade: [8, 40], namespaced: true, weight: 6 },
  { verb: 'patch', group: 'apps', resource: 'deployments', cascade: [6, 30], namespaced: true, weight: 8 },
  { verb: 'delete', group: 'apps', resource: 'deployments', cascade: [5, 25], namespaced: true, weight: 3 },
  { verb: 'create', group: 'batch', resource: 'jobs', cascade: [5, 15], namespaced: true, weight: 3 },
  { verb: 'delete', group: '', resource: 'pods', cascade: [3, 8], namespaced: true, weight: 4 },
  { verb: 'create', group: '', resource: 'configmaps', cascade: [1, 2], namespaced: true, weight: 3 },
  { verb: 'update', group: '', resource: 'configmaps', cascade: [1, 2], namespaced: true, weight: 3 },
  { verb: 'get', group: '', resource: 'secrets', cascade: [1, 1], namespaced: true, weight: 2, flags: ['secret-read'] },
  { verb: 'create', group: '', resource: 'pods', sub: 'exec', cascade: [1, 1], namespaced: true, weight: 2, flags: ['exec'] },
  { verb: 'create', group: '', resource: 'pods', sub: 'portforward', cascade: [1, 1], namespaced: true, weight: 1, flags: ['portforward'] },
  { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', cascade: [1, 2], namespaced: true, weight: 1, flags: ['rbac-change'] },
  { verb: 'create', group: '', resource: 'namespaces', cascade: [3, 6], namespaced: false, weight: 1 },
  { verb: 'delete', group: '', resource: 'namespaces', cascade: [10, 80], namespaced: false, weight: 0.5 },
  { verb: 'patch', group: '', resource: 'nodes', cascade: [1, 3], namespaced: false, weight: 0.5 },
  { verb: 'create', group: 'networking.k8s.io', resource: 'ingresses', cascade: [2, 5], namespaced: true, weight: 1 },
  { verb: 'patch', group: 'apps', resource: 'statefulsets', cascade: [4, 20], namespaced: true, weight: 1.5 },
];
const ACTION_CUM = cumulative(ACTIONS.map((a) => a.weight));
const CLIENTS = ['kubectl/v1.30.2', 'kubectl/v1.29.4', 'helm/v3.14.0', 'argocd-application-controller/v2.10.4', 'Go-http-client/2.0', 'k9s/v0.32.4'];
const CONTROLLERS = ['system:serviceaccount:kube-system:replicaset-controller', 'system:serviceaccount:kube-system:deployment-controller',
  'system:kube-scheduler', 'system:serviceaccount:kube-system:endpointslice-controller', 'system:serviceaccount:kube-system:generic-garbage-collector'];
const CHILD_RESOURCES = ['apps/replicasets', 'pods', 'pods/binding', 'pods/status', 'discovery.k8s.io/endpointslices', 'events'];
const PAST = { create: 'created', delete: 'deleted', patch: 'patched', update: 'updated', get: 'read', list: 'listed' } as Record<string, string>;

function cumulative(ws: number[]): number[] {
  let s = 0;
  const out = ws.map((w) => (s += w));
  return out.map((v) => v / s);
}
function pickCum(cum: number[], r: number): number {
  let lo = 0; let hi = cum.length - 1;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (cum[mid]! < r) lo = mid + 1; else hi = mid; }
  return lo;
}

export interface Population { users: string[]; userCum: number[]; namespaces: string[]; nsCum: number[] }

export function population(nUsers = 300, nNamespaces = 60): Population {
  const users: string[] = [];
  for (let i = 0; i < nUsers; i++) {
    if (i % 10 === 9) users.push(`system:serviceaccount:ci-${i % 7}:deployer-${i}`);
    else users.push(`user${String(i).padStart(3, '0')}@example.com`);
  }
  const namespaces = Array.from({ length: nNamespaces }, (_, i) => (i < 3 ? ['default', 'kube-system', 'monitoring'][i]! : `team-${i}`));
  // Zipf-like activity: a few very busy users (CI, operators), a long tail of occasional ones
  return { users, userCum: cumulative(users.map((_, i) => 1 / (i + 1) ** 0.9)), namespaces, nsCum: cumulative(namespaces.map((_, i) => 1 / (i + 1))) };
}

/** Context number `i` of a deterministic stream; start times spread over [now - 7d, now]. */
export function syntheticContext(i: number, pop: Population, now: number, r: () => number): ContextDoc {
  const a = ACTIONS[pickCum(ACTION_CUM, r())]!;
  const user = pop.users[pickCum(pop.userCum, r())]!;
  const ns = a.namespaced ? pop.namespaces[pickCum(pop.nsCum, r())]! : undefined;
  const name = a.verb === 'list' ? undefined : `${a.resource.replace(/s$/, '')}-${Math.floor(r() * 5000)}`;
  const start = Math.floor(now - r() * SPAN_DAYS * DAY);
  const n = a.cascade[0] + Math.floor(r() * (a.cascade[1] - a.cascade[0] + 1));
  const roll = r();
  const code = roll < 0.03 ? 403 : roll < 0.06 ? (a.verb === 'create' ? 409 : 404) : a.verb === 'create' ? 201 : 200;
  const resource = a.group ? `${a.group}/${a.resource}` : a.resource;
  const id = `ctx-${i.toString(36)}-${Math.floor(r() * 1e9).toString(36)}`;
  const auditID = (k: number) => `${id}-${k}`;
  const members: ContextMember[] = [{ auditID: auditID(0), time: start, user, verb: a.verb, resource, ...(a.sub ? { subresource: a.sub } : {}), ...(ns ? { namespace: ns } : {}), ...(name ? { name } : {}), code }];
  let t = start;
  let failures = 0;
  for (let k = 1; k < n && code < 400; k++) {
    t += Math.floor(r() * 400);
    const childCode = r() < 0.02 ? 409 : 200;
    if (childCode >= 400) failures++;
    members.push({ auditID: auditID(k), time: t, user: CONTROLLERS[k % CONTROLLERS.length]!, verb: k % 3 === 0 ? 'update' : 'create', resource: CHILD_RESOURCES[k % CHILD_RESOURCES.length]!, ...(ns ? { namespace: ns } : {}), name: `${name ?? 'x'}-${k}`, code: childCode });
  }
  const outcome: Outcome = code === 403 ? 'forbidden' : code >= 400 ? 'failure' : failures ? 'partial' : 'success';
  const client = CLIENTS[Math.floor(r() * CLIENTS.length)]!;
  return {
    id,
    label: labelKey({ kind: 'trigger', resource, subresource: a.sub, namespaced: a.namespaced, scope: a.verb === 'list' ? 'list' : 'single', verbClass: verbClassOf(a.verb) }),
    action: `${user} ${PAST[a.verb] ?? a.verb} ${a.resource.replace(/s$/, '')}${a.sub ? ` ${a.sub}` : ''} ${ns ? `${ns}/` : ''}${name ?? ''}`.trim(),
    state: 'closed',
    trigger: {
      auditID: auditID(0), user, groups: user.startsWith('system:') ? ['system:serviceaccounts', 'system:authenticated'] : ['developers', 'system:authenticated'],
      userAgent: `${client} (linux/amd64) kubernetes/abc1234`, client, sourceIPs: [`10.0.${i % 250}.${(i >> 8) % 250}`],
      verb: a.verb, apiGroup: a.group, resource: a.resource, ...(a.sub ? { subresource: a.sub } : {}), ...(ns ? { namespace: ns } : {}), ...(name ? { name } : {}), code,
    },
    ...memberAggregates(members),
    outcome,
    failures,
    forbidden: code === 403 ? 1 : 0,
    flags: code < 400 ? [...(a.flags ?? [])] : [],
    members,
    confidence: Math.round((0.8 + r() * 0.2) * 1000) / 1000,
  };
}

// ---- loading ---------------------------------------------------------------------------------

async function load(es: Client, index: string, total: number, now: number, log: (m: string) => void): Promise<void> {
  const pop = population();
  const r = prng(42);
  const progress = new Progress({ label: 'indexing contexts', total, unit: 'contexts' });
  const inflight = new Set<Promise<void>>();
  let firstError: Error | undefined;
  for (let i = 0; i < total && !firstError; i += BATCH) {
    const operations: unknown[] = [];
    const n = Math.min(BATCH, total - i);
    for (let k = 0; k < n; k++) {
      const doc = syntheticContext(i + k, pop, now, r);
      operations.push({ index: { _index: `${index}-${dayOf(doc.start)}`, _id: doc.id } }, toEsDoc(doc));
    }
    const p = es.bulk({ operations, refresh: false }).then((res) => {
      if (res.errors) {
        const bad = res.items.find((it) => it.index?.error)?.index?.error;
        firstError ??= new Error(`bulk indexing failed: ${bad?.type}: ${bad?.reason}`);
      }
      progress.tick(n);
    }, (e: Error) => { firstError ??= e; });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (firstError) throw firstError;
  progress.finish();
  log(`indexed ${total} contexts into ${index}`);
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const QUERY = `query RecentByUser($user: String!) {
  contexts(filter: { triggeredBy: [$user], from: "now-24h" }, first: 50) {
    totalCount
    edges { cursor node { id label action outcome flags start end eventCount namespaces trigger { user client verb resource namespace name code } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const total = opts.quick ? 10_000 : 1_000_000;
  const queries = opts.quick ? 100 : 1000;
  const warmup = opts.quick ? 20 : 100;
  const url = process.env.ELASTICSEARCH_URL;
  if (!url) throw new Error('query-latency needs ELASTICSEARCH_URL');
  const es = createEsClient({ elasticsearchUrl: url }, { requestTimeout: 300_000 });
  const prefix = `bench-ql-${randomBytes(4).toString('hex')}`;
  const index = indexNames(prefix).contexts;
  const now = Date.now();
  const handler = createGraphqlHandler({ es, indexPrefix: prefix, auth: { tokens: ['bench-token'] } });
  try {
    // daily indices behind the read alias, refresh off while loading
    await ensureIndexTemplates(es, prefix, { settings: { refresh_interval: '-1' } });
    const t0 = Date.now();
    await load(es, index, total, now, opts.log);
    const loadSecs = (Date.now() - t0) / 1000;
    await es.indices.putSettings({ index, settings: { index: { refresh_interval: '1s' } } });
    await es.indices.refresh({ index });
    opts.log('force-merging to one segment');
    await es.indices.forcemerge({ index, max_num_segments: 1 });
    await es.indices.refresh({ index });
    const stats = await es.indices.stats({ index, metric: ['docs', 'store'] });
    const sizeBytes = stats._all.primaries?.store?.size_in_bytes ?? 0;

    const pop = population();
    const pick = prng(7);
    const call = async (user: string): Promise<{ ms: number; hits: number }> => {
      const t = performance.now();
      const res = await handler.fetch('http://bench.local/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench-token' },
        body: JSON.stringify({ query: QUERY, variables: { user } }),
      });
      const body = await res.json() as { data?: { contexts: { totalCount: number } }; errors?: unknown[] };
      const ms = performance.now() - t;
      if (body.errors || !body.data) throw new Error(`query failed: ${JSON.stringify(body.errors)}`);
      return { ms, hits: body.data.contexts.totalCount };
    };
    const randomUser = () => pop.users[Math.floor(pick() * pop.users.length)]!;
    for (let i = 0; i < warmup; i++) await call(randomUser());
    const times: number[] = [];
    let hits = 0;
    const progress = new Progress({ label: 'querying', total: queries, unit: 'queries' });
    for (let i = 0; i < queries; i++) {
      const r = await call(randomUser());
      times.push(r.ms);
      hits += r.hits;
      progress.tick();
    }
    progress.finish();
    times.sort((a, b) => a - b);
    const p50 = percentile(times, 50); const p95 = percentile(times, 95); const p99 = percentile(times, 99);
    opts.log(`p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${queries} queries`);
    return {
      name: 'query-latency',
      description: `GraphQL "contexts of user X in the last 24h" (first 50 + totalCount) over ${total.toLocaleString('en-US')} contexts spanning ${SPAN_DAYS} days, random users of ${pop.users.length}, through the real handler`,
      metrics: [
        { name: 'p50', value: round(p50), unit: 'ms' },
        { name: 'p95', value: round(p95), unit: 'ms', target: { op: '<=', value: 50 } },
        { name: 'p99', value: round(p99), unit: 'ms' },
        { name: 'max', value: round(times[times.length - 1]!), unit: 'ms' },
        { name: 'index rate', value: Math.round(total / loadSecs), unit: 'contexts/s' },
      ],
      details: {
        contexts: total, users: pop.users.length, namespaces: pop.namespaces.length, queries, warmup,
        meanMatchesPerQuery: Math.round(hits / queries), indexSizeBytes: sizeBytes, loadSeconds: round(loadSecs), query: QUERY,
      },
    };
  } finally {
    handler.close();
    await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
    await es.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
    await es.close();
  }
}

function round(x: number): number { return Math.round(x * 100) / 100; }
