import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize, clientOf, singular, isSystemUser } from '../src/cluster/summary.ts';
import { ev } from './cluster-fixtures.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const DEPLOY = 'create apps/deployments';

test('summary of a deployment create: trigger, action, counts, members, outcome', () => {
  const events = [
    // given out of order on purpose: members come out sorted by time
    ev({ time: T0 + 40, label: DEPLOY, user: 'system:serviceaccount:kube-system:replicaset-controller', verb: 'create', ref: { resource: 'pods', namespace: 'shop', name: 'web-6d4cf56db6-x2k4q' }, code: 201 }),
    ev({ time: T0, label: DEPLOY, user: 'oidc:alice@example.com', groups: ['oidc:developers', 'system:authenticated'], verb: 'create',
      ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' }, code: 201, sourceIPs: ['10.8.0.7'] }),
    ev({ time: T0 + 20, label: DEPLOY, user: 'system:serviceaccount:kube-system:deployment-controller', verb: 'create', ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' }, code: 201 }),
    ev({ time: T0 + 30, label: DEPLOY, user: 'system:serviceaccount:kube-system:deployment-controller', verb: 'update', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web', subresource: 'status' }, code: 409 }),
    ev({ time: T0 + 60, label: DEPLOY, user: 'system:kube-scheduler', verb: 'create', ref: { resource: 'pods', namespace: 'shop', name: 'web-6d4cf56db6-x2k4q', subresource: 'binding' }, code: 201 }),
  ];
  const doc = summarize('c1', events, 'closed');
  assert.equal(doc.id, 'c1');
  assert.equal(doc.label, DEPLOY);
  assert.equal(doc.state, 'closed');
  assert.equal(doc.action, 'oidc:alice@example.com created deployment shop/web');
  assert.equal(doc.trigger.user, 'oidc:alice@example.com');
  assert.deepEqual(doc.trigger.groups, ['oidc:developers', 'system:authenticated']);
  assert.deepEqual(doc.trigger.sourceIPs, ['10.8.0.7']);
  assert.equal(doc.trigger.client, 'kubectl/v1.30.2');
  assert.equal(doc.trigger.apiGroup, 'apps');
  assert.equal(doc.trigger.resource, 'deployments');
  assert.equal(doc.trigger.name, 'web');
  assert.equal(doc.trigger.code, 201);
  assert.equal(doc.trigger.auditID, events[1]!.audit.auditID);
  assert.equal(doc.start, T0);
  assert.equal(doc.end, T0 + 60);
  assert.equal(doc.eventCount, 5);
  assert.deepEqual(doc.members.map((m) => m.time), [T0, T0 + 20, T0 + 30, T0 + 40, T0 + 60]);
  assert.deepEqual(doc.members[2], {
    auditID: events[3]!.audit.auditID, time: T0 + 30, user: 'system:serviceaccount:kube-system:deployment-controller',
    verb: 'update', resource: 'apps/deployments', subresource: 'status', namespace: 'shop', name: 'web', code: 409,
  });
  assert.deepEqual(doc.namespaces, ['shop']);
  assert.deepEqual(doc.resources, ['apps/deployments', 'apps/deployments/status', 'apps/replicasets', 'pods', 'pods/binding']);
  assert.deepEqual(doc.verbs, ['create', 'update']);
  assert.deepEqual(doc.names, ['web', 'web-6d4cf56db6', 'web-6d4cf56db6-x2k4q']);
  assert.equal(doc.users.length, 4);
  assert.deepEqual(doc.counts.verbs, [{ key: 'create', count: 4 }, { key: 'update', count: 1 }]);
  assert.deepEqual(doc.counts.users[0], { key: 'system:serviceaccount:kube-system:deployment-controller', count: 2 });
  assert.deepEqual(doc.counts.codes, [{ key: '201', count: 4 }, { key: '409', count: 1 }]);
  // a controller's optimistic-concurrency conflict is not a failure of the action
  assert.equal(doc.outcome, 'success');
  assert.equal(doc.failures, 0);
  assert.deepEqual(doc.flags, []);
  assert.equal(doc.confidence, 1);
  // pure: same input, same output
  assert.deepEqual(summarize('c1', [...events].reverse(), 'closed'), doc);
});

test('outcome: forbidden trigger, failed trigger, partial failures', () => {
  const forbidden = summarize('f', [
    ev({ time: T0, label: 'delete secrets', user: 'oidc:bob@example.com', verb: 'delete', ref: { resource: 'secrets', namespace: 'prod', name: 'db' }, code: 403 }),
  ], 'closed');
  assert.equal(forbidden.outcome, 'forbidden');
  assert.equal(forbidden.forbidden, 1);
  assert.equal(forbidden.action, 'oidc:bob@example.com tried to delete secret prod/db (403)');

  const failed = summarize('x', [
    ev({ time: T0, label: DEPLOY, user: 'alice', verb: 'create', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' }, code: 422 }),
  ], 'open');
  assert.equal(failed.outcome, 'failure');
  assert.equal(failed.failures, 1);

  const partial = summarize('p', [
    ev({ time: T0, label: DEPLOY, user: 'alice', verb: 'create', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' }, code: 201 }),
    ev({ time: T0 + 5, label: DEPLOY, user: 'system:serviceaccount:kube-system:replicaset-controller', verb: 'create', ref: { resource: 'pods', namespace: 'shop' }, code: 403 }),
  ], 'open');
  assert.equal(partial.outcome, 'partial');
  assert.equal(partial.action, 'alice created deployment shop/web');
});

test('security flags', () => {
  const flagsOf = (...evs: Parameters<typeof ev>[0][]) => summarize('s', evs.map((e) => ev(e)), 'closed').flags;
  const L = 'get-list secrets';
  assert.deepEqual(flagsOf({ time: T0, label: L, user: 'mallory', verb: 'get', ref: { resource: 'secrets', namespace: 'prod', name: 'db' } }), ['secret-read']);
  // controllers reading secrets are not flagged, nor are failed reads
  assert.deepEqual(flagsOf({ time: T0, label: L, user: 'system:serviceaccount:kube-system:namespace-controller', verb: 'list', ref: { resource: 'secrets', namespace: 'prod' } }), []);
  assert.deepEqual(flagsOf({ time: T0, label: L, user: 'mallory', verb: 'get', ref: { resource: 'secrets', namespace: 'prod', name: 'db' }, code: 404 }), []);
  assert.deepEqual(flagsOf({ time: T0, label: 'create pods/exec', user: 'alice', verb: 'create', ref: { resource: 'pods', namespace: 'a', name: 'p', subresource: 'exec' } }), ['exec']);
  assert.deepEqual(flagsOf({ time: T0, label: 'create pods/attach', user: 'alice', verb: 'create', ref: { resource: 'pods', namespace: 'a', name: 'p', subresource: 'attach' } }), ['attach']);
  assert.deepEqual(flagsOf({ time: T0, label: 'create pods/portforward', user: 'alice', verb: 'create', ref: { resource: 'pods', namespace: 'a', name: 'p', subresource: 'portforward' } }), ['portforward']);
  assert.deepEqual(flagsOf({ time: T0, label: 'create rbac.authorization.k8s.io/clusterrolebindings (cluster)', user: 'alice', verb: 'create', ref: { resource: 'clusterrolebindings', apiGroup: 'rbac.authorization.k8s.io', name: 'x' } }), ['rbac-change']);
  assert.deepEqual(flagsOf({ time: T0, label: 'patch-update certificates.k8s.io/certificatesigningrequests/approval (cluster)', user: 'alice', verb: 'update', ref: { resource: 'certificatesigningrequests', apiGroup: 'certificates.k8s.io', name: 'csr-1', subresource: 'approval' } }), ['csr-approval']);
  assert.deepEqual(flagsOf({ time: T0, label: 'get-list pods', user: 'alice', verb: 'get', ref: { resource: 'pods', namespace: 'a', name: 'p' }, impersonate: 'bob' }), ['impersonation']);
  const anon = Array.from({ length: 3 }, (_, i) => ({ time: T0 + i, label: 'get-list secrets', user: 'system:anonymous', groups: ['system:unauthenticated'], verb: 'list', ref: { resource: 'secrets', namespace: 'a' }, code: 403 }));
  assert.deepEqual(flagsOf(...anon), ['anonymous', 'forbidden-burst']);
  assert.deepEqual(flagsOf({ time: T0, label: 'create pods', user: 'alice', verb: 'create', ref: { resource: 'pods', namespace: 'a' },
    requestObject: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', securityContext: { privileged: true } }] } } }), ['privileged-pod']);
  assert.deepEqual(flagsOf({ time: T0, label: DEPLOY, user: 'alice', verb: 'create', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'a' },
    requestObject: { spec: { template: { spec: { hostNetwork: true, containers: [] } } } } }), ['privileged-pod']);
});

test('readable actions and helpers', () => {
  assert.equal(singular('networkpolicies'), 'networkpolicy');
  assert.equal(singular('ingresses'), 'ingress');
  assert.equal(singular('endpoints'), 'endpoints');
  assert.equal(singular('pods'), 'pod');
  assert.equal(clientOf('helm/v3.14.0 (linux/amd64) kubernetes/$Format'), 'helm/v3.14.0');
  assert.equal(clientOf('kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/39683505/system:serviceaccount:kube-system:x'), 'kube-controller-manager/v1.30.2');
  assert.equal(clientOf(undefined), '');
  assert.equal(isSystemUser('system:serviceaccount:kube-system:x'), true);
  assert.equal(isSystemUser('system:serviceaccount:ci:deployer'), false);
  assert.equal(isSystemUser('system:anonymous'), false);
  assert.equal(isSystemUser('system:node:w1'), true);
  const act = (e: Parameters<typeof ev>[0]) => summarize('a', [ev(e)], 'closed').action;
  assert.equal(act({ time: T0, label: 'delete-collection pods', user: 'alice', verb: 'deletecollection', ref: { resource: 'pods', namespace: 'shop' } }), 'alice deleted all pods in shop');
  assert.equal(act({ time: T0, label: 'create pods/exec', user: 'alice', verb: 'create', ref: { resource: 'pods', namespace: 'shop', name: 'web-1', subresource: 'exec' } }), "alice exec'd into pod shop/web-1");
  assert.equal(act({ time: T0, label: 'patch-update apps/deployments/scale', user: 'alice', verb: 'patch', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web', subresource: 'scale' } }), 'alice scaled deployment shop/web');
  assert.equal(act({ time: T0, label: 'delete namespaces (cluster)', user: 'alice', verb: 'delete', ref: { resource: 'namespaces', name: 'shop' } }), 'alice deleted namespace shop');
  assert.equal(act({ time: T0, label: 'create secrets', user: 'system:serviceaccount:ci:deployer', userAgent: 'helm/v3.14.0 (linux/amd64) kubernetes/$Format', verb: 'create', ref: { resource: 'secrets', namespace: 'shop', name: 'sh.helm.release.v1.web.v1' } }), 'system:serviceaccount:ci:deployer installed helm release shop/web');
  assert.equal(act({ time: T0, label: 'create secrets', user: 'bob', verb: 'create', ref: { resource: 'secrets', namespace: 'shop', name: 'sh.helm.release.v1.web.v3' } }), 'bob upgraded helm release shop/web (revision 3)');
  assert.equal(act({ time: T0, label: 'delete secrets', user: 'bob', verb: 'delete', ref: { resource: 'secrets', namespace: 'shop', name: 'sh.helm.release.v1.web.v3' } }), 'bob uninstalled helm release shop/web');
  // a secret that only looks alike is a secret
  assert.equal(act({ time: T0, label: 'create secrets', user: 'bob', verb: 'create', ref: { resource: 'secrets', namespace: 'shop', name: 'sh.helm.release.v1.web' } }), 'bob created secret shop/sh.helm.release.v1.web');
  const bg = summarize('b', [
    ev({ time: T0, label: 'background lease', user: 'system:node:w1', verb: 'update', ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: 'w1' } }),
    ev({ time: T0 + 10_000, label: 'background lease', user: 'system:node:w1', verb: 'update', ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: 'w1' } }),
  ], 'closed');
  assert.equal(bg.label, 'background lease');
  assert.equal(bg.action, 'background lease traffic by system:node:w1 (2 events)');
  assert.equal(bg.outcome, 'success');
  assert.throws(() => summarize('e', [], 'open'), /at least one event/);
});
