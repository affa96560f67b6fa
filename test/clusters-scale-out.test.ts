/**
 * Scale-out: two real `kontext serve` processes, each owning one cluster, fed the same
 * simulated audit stream (so every auditID occurs in both clusters) by a real forward peer
 * each, all writing into one Elasticsearch under one index prefix. Nothing collides: every
 * (cluster, auditID) is stored exactly once, in a context of its own cluster; per-cluster
 * and cross-cluster GraphQL queries (filter, facet, contextOfEvent) answer from either
 * process; and a third record naming a cluster a replica does not own is dead-lettered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FluentClient } from '@fluent-org/logger';
import { simulate } from '../src/simulate/index.ts';
import { indexNames, type EsContextSource, type EsMemberSource } from '../src/store/codec.ts';
import { scanMembers } from '../src/store/read.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import { deleteIndices, testClient, uniquePrefix } from './helpers/es.ts';
import { freePort, kill, serve, type Served } from './helpers/kontext-proc.ts';

async function gql<T = any>(port: number, query: string, variables: Record<string, unknown> = {}): Promise<{ data?: T; errors?: { message: string }[] }> {
  const r = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return await r.json() as any;
}

/** waits until kontext's HTTP server answers (it starts after the forward input) */
async function httpUp(port: number, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`kontext HTTP on ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function send(port: number, tag: string, events: AuditEvent[]): Promise<void> {
  const client = new FluentClient(tag, { socket: { host: '127.0.0.1', port, timeout: -1 }, eventMode: 'PackedForward', ack: { ackTimeout: 120_000 }, flushInterval: 20 });
  try {
    await Promise.all(events.map((e) => client.emit(e as unknown as Record<string, unknown>)));
  } finally {
    await client.disconnect();
  }
}

const START_MS = 300_000;

test('two kontext processes, two clusters with the same auditIDs, one Elasticsearch', { timeout: 1_200_000 }, async (t) => {
  const prefix = uniquePrefix('scale');
  const es = testClient();
  const [fwdEast, fwdWest, httpEast, httpWest] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const common = ['--context-idle', '5s', '--reorder-wait', '500ms'];
  // east: every record is --cluster-name's; west: the cluster comes from the forward tag
  // (a loaded machine starts a kontext in well over a minute: both at once, with time to spare)
  const [east, west]: Served[] = await Promise.all([
    serve(prefix, fwdEast, [...common, '--http-port', String(httpEast), '--cluster-name', 'east', '--clusters', 'east'], START_MS),
    serve(prefix, fwdWest, [...common, '--http-port', String(httpWest), '--cluster-from-tag', 'kube\\.audit\\.(?<cluster>[^.]+)', '--cluster-name', 'west', '--clusters', 'west'], START_MS),
  ]);
  t.after(async () => {
    await Promise.all([kill(east, 'SIGTERM'), kill(west, 'SIGTERM')]);
    await deleteIndices(es, prefix);
    await es.close();
  });

  const events = [...simulate({ seed: 1801, durationMs: 2 * 60_000, users: 2, actionsPerMinute: 12 })];
  assert.ok(events.length > 300, `simulated ${events.length} events`);
  const ids = new Set(events.map((e) => e.auditID));
  // every emit resolved = every chunk acknowledged = stored
  await Promise.all([send(fwdEast, 'kube.audit', events), send(fwdWest, 'kube.audit.west', events)]);
  // a record of a cluster west does not own: dead-lettered, still acknowledged
  const stray = { ...events[0]!, auditID: 'stray-0001' };
  await send(fwdWest, 'kube.audit.north', [stray]);
  // SIGTERM writes what is open and stops: both stores are complete afterwards
  await Promise.all([kill(east, 'SIGTERM'), kill(west, 'SIGTERM')]);
  const names = indexNames(prefix);
  await es.indices.refresh({ index: [names.contexts, names.members, `${prefix}-dead-letter*`, `${prefix}-state`], ignore_unavailable: true });

  // members: each (cluster, auditID) exactly once, in a context of its own cluster
  const byCluster = new Map<string, Map<string, string>>();
  let memberDocs = 0;
  for await (const page of scanMembers(es, prefix, { match_all: {} })) {
    for (const m of page as EsMemberSource[]) {
      memberDocs++;
      assert.ok(m.cluster === 'east' || m.cluster === 'west', `member cluster ${m.cluster}`);
      assert.ok(m.contextId.startsWith(`${m.cluster}/`), `member of ${m.cluster} in context ${m.contextId}`);
      let owners = byCluster.get(m.cluster!);
      if (!owners) byCluster.set(m.cluster!, (owners = new Map()));
      assert.ok(!owners.has(m.auditID), `${m.cluster}/${m.auditID} stored twice`);
      owners.set(m.auditID, m.contextId);
    }
  }
  assert.deepEqual([...byCluster.keys()].sort(), ['east', 'west']);
  for (const [c, owners] of byCluster) assert.equal(owners.size, ids.size, `${c}: every auditID once`);
  assert.equal(memberDocs, 2 * ids.size);
  // summaries: ids scoped, cluster set, every member counted once
  const res = await es.search<EsContextSource>({ index: names.contexts, size: 10_000, query: { match_all: {} } });
  const summaries = res.hits.hits.map((h) => ({ _id: h._id!, ...h._source! }));
  for (const s of summaries) {
    assert.equal(s._id, s.id);
    assert.ok(s.id.startsWith(`${s.cluster}/`), s.id);
  }
  const count = (c: string) => summaries.filter((s) => s.cluster === c).length;
  assert.ok(count('east') > 0 && count('west') > 0);
  assert.equal(summaries.reduce((n, s) => n + s.eventCount, 0), 2 * ids.size);
  // each replica keeps its own restart checkpoint (labeler and detection memory of its clusters)
  const state = await es.search({ index: `${prefix}-state`, size: 10, _source: false });
  assert.deepEqual(state.hits.hits.map((h) => h._id).sort(), ['pipeline:east', 'pipeline:west']);
  // the stray record
  const dl = await es.search({ index: `${prefix}-dead-letter*`, query: { term: { reason: 'foreign-cluster' } } });
  assert.equal((dl.hits.total as { value: number }).value, 1);

  // GraphQL, from one process (restarted): per-cluster and cross-cluster
  const q = await serve(prefix, fwdEast, [...common, '--http-port', String(httpEast), '--cluster-name', 'east', '--clusters', 'east'], START_MS);
  t.after(() => kill(q, 'SIGTERM'));
  await httpUp(httpEast);
  const all = await gql(httpEast, '{ contexts(first: 0) { totalCount } clusters { buckets { key count } total } }');
  assert.equal(all.errors, undefined, JSON.stringify(all.errors));
  assert.equal(all.data.contexts.totalCount, summaries.length);
  assert.deepEqual(all.data.clusters.buckets.map((b: any) => [b.key, b.count]).sort(), [['east', count('east')], ['west', count('west')]]);
  const west1 = await gql(httpEast, '{ contexts(filter: { cluster: ["west"] }, first: 500) { totalCount nodes { id cluster } } }');
  assert.equal(west1.data.contexts.totalCount, count('west'));
  assert.ok(west1.data.contexts.nodes.every((n: any) => n.cluster === 'west' && n.id.startsWith('west/')));
  const facet = await gql(httpEast, '{ facet(field: CLUSTER) { buckets { key count } } }');
  assert.deepEqual(facet.data.facet.buckets.map((b: any) => b.key).sort(), ['east', 'west']);
  // an auditID both clusters hold: ambiguous without a cluster, exact with one
  const some = events.find((e) => e.user.username.startsWith('oidc:') || !e.user.username.startsWith('system:'))!.auditID;
  const amb = await gql(httpEast, 'query($a: ID!) { contextOfEvent(auditID: $a) { id } }', { a: some });
  assert.match(amb.errors?.[0]?.message ?? '', /several clusters \(east, west\)/);
  for (const c of ['east', 'west']) {
    const one = await gql(httpEast, 'query($a: ID!, $c: String) { contextOfEvent(auditID: $a, cluster: $c) { id cluster members(first: 1000) { auditID } } }', { a: some, c });
    assert.equal(one.errors, undefined, JSON.stringify(one.errors));
    assert.equal(one.data.contextOfEvent.cluster, c);
    assert.equal(one.data.contextOfEvent.id, byCluster.get(c)!.get(some));
    assert.ok(one.data.contextOfEvent.members.some((m: any) => m.auditID === some));
  }
  const none = await gql(httpEast, '{ contextOfEvent(auditID: "stray-0001", cluster: "north") { id } }');
  assert.equal(none.data.contextOfEvent, null);
});
