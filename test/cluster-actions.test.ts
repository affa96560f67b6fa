// Action-level rules of the clusterer: a helm release is one context, components never start one,
// unlinked control-plane work follows the namespace's latest person action and never another namespace's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replay } from '../src/cluster/replay.ts';
import { ATTRIBUTION } from '../src/k8s/params.ts';
import { ev, type EvSpec } from './cluster-fixtures.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';
import type { ContextDoc } from '../src/types/context.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const HELM = 'Helm/3.11.0 (linux/amd64) kubernetes/$Format';
const DC = 'system:serviceaccount:kube-system:deployment-controller';

function withUri(e: LabeledEvent, uri: string): LabeledEvent { e.audit.requestURI = uri; return e; }
const helm = (s: EvSpec & { label: string }) => ev({ user: 'admin', userAgent: HELM, ...s });

function contextOf(docs: Map<string, ContextDoc>, id: string): ContextDoc | undefined {
  for (const d of docs.values()) if (d.members.some((m) => m.auditID === id)) return d;
  return undefined;
}

function release(t: number, ns: string, rel: string, label = (i: number) => (i % 2 ? 'get-list configmaps' : 'create secrets')): LabeledEvent[] {
  return [
    withUri(helm({ time: t, label: label(0), verb: 'list', ref: { resource: 'secrets', namespace: ns } }), `/api/v1/namespaces/${ns}/secrets?labelSelector=name%3D${rel}%2Cowner%3Dhelm`),
    helm({ time: t + 500, label: label(1), verb: 'create', code: 409, ref: { resource: 'namespaces', name: ns } }),
    helm({ time: t + 520, label: label(2), verb: 'create', code: 201, ref: { resource: 'secrets', namespace: ns, name: `sh.helm.release.v1.${rel}.v1` } }),
    helm({ time: t + 530, label: label(3), verb: 'create', code: 201, ref: { resource: 'clusterroles', apiGroup: 'rbac.authorization.k8s.io', name: `${rel}-view` } }),
    helm({ time: t + 540, label: label(4), verb: 'create', code: 201, ref: { resource: 'roles', apiGroup: 'rbac.authorization.k8s.io', namespace: 'kube-system', name: `${rel}:leader` } }),
    helm({ time: t + 550, label: label(5), verb: 'create', code: 201, ref: { resource: 'deployments', apiGroup: 'apps', namespace: ns, name: rel } }),
    ev({ time: t + 560, label: 'create batch/jobs', user: DC, verb: 'create', code: 201, ref: { resource: 'replicasets', apiGroup: 'apps', namespace: ns, name: `${rel}-6d4cf56db6` } }),
    ev({ time: t + 570, label: 'create secrets', user: DC, verb: 'create', code: 201, ref: { resource: 'events', namespace: 'kube-system', name: `${rel}-x.173e3dec1771eac8` } }),
    // helm --wait: the record's final update after a long gap
    helm({ time: t + 45_000, label: label(7), verb: 'update', ref: { resource: 'secrets', namespace: ns, name: `sh.helm.release.v1.${rel}.v1` } }),
  ];
}

test('a helm release is one context across namespaces and cluster scope, labeled and named by its release record', async () => {
  const app = release(T0, 'apps', 'my-app');
  const web = release(T0 + 10_000, 'web', 'my-web');
  const docs = await replay([...app, ...web].sort((x, y) => x.time - y.time));
  for (const [evs, ns, rel] of [[app, 'apps', 'my-app'], [web, 'web', 'my-web']] as const) {
    const c = contextOf(docs, evs[0]!.audit.auditID)!;
    assert.equal(c.label, 'create secrets');
    assert.equal(c.action, `admin installed helm release ${ns}/${rel}`);
    // every request of the release (whatever its label) and the control-plane work named after it
    assert.deepEqual(new Set(c.members.map((m) => m.auditID)), new Set(evs.map((e) => e.audit.auditID)));
  }
  assert.equal([...docs.values()].filter((d) => !d.label.startsWith('background ') && d.trigger.user === 'admin').length, 2, 'one context per release');
});

test('controllers never start a context; unlinked work follows the namespace\'s latest person action up to the horizon, never another namespace', async () => {
  const H = ATTRIBUTION.originHorizonMs;
  const person = ev({ time: T0, label: 'create configmaps', user: 'alice', verb: 'create', code: 201, ref: { resource: 'configmaps', namespace: 'shop', name: 'cfg' } });
  const comp = (t: number, ns: string) => ev({ time: t, label: 'create configmaps', user: DC, verb: 'update', ref: { resource: 'leases2', namespace: ns, name: `x${t}` } });
  const inNs = comp(T0 + H, 'shop');
  const past = comp(T0 + H + 1, 'shop');
  const other = comp(T0 + 10, 'elsewhere');
  const a = await replay([person, other, inNs]);
  const b = await replay([person, past]);
  assert.ok(contextOf(a, person.audit.auditID)!.members.some((m) => m.auditID === inNs.audit.auditID), 'at the horizon: joins');
  assert.ok(!contextOf(b, person.audit.auditID)!.members.some((m) => m.auditID === past.audit.auditID), 'past it: does not');
  assert.ok(!contextOf(a, person.audit.auditID)!.members.some((m) => m.auditID === other.audit.auditID), 'another namespace: never');
  assert.equal(contextOf(b, past.audit.auditID)!.label, 'background controller', 'a component alone is routine work');
  assert.equal(contextOf(a, other.audit.auditID)!.label, 'background controller');
});

const NSC = 'system:serviceaccount:kube-system:service-account-controller';
const nsObject = (t: number, verb: string, user = 'alice') => ev({ time: t, label: 'create namespaces', user, verb, code: verb === 'create' ? 201 : 200, ref: verb === 'create' ? { resource: 'namespaces', name: 'shop' } : { resource: 'namespaces', namespace: 'shop', name: 'shop' } });

test('namespace-link: a new namespace\'s default account joins its create up to spawnBurstMs, not past it', async () => {
  const B = ATTRIBUTION.spawnBurstMs;
  for (const [after, joins] of [[B, true], [B + 1, false]] as const) {
    const create = nsObject(T0, 'create');
    const account = ev({ time: T0 + after, label: 'create namespaces', user: NSC, verb: 'create', code: 201, ref: { resource: 'serviceaccounts', namespace: 'shop', name: 'default' } });
    const docs = await replay([create, account]);
    assert.equal(contextOf(docs, account.audit.auditID) === contextOf(docs, create.audit.auditID), joins, `${after} ms after the create`);
  }
});

test('namespace-link: other work in a new namespace (the next command\'s cascade) is not linked to the namespace\'s create', async () => {
  const create = nsObject(T0, 'create');
  // `kubectl create deployment` right after: its cascade, labelled like the namespace create
  const deploy = ev({ time: T0 + 800, label: 'create apps/deployments', user: 'alice', verb: 'create', code: 201, ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' } });
  const status = ev({ time: T0 + 1_000, label: 'create namespaces', user: DC, verb: 'update', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web', subresource: 'status' } });
  const docs = await replay([create, deploy, status]);
  assert.notEqual(contextOf(docs, status.audit.auditID), contextOf(docs, create.audit.auditID));
});

test('namespace-link: everything in a namespace being deleted joins its delete', async () => {
  const del = nsObject(T0, 'delete');
  const sweep = ev({ time: T0 + 5_000, label: 'create namespaces', user: 'system:serviceaccount:kube-system:namespace-controller', verb: 'delete', ref: { resource: 'configmaps', namespace: 'shop', name: 'cfg' } });
  const podGone = ev({ time: T0 + 20_000, label: 'create namespaces', user: 'system:node:n1', verb: 'delete', ref: { resource: 'pods', namespace: 'shop', name: 'web-6d4cf56db6-x2k4q' } });
  const docs = await replay([del, sweep, podGone]);
  assert.equal(contextOf(docs, sweep.audit.auditID), contextOf(docs, del.audit.auditID));
  assert.equal(contextOf(docs, podGone.audit.auditID), contextOf(docs, del.audit.auditID));
});

test('a helm release becomes the home of another namespace only through a workload there: unlinked pods in kube-system after its Role and Service are not its own', async () => {
  const RSC = 'system:serviceaccount:kube-system:replicaset-controller';
  for (const [resource, apiGroup, joins] of [['roles', 'rbac.authorization.k8s.io', false], ['services', '', false], ['deployments', 'apps', true]] as const) {
    const evs = release(T0, 'apps', 'my-app').slice(0, 3);
    evs.push(helm({ time: T0 + 600, label: 'create secrets', verb: 'create', code: 201, ref: { resource, ...(apiGroup ? { apiGroup } : {}), namespace: 'kube-system', name: 'my-app-x' } }));
    const pod = ev({ time: T0 + 5_000, label: 'create pods', user: RSC, verb: 'create', code: 201, ref: { resource: 'pods', namespace: 'kube-system' } });
    const docs = await replay([...evs, pod]);
    assert.equal(contextOf(docs, pod.audit.auditID) === contextOf(docs, evs[2]!.audit.auditID), joins, resource);
  }
});
