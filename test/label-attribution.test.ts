// The tracer's heuristics (src/label/heuristics.ts) at Metadata level, each at and just past its limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FeatureExtractor } from '../src/label/features.ts';
import { HEURISTICS } from '../src/label/heuristics.ts';
import { ATTRIBUTION, COMMAND_SESSION } from '../src/k8s/params.ts';
import { ev, kcm, type Ev } from './label-helpers.ts';

const P = ATTRIBUTION;
const T0 = 10_000_000;
const HELM = 'Helm/3.11.0 (linux/amd64) kubernetes/$Format';
const DC = 'system:serviceaccount:kube-system:deployment-controller';
const RSC = 'system:serviceaccount:kube-system:replicaset-controller';

/** Metadata level: no bodies. */
function run(fx: FeatureExtractor, e: Ev & { t: number }) {
  const a = ev(e);
  return fx.extract(a, T0 + e.t);
}

function deploy(fx: FeatureExtractor, t: number, user = 'alice', name = 'web', ns = 'shop') {
  return run(fx, { t, verb: 'create', user, ref: { resource: 'deployments', apiGroup: 'apps', namespace: ns, name } });
}

test('heuristics table: every heuristic is named once and bounded by known parameters', () => {
  const names = HEURISTICS.map((h) => h.name);
  assert.equal(new Set(names).size, names.length);
  for (const h of HEURISTICS) for (const p of h.params) assert.ok(p in ATTRIBUTION || p in COMMAND_SESSION, `${h.name}: ${p}`);
});

test('name-family: a ReplicaSet named after a Deployment, within familyMs and just past it', () => {
  for (const [dt, linked] of [[P.familyMs, true], [P.familyMs + 1, false]] as const) {
    const fx = new FeatureExtractor();
    deploy(fx, 0);
    const f = run(fx, { t: dt, verb: 'create', user: DC, ua: kcm('deployment-controller'), ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
    assert.equal(f.tokens.includes('link=family'), linked, `dt ${dt}`);
    if (linked) assert.equal(f.origin, 'create apps/deployments');
  }
});

test('generated-child: a pod created by generateName after its ReplicaSet, within spawnBurstMs and past it', () => {
  for (const [dt, linked] of [[P.spawnBurstMs, true], [P.spawnBurstMs + 1, false]] as const) {
    const fx = new FeatureExtractor();
    deploy(fx, 0);
    run(fx, { t: 5, verb: 'create', user: DC, ua: kcm('deployment-controller'), ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
    const f = run(fx, { t: 5 + dt, verb: 'create', user: RSC, ua: kcm('replicaset-controller'), ref: { resource: 'pods', namespace: 'shop' } });
    assert.equal(f.tokens.includes('link=generated'), linked, `dt ${dt}`);
  }
});

test('event-name: an Event named <pod>.<hex> reaches the pod bound before', () => {
  const fx = new FeatureExtractor();
  deploy(fx, 0);
  run(fx, { t: 5, verb: 'create', user: DC, ua: kcm('deployment-controller'), ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
  run(fx, { t: 9, verb: 'create', user: 'system:kube-scheduler', ref: { resource: 'pods', subresource: 'binding', namespace: 'shop', name: 'web-6d4cf56db6-x2k4q' } });
  const f = run(fx, { t: 60_000, verb: 'create', user: 'system:node:w1', ref: { resource: 'events', namespace: 'shop', name: 'web-6d4cf56db6-x2k4q.173e3dec1771eac8' } });
  assert.ok(f.tokens.includes('link=event'));
  assert.equal(f.origin, 'create apps/deployments');
});

test('namespace-binding: a kubelet token at Metadata level takes the pod bound in the namespace, within bindFollowMs', () => {
  for (const [dt, linked] of [[P.bindFollowMs, true], [P.bindFollowMs + 1, false]] as const) {
    const fx = new FeatureExtractor();
    deploy(fx, 0);
    run(fx, { t: 5, verb: 'create', user: DC, ua: kcm('deployment-controller'), ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
    run(fx, { t: 9, verb: 'create', user: 'system:kube-scheduler', ref: { resource: 'pods', subresource: 'binding', namespace: 'shop', name: 'web-6d4cf56db6-x2k4q' } });
    const f = run(fx, { t: 9 + dt, verb: 'create', user: 'system:node:w1', ref: { resource: 'serviceaccounts', subresource: 'token', namespace: 'shop', name: 'default' } });
    assert.equal(f.tokens.includes('via=nsbinding'), linked, `dt ${dt}`);
    assert.equal(f.origin, linked ? 'create apps/deployments' : 'background token');
  }
});

test('namespace-person: unlinked control-plane work follows the latest person action in the namespace, up to originHorizonMs', () => {
  for (const [dt, linked] of [[P.originHorizonMs, true], [P.originHorizonMs + 1, false]] as const) {
    const fx = new FeatureExtractor();
    deploy(fx, 0);
    const f = run(fx, { t: dt, verb: 'update', user: 'system:serviceaccount:kube-system:endpoint-controller', ua: kcm('endpoint-controller'), ref: { resource: 'configmaps', namespace: 'shop', name: 'unrelated' } });
    assert.equal(f.tokens.includes('via=nsperson'), linked, `dt ${dt}`);
  }
  // never for a kubelet, a token or a shared object
  const fx = new FeatureExtractor();
  deploy(fx, 0);
  assert.ok(!run(fx, { t: 10, verb: 'create', user: 'system:node:w1', ref: { resource: 'events', namespace: 'shop', name: 'x.173e3dec1771eac8' } }).tokens.includes('via=nsperson'));
  assert.ok(!run(fx, { t: 20, verb: 'update', user: 'system:kube-controller-manager', ref: { resource: 'serviceaccounts', namespace: 'shop', name: 'default' } }).tokens.includes('via=nsperson'));
});

test('release-session: a helm release is one certain attribution across namespaces and cluster scope, labeled by its record', () => {
  const fx = new FeatureExtractor();
  const helm = (t: number, e: Omit<Ev, 'user' | 'ua'>) => run(fx, { t, user: 'admin', ua: HELM, ...e });
  const h = helm(0, { verb: 'list', ref: { resource: 'secrets', namespace: 'apps' }, uri: '/api/v1/namespaces/apps/secrets?labelSelector=name%3Dmy-app%2Cowner%3Dhelm' });
  assert.equal(h.sure, true);
  assert.equal(h.origin, 'create secrets');
  assert.equal(helm(500, { verb: 'create', ref: { resource: 'namespaces', name: 'apps' }, code: 409 }).origin, 'create secrets');
  helm(600, { verb: 'create', ref: { resource: 'secrets', namespace: 'apps', name: 'sh.helm.release.v1.my-app.v1' } });
  const cr = helm(700, { verb: 'create', ref: { resource: 'clusterroles', apiGroup: 'rbac.authorization.k8s.io', name: 'my-app-view' } });
  assert.equal(cr.origin, 'create secrets');
  assert.equal(cr.sure, true);
  assert.equal(helm(710, { verb: 'create', ref: { resource: 'roles', apiGroup: 'rbac.authorization.k8s.io', namespace: 'kube-system', name: 'my-app:leader' } }).origin, 'create secrets');
  // helm waits (hooks, --wait): the record's final update, seconds later, is the same release
  const done = helm(45_000, { verb: 'update', ref: { resource: 'secrets', namespace: 'apps', name: 'sh.helm.release.v1.my-app.v1' } });
  assert.equal(done.origin, 'create secrets');
  assert.equal(done.sure, true);
  // a component's work on an object named after the release, in another namespace
  const rs = run(fx, { t: 45_010, verb: 'create', user: DC, ua: kcm('deployment-controller'), ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'kube-system', name: 'my-app-coredns-6d4cf56db6' } });
  assert.equal(rs.origin, 'create secrets');
});

test('release-session: an uninstall is labeled by its first record change', () => {
  const fx = new FeatureExtractor();
  const helm = (t: number, e: Omit<Ev, 'user' | 'ua'>) => run(fx, { t, user: 'admin', ua: HELM, ...e });
  helm(0, { verb: 'list', ref: { resource: 'secrets', namespace: 'apps' }, uri: '/api/v1/namespaces/apps/secrets?labelSelector=name%3Dmy-app%2Cowner%3Dhelm' });
  assert.equal(helm(50, { verb: 'update', ref: { resource: 'secrets', namespace: 'apps', name: 'sh.helm.release.v1.my-app.v1' } }).origin, 'patch-update secrets');
  assert.equal(helm(80, { verb: 'delete', ref: { resource: 'services', namespace: 'apps', name: 'my-app' } }).origin, 'patch-update secrets');
});

test('reaction: a workload whose account the action just created does its own work', () => {
  const fx = new FeatureExtractor();
  deploy(fx, 0);
  run(fx, { t: 5, verb: 'create', user: 'alice', ref: { resource: 'serviceaccounts', namespace: 'shop', name: 'operator' } });
  const own = run(fx, { t: 100, verb: 'update', user: 'system:serviceaccount:shop:operator', ua: 'operator/1.0', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' } });
  assert.ok(!own.tokens.includes('react=yes'));
  const fx2 = new FeatureExtractor();
  deploy(fx2, 0);
  const other = run(fx2, { t: 100, verb: 'update', user: 'system:serviceaccount:shop:operator', ua: 'operator/1.0', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' } });
  assert.ok(other.tokens.includes('react=yes'), 'an operator that existed before reacts');
});

test('dry runs change nothing: no record, no link for what follows', () => {
  const fx = new FeatureExtractor();
  run(fx, { t: 0, verb: 'create', user: 'alice', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' }, uri: '/apis/apps/v1/namespaces/shop/deployments?dryRun=All' });
  const f = run(fx, { t: 10, verb: 'create', user: DC, ua: kcm('deployment-controller'), ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
  assert.ok(!f.tokens.includes('link=family'));
});
