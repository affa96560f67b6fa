/** Clusters: names and scoped ids, cluster per record in normalize, routing of the labeler and the clusterer, detections per cluster. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CLUSTER, isClusterName, parseClusterList, scopedId, splitScopedId, tagClusterMatcher } from '../src/clusters/names.ts';
import { ClusterClusterers, ClusterLabelers } from '../src/clusters/router.ts';
import { createNormalizer } from '../src/normalize/index.ts';
import { createClusterer } from '../src/cluster/clusterer.ts';
import { createLabelerFactory, type Labeler } from '../src/label/index.ts';
import { createDetectionEngine } from '../src/detect/index.ts';
import { loadConfig, ConfigError } from '../src/config/config.ts';
import { UnitReceipt } from '../src/sources/receipt.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import type { KEvent } from '../src/types/pipeline.ts';
import { MemoryDeadLetters } from './normalize-helpers.ts';
import { auditEvent, quietLogs } from './sources-helpers.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
before(async () => { logs = await quietLogs(); });
after(() => logs.restore());

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');
const at = (ms: number, o: Partial<AuditEvent> = {}) => auditEvent({ requestReceivedTimestamp: iso(ms), stageTimestamp: iso(ms), ...o });

describe('cluster names and ids', () => {
  test('a name is 1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit; no slash', () => {
    for (const ok of ['default', 'prod-eu-1', 'A', 'k8s.example_2', 'x'.repeat(63)]) assert.ok(isClusterName(ok), ok);
    for (const bad of ['', 'x'.repeat(64), '-a', '.a', 'a/b', 'a b', 'ä', 42, null, undefined]) assert.ok(!isClusterName(bad), String(bad));
  });

  test('ids are <cluster>/<id>, and split back; an id without a cluster is the default cluster\'s', () => {
    assert.equal(scopedId('prod', 'abc-1'), 'prod/abc-1');
    assert.deepEqual(splitScopedId('prod/abc-1'), { cluster: 'prod', id: 'abc-1' });
    assert.deepEqual(splitScopedId('abc-1'), { cluster: DEFAULT_CLUSTER, id: 'abc-1' });
    assert.deepEqual(splitScopedId('abc-1', 'eu'), { cluster: 'eu', id: 'abc-1' });
    // at the length limits: 63-character cluster, 128-character auditID, far below the 512-byte _id limit
    const long = scopedId('c'.repeat(63), 'a'.repeat(128));
    assert.ok(Buffer.byteLength(long) < 512);
    assert.deepEqual(splitScopedId(long), { cluster: 'c'.repeat(63), id: 'a'.repeat(128) });
  });

  test('cluster lists and forward tag patterns', () => {
    assert.deepEqual(parseClusterList(' a, b,,a '), ['a', 'b']);
    assert.deepEqual(parseClusterList(undefined), []);
    assert.throws(() => parseClusterList('a,b/c'), /not a cluster name/);
    const m = tagClusterMatcher('kube\\.audit\\.(?<cluster>[^.]+)')!;
    assert.equal(m('kube.audit.prod'), 'prod');
    assert.equal(m('kube.audit.prod.extra'), undefined, 'the whole tag must match');
    assert.equal(m('other'), undefined);
    assert.equal(tagClusterMatcher('audit-(.+)')!('audit-eu-1'), 'eu-1', 'without a named group: the first group');
    assert.equal(tagClusterMatcher('audit-(.+)')!('audit-a/b'), undefined, 'a group that is no cluster name');
    assert.equal(tagClusterMatcher(undefined), undefined);
  });

  test('configuration refuses bad names, lists and patterns', () => {
    assert.equal(loadConfig({}, {}).clusterName, 'default');
    assert.equal(loadConfig({ 'cluster-name': 'prod' }, {}).clusterName, 'prod');
    assert.throws(() => loadConfig({ 'cluster-name': 'a/b' }, {}), ConfigError);
    assert.throws(() => loadConfig({ clusters: 'a,-b' }, {}), /--clusters/);
    assert.throws(() => loadConfig({ 'cluster-from-tag': '(' }, {}), /--cluster-from-tag/);
  });
});

describe('normalize per cluster', () => {
  test('the record key, then the source, then --cluster-name names the cluster', () => {
    const n = createNormalizer({ clusterName: 'home', clusterKey: 'k8s_cluster', now: () => T0 });
    const a = at(T0); const b = at(T0 + 1); const c = at(T0 + 2);
    n.push([{ ...a, k8s_cluster: 'keyed' }], undefined, 'tagged');
    n.push([b], undefined, 'tagged');
    n.push([c]);
    const out = n.drain(true);
    assert.deepEqual(out.map((e) => [e.audit.auditID, e.cluster]), [[a.auditID, 'keyed'], [b.auditID, 'tagged'], [c.auditID, 'home']]);
  });

  test('the same auditID in two clusters is two events; a copy within one cluster is a duplicate', async () => {
    const n = createNormalizer({ now: () => T0 });
    const e = at(T0);
    const r1 = new UnitReceipt(3);
    n.push([e], r1, 'a');
    n.push([e], r1, 'b');
    n.push([e], r1, 'a');
    const out = n.drain(true);
    assert.deepEqual(out.map((x) => x.cluster).sort(), ['a', 'b']);
    assert.equal(n.stats().duplicates, 1);
    for (const x of out) x.receipt!.settle();
    await r1.done;
    // stored: a re-sent copy of each cluster's event is dropped, a third cluster's is new
    const r2 = new UnitReceipt(3);
    n.push([e], r2, 'a'); n.push([e], r2, 'b'); n.push([e], r2, 'c');
    const again = n.drain(true);
    assert.deepEqual(again.map((x) => x.cluster), ['c']);
  });

  test('a record naming no valid cluster, or one not owned, is dead-lettered with its reason', async () => {
    const dl = new MemoryDeadLetters();
    const n = createNormalizer({ deadLetters: dl, clusterKey: 'cluster', clusters: ['a', 'b'], now: () => T0 });
    const r = new UnitReceipt(3);
    n.push([{ ...at(T0), cluster: 'a/../x' }, { ...at(T0 + 1), cluster: 'c' }, { ...at(T0 + 2), cluster: 'b' }], r);
    const out = n.drain(true);
    assert.deepEqual(out.map((e) => e.cluster), ['b']);
    for (const e of out) e.receipt!.settle();
    await r.done;
    assert.deepEqual(dl.entries.map((d) => d.reason).sort(), ['bad-format', 'foreign-cluster']);
    assert.match(dl.entries.find((d) => d.reason === 'foreign-cluster')!.detail!, /cluster c is not one of --clusters/);
  });
});

describe('routing by cluster', () => {
  /** kubectl create deployment in namespace shop, the same auditIDs in every cluster */
  const action = (cluster: string, t: number, n: number): KEvent[] => Array.from({ length: n }, (_, i) => {
    const audit = at(t + i * 10, {
      auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      verb: 'create', objectRef: { resource: 'pods', namespace: 'shop', name: `web-${i}`, apiVersion: 'v1' },
    });
    return { audit, time: t + i * 10, cluster };
  });

  test('each cluster has its own labeler and clusterer; ids and documents carry the cluster', async () => {
    const labeler = new ClusterLabelers(() => make(), 'a');
    const clusterer = new ClusterClusterers(() => createClusterer({ idleMs: 1000 }), 'a');
    const evs = [...action('a', T0, 3), ...action('b', T0, 3)];
    const labeled = [...await labeler.push(evs), ...await labeler.flush()];
    assert.equal(labeled.length, 6);
    assert.deepEqual(new Set(labeled.map((e) => e.cluster)), new Set(['a', 'b']));
    assert.deepEqual(labeler.clusters.sort(), ['a', 'b']);
    clusterer.push(labeled);
    const writes = clusterer.collect(undefined, true);
    assert.deepEqual(clusterer.clusters.sort(), ['a', 'b']);
    const ids = writes.map((w) => w.doc.id).sort();
    assert.equal(new Set(ids).size, ids.length, 'no id repeats across clusters');
    for (const w of writes) {
      assert.ok(w.doc.cluster === 'a' || w.doc.cluster === 'b');
      assert.ok(w.doc.id.startsWith(`${w.doc.cluster}/`), w.doc.id);
    }
    // the same auditIDs end up once per cluster
    const members = (c: string) => writes.filter((w) => w.doc.cluster === c).flatMap((w) => w.doc.members.map((m) => m.auditID)).sort();
    assert.deepEqual(members('a'), members('b'));
    assert.equal(members('a').length, 3);
  });

  test('restore puts stored contexts back into their cluster with unscoped ids inside', () => {
    const clusterer = new ClusterClusterers(() => createClusterer({ idleMs: 60_000 }));
    const ev = (cluster: string) => ({ audit: at(T0, { auditID: 'same-1' }), time: T0, cluster, label: { kind: 'trigger', resource: 'pods', namespaced: true, scope: 'single', verbClass: 'create' } as const, labelKey: 'create pods', labelSource: 'rule' as const, confidence: 1 });
    clusterer.restore([
      { id: 'a/same-1', label: 'create pods', state: 'open', events: [ev('a')], flags: [] },
      { id: 'b/same-1', label: 'create pods', state: 'open', events: [ev('b')], flags: [] },
    ]);
    assert.equal(clusterer.openContexts, 2);
    assert.deepEqual(clusterer.clusters.sort(), ['a', 'b']);
    // a re-sent event joins its own cluster's restored context (not counted twice)
    clusterer.push([{ ...ev('b'), receipt: undefined }]);
    const writes = clusterer.collect(undefined, true);
    assert.deepEqual(writes.map((w) => [w.doc.id, w.doc.cluster, w.doc.eventCount]).sort(), [['a/same-1', 'a', 1], ['b/same-1', 'b', 1]]);
  });

  test('the labelers\' checkpoint holds every cluster, and a single labeler\'s snapshot comes back as the default cluster\'s', async () => {
    const one = make();
    await one.push(action('x', T0, 2));
    const single = one.snapshot();
    const routed = new ClusterLabelers(() => make(), 'home');
    assert.ok(routed.restore(single));
    await routed.push(action('b', T0, 2));
    const snap = JSON.parse(routed.snapshot());
    assert.deepEqual(Object.keys(snap.clusters).sort(), ['b', 'home']);
    assert.equal(snap.clusters.home, single);
    const back = new ClusterLabelers(() => make(), 'home');
    const asked: string[] = [];
    assert.ok(back.restore(routed.snapshot(), { covered: (id) => { asked.push(id); return false; } }));
    back.of('b');
    assert.ok(asked.every((id) => id.startsWith('b/') || id.startsWith('home/')), asked.join(','));
  });
});

describe('detections per cluster', () => {
  test('correlation memory of one cluster does not fire in another', () => {
    const engine = createDetectionEngine();
    const sa = 'system:serviceaccount:shop:app';
    const token = (t: number) => at(t, { verb: 'create', user: { username: 'alice', groups: ['system:authenticated'] }, objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: 'shop', name: 'app', apiVersion: 'v1' } });
    const use = (t: number) => at(t, { verb: 'get', user: { username: sa }, sourceIPs: ['203.0.113.9'], objectRef: { resource: 'secrets', namespace: 'shop', name: 's', apiVersion: 'v1' }, responseStatus: { metadata: {}, code: 200 } });
    const tokenA = { audit: token(T0), time: T0, cluster: 'a' };
    const useB = { audit: use(T0 + 1000), time: T0 + 1000, cluster: 'b' };
    const useA = { audit: use(T0 + 2000), time: T0 + 2000, cluster: 'a' };
    engine.observe([tokenA, useB, useA]);
    assert.ok(!engine.eventMatches(useB).includes('token-used-from-new-ip'), 'cluster b never saw the token request');
    assert.ok(engine.eventMatches(useA).includes('token-used-from-new-ip'), 'cluster a did');
    // the checkpoint keeps each cluster's memory
    const back = createDetectionEngine();
    assert.ok(back.restore(engine.snapshot()));
    assert.ok(back.stateOf('a').tokenRequests.has(sa));
    assert.ok(!back.stateOf('b').tokenRequests.has(sa));
  });
});

// the rules-only labeler (no model directory): deterministic and fast, enough to test routing
let make: () => Labeler;
before(async () => { make = await createLabelerFactory({}); });
