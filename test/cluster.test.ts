import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClusterer } from '../src/cluster/clusterer.ts';
import { eventKeys, nameFamily, pluralOfKind } from '../src/cluster/keys.ts';
import type { ContextWrite } from '../src/cluster/types.ts';
import { countingReceipt, ev } from './cluster-fixtures.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const DEPLOY = 'create apps/deployments';
const DC = 'system:serviceaccount:kube-system:deployment-controller';
const RSC = 'system:serviceaccount:kube-system:replicaset-controller';

/** A small deployment cascade: user create, RS create by the deployment controller, pod creates, scheduler, kubelet. */
function cascade(t: number, user: string, ns: string, app: string, hash: string): LabeledEvent[] {
  const dUid = `uid-${app}-${hash}-d`; const rsUid = `uid-${app}-${hash}-rs`;
  const pod = (i: number) => `${app}-${hash}-${['x2k4q', 'b7zqp', 'm9wdf'][i]}`;
  return [
    ev({ time: t, label: DEPLOY, user, verb: 'create', ref: { resource: 'deployments', apiGroup: 'apps', namespace: ns, name: app }, responseObject: { metadata: { name: app, uid: dUid } } }),
    ev({ time: t + 20, label: DEPLOY, user: DC, verb: 'create', ref: { resource: 'replicasets', apiGroup: 'apps', namespace: ns, name: `${app}-${hash}` },
      requestObject: { metadata: { name: `${app}-${hash}`, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: app, uid: dUid }] } },
      responseObject: { metadata: { name: `${app}-${hash}`, uid: rsUid } } }),
    ev({ time: t + 25, label: DEPLOY, user: DC, verb: 'update', ref: { resource: 'deployments', apiGroup: 'apps', namespace: ns, name: app, subresource: 'status' } }),
    ...[0, 1].map((i) => ev({ time: t + 40 + i, label: DEPLOY, user: RSC, verb: 'create', ref: { resource: 'pods', namespace: ns, name: pod(i) },
      requestObject: { metadata: { name: pod(i), ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${hash}`, uid: rsUid }] } } })),
    ...[0, 1].map((i) => ev({ time: t + 60 + i, label: DEPLOY, user: 'system:kube-scheduler', verb: 'create', ref: { resource: 'pods', namespace: ns, name: pod(i), subresource: 'binding' } })),
    ...[0, 1].map((i) => ev({ time: t + 12_000 + i * 700, label: DEPLOY, user: 'system:node:w1', verb: 'patch', ref: { resource: 'pods', namespace: ns, name: pod(i), subresource: 'status' } })),
  ];
}

function byTime(evs: LabeledEvent[]): LabeledEvent[] { return [...evs].sort((a, b) => a.time - b.time); }

function assign(writes: ContextWrite[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const w of writes) for (const mem of w.doc.members) m.set(mem.auditID, w.doc.id);
  return m;
}

test('link keys: objects, owners, families, namespace objects, users', () => {
  const e = ev({ time: T0, label: DEPLOY, user: RSC, verb: 'create', ref: { resource: 'pods', namespace: 'shop', name: 'web-6d4cf56db6-x2k4q' },
    requestObject: { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-6d4cf56db6', uid: 'u-rs' }] } } });
  const k = eventKeys(e.audit);
  assert.ok(k.own.includes('o:pods:shop/web-6d4cf56db6-x2k4q'));
  assert.ok(k.own.includes('o:apps/replicasets:shop/web-6d4cf56db6'));
  assert.ok(k.own.includes('u:u-rs'));
  assert.ok(k.own.includes('f:shop/web'));
  assert.ok(k.own.includes(`y:${RSC}`));
  assert.deepEqual(k.probe, ['n:shop']);
  assert.equal(nameFamily('pods', 'web-0'), 'web');
  assert.equal(nameFamily('apps/deployments', 'web'), 'web');
  assert.equal(nameFamily('discovery.k8s.io/endpointslices', 'web-7xk2p'), 'web');
  assert.equal(nameFamily('events', 'web-6d4cf56db6-x2k4q.17a3f5e2c1d0b9a8'), 'web');
  assert.equal(pluralOfKind('NetworkPolicy'), 'networkpolicies');
  assert.equal(pluralOfKind('Ingress'), 'ingresses');
  assert.equal(pluralOfKind('Endpoints'), 'endpoints');
  const nsEv = ev({ time: T0, label: 'create namespaces (cluster)', user: 'alice', verb: 'create', ref: { resource: 'namespaces', name: 'shop' } });
  assert.ok(eventKeys(nsEv.audit).own.includes('n:shop'));
  assert.ok(eventKeys(nsEv.audit).own.includes('a:alice'));
});

test('interleaved concurrent deployments of different users are separated', () => {
  const a = cascade(T0, 'alice', 'shop', 'web', '6d4cf56db6');
  const b = cascade(T0 + 30, 'bob', 'shop', 'api', '7f9b8c5d4d');
  const c = cascade(T0 + 50, 'carol', 'blog', 'web', '5b6c7d8f9g');
  const cl = createClusterer();
  cl.push(byTime([...a, ...b, ...c]));
  const writes = cl.collect(undefined, true);
  assert.equal(writes.length, 3);
  const got = assign(writes);
  for (const group of [a, b, c]) {
    const ids = new Set(group.map((e) => got.get(e.audit.auditID)));
    assert.equal(ids.size, 1, 'one context per cascade');
    assert.equal([...ids][0], group[0]!.audit.auditID, 'context id = trigger auditID');
  }
  const docA = writes.find((w) => w.doc.id === a[0]!.audit.auditID)!.doc;
  assert.equal(docA.trigger.user, 'alice');
  assert.equal(docA.eventCount, a.length);
  assert.equal(docA.state, 'closed');
});

test('the same user repeating the action later starts a new context', () => {
  const a1 = cascade(T0, 'alice', 'shop', 'web', '6d4cf56db6');
  const a2 = cascade(T0 + 5_000, 'alice', 'shop', 'api', '7f9b8c5d4d');
  const cl = createClusterer();
  cl.push(byTime([...a1, ...a2]));
  const got = assign(cl.collect(undefined, true));
  assert.equal(new Set(a1.map((e) => got.get(e.audit.auditID))).size, 1);
  assert.equal(new Set(a2.map((e) => got.get(e.audit.auditID))).size, 1);
  assert.notEqual(got.get(a1[0]!.audit.auditID), got.get(a2[0]!.audit.auditID));
});

test('contexts close on idle, age and size relative to the watermark; open ones are written as open', () => {
  const cl = createClusterer({ idleMs: 10_000, maxAgeMs: 60_000, maxEvents: 5, backgroundIdleMs: 10_000, backgroundMaxAgeMs: 60_000, backgroundWriteMs: 0 });
  const lease = (t: number, user = 'system:node:w1') => ev({ time: t, label: 'background lease', user, verb: 'update', ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: 'w1' } });
  cl.push([lease(T0), lease(T0 + 1000)]);
  let w = cl.collect();
  assert.equal(w.length, 1);
  assert.equal(w[0]!.doc.state, 'open');
  assert.equal(w[0]!.version, 4);
  assert.equal(cl.collect().length, 0, 'nothing changed, nothing written');
  // idle: the watermark moves past last + idle
  w = cl.collect(T0 + 1000 + 10_001);
  assert.equal(w.length, 1);
  assert.equal(w[0]!.doc.state, 'closed');
  assert.equal(w[0]!.version, 5);
  assert.equal(w[0]!.newEvents, 0);
  assert.equal(cl.openContexts, 0);

  // age: a steady stream is cut after maxAge
  const aged = createClusterer({ backgroundIdleMs: 10_000, backgroundMaxAgeMs: 30_000, backgroundWriteMs: 0 });
  aged.push(Array.from({ length: 5 }, (_, i) => lease(T0 + i * 8_000, 'system:node:w2'))); // 0..32 s
  w = aged.collect();
  assert.deepEqual(w.map((x) => `${x.doc.eventCount}:${x.doc.state}`).sort(), ['1:open', '4:closed']);
  w = aged.collect(T0 + 8_000 * 4 + 30_001); // the second window reaches maxAge without new members
  assert.deepEqual(w.map((x) => `${x.doc.eventCount}:${x.doc.state}`), ['1:closed']);

  // size: the window closes at maxEvents members
  const t2 = T0 + 300_000;
  cl.push(Array.from({ length: 7 }, (_, i) => lease(t2 + i, 'system:node:w3')));
  w = cl.collect();
  assert.deepEqual(w.map((x) => `${x.doc.eventCount}:${x.doc.state}`).sort(), ['2:open', '5:closed']);

  // open noise aggregates are rewritten at most every backgroundWriteMs; closing writes at once
  const slow = createClusterer({ backgroundWriteMs: 10_000 });
  slow.push([lease(T0)]);
  assert.equal(slow.collect(T0).length, 1);
  slow.push([lease(T0 + 2_000)]);
  assert.equal(slow.collect(T0 + 2_000).length, 0);
  assert.equal(slow.pending, 1);
  slow.push([lease(T0 + 11_000)]);
  const again = slow.collect(T0 + 11_000);
  assert.equal(again.length, 1);
  assert.equal(again[0]!.newEvents, 2);
  assert.equal(slow.collect(T0 + 12_000, true)[0]!.doc.state, 'closed');
});

test('a quiet live input still closes contexts (watermark follows the wall clock)', () => {
  let now = 1_000_000;
  const cl = createClusterer({ idleMs: 5_000, wallClock: () => now });
  cl.push(cascade(T0, 'alice', 'shop', 'web', '6d4cf56db6').slice(0, 3));
  assert.equal(cl.collect()[0]!.doc.state, 'open');
  now += 4_000;
  assert.equal(cl.collect().length, 0);
  now += 2_000; // 6 s of silence > idle
  const w = cl.collect();
  assert.equal(w.length, 1);
  assert.equal(w[0]!.doc.state, 'closed');
});

test('late events re-attach to a recently closed context and rewrite it in place', () => {
  const cl = createClusterer({ idleMs: 15_000 });
  const a = cascade(T0, 'alice', 'shop', 'web', '6d4cf56db6');
  const late = a.splice(a.length - 1, 1)[0]!; // the last kubelet patch arrives late
  cl.push(a);
  let w = cl.collect(T0 + 30_000); // closes on idle
  assert.equal(w.length, 1);
  assert.equal(w[0]!.doc.state, 'closed');
  const id = w[0]!.doc.id;
  const v1 = w[0]!.version;
  cl.push([late]);
  w = cl.collect(T0 + 30_000);
  assert.equal(w.length, 1);
  assert.equal(w[0]!.doc.id, id, 'same _id');
  assert.equal(w[0]!.doc.state, 'closed');
  assert.equal(w[0]!.doc.eventCount, a.length + 1);
  assert.ok(w[0]!.version > v1);
  assert.equal(w[0]!.newEvents, 1);
  // once evicted (retention passed), a late event starts its own context
  cl.collect(T0 + 200_000);
  assert.equal(cl.retainedContexts, 0);
  const later = ev({ time: T0 + 12_800, label: DEPLOY, user: 'system:node:w1', verb: 'patch', ref: { resource: 'pods', namespace: 'shop', name: 'web-6d4cf56db6-x2k4q', subresource: 'status' } });
  cl.push([later]);
  w = cl.collect(T0 + 200_000);
  assert.equal(w.length, 1);
  assert.notEqual(w[0]!.doc.id, id);
});

test('receipts: one share per receipt and context, carried by the write, counted once per event', () => {
  const cl = createClusterer();
  const r1 = countingReceipt(); const r2 = countingReceipt();
  const a = cascade(T0, 'alice', 'shop', 'web', '6d4cf56db6');
  const b = cascade(T0 + 30, 'bob', 'blog', 'api', '7f9b8c5d4d');
  const all = byTime([...a, ...b]);
  all.forEach((e, i) => { e.receipt = i % 2 ? r1 : r2; });
  cl.push(all);
  assert.equal(cl.pending, all.length);
  const w = cl.collect();
  assert.equal(cl.pending, 0);
  let total = 0;
  for (const x of w) {
    assert.equal(x.receipts.reduce((s, r) => s + r.n, 0), x.newEvents);
    assert.ok(x.receipts.length <= 2);
    total += x.newEvents;
  }
  assert.equal(total, all.length);
  assert.equal(r1.settled + r2.settled, 0, 'the clusterer never settles; the writer does after the ack');
});

test('memory stays bounded on a long stream', () => {
  const cl = createClusterer({ idleMs: 2_000, maxAgeMs: 10_000, maxRetained: 50, backgroundIdleMs: 2_000, backgroundMaxAgeMs: 10_000 });
  let peakOpen = 0; let peakMem = 0;
  for (let i = 0; i < 400; i++) {
    const t = T0 + i * 3_000;
    cl.push(byTime(cascade(t, `user${i % 7}`, `ns${i % 5}`, `app${i}`, '6d4cf56db6')).filter((e) => e.time < t + 3_000));
    cl.push([ev({ time: t + 100, label: 'background lease', user: `system:node:w${i % 3}`, verb: 'update', ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: 'w' } })]);
    cl.collect();
    peakOpen = Math.max(peakOpen, cl.openContexts);
    peakMem = Math.max(peakMem, cl.memoryEvents);
  }
  assert.ok(peakOpen < 10, `open contexts stay few (peak ${peakOpen})`);
  assert.ok(cl.retainedContexts <= 50);
  assert.ok(peakMem < 1000, `events in memory stay bounded (peak ${peakMem})`);
  // members are kept without bodies
  const cl2 = createClusterer();
  const big = cascade(T0, 'alice', 'shop', 'web', '6d4cf56db6');
  cl2.push(big);
  const w = cl2.collect(undefined, true);
  assert.equal(w[0]!.doc.eventCount, big.length);
});

test('retention: every closed context past retainMs is evicted, also behind one that closed later with a younger close time', () => {
  const cl = createClusterer({ idleMs: 15_000 });
  // a restart takes back closed contexts in the store's order, not in close order: the young one first
  const young = cascade(T0 + 100_000, 'alice', 'shop', 'web', '6d4cf56db6');
  const old = cascade(T0, 'bob', 'blog', 'api', '7f9b8c5d4d');
  cl.restore([
    { id: 'default/young', label: DEPLOY, state: 'closed', events: byTime(young), flags: [] },
    { id: 'default/old', label: DEPLOY, state: 'closed', events: byTime(old), flags: [] },
  ], T0 + 113_000);
  assert.equal(cl.retainedContexts, 2);
  const youngLast = Math.max(...young.map((e) => e.time));
  // at the limit the young one stays; the old one is long past it
  cl.collect(youngLast + 15_000);
  assert.equal(cl.retainedContexts, 1, 'the old context is evicted although a younger one closed before it in the list');
  cl.collect(youngLast + 15_001);
  assert.equal(cl.retainedContexts, 0, 'past the limit the young one goes too');
});
