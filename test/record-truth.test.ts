import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveTruth, TRUTH_RULES, type TruthStep } from '../src/record/truth.ts';
import type { AuditEvent } from '../src/types/audit.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString().replace('Z', '000Z');
let n = 0;
function ev(ms: number, user: string, verb: string, ref: AuditEvent['objectRef'], o: Partial<AuditEvent> = {}): AuditEvent {
  n++;
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: o.auditID ?? `id-${n}`, stage: 'ResponseComplete',
    requestURI: '/x', verb, user: { username: user }, objectRef: ref, responseStatus: { code: verb === 'create' ? 201 : 200 },
    requestReceivedTimestamp: at(ms), stageTimestamp: at(ms + 5), ...o,
  };
}
const obj = (name: string, uid: string, owner?: string, ns = 'web') => ({ metadata: { name, namespace: ns, uid, ...(owner ? { ownerReferences: [{ uid: owner }] } : {}) } });

const RS = 'system:serviceaccount:kube-system:replicaset-controller';
const DEP = 'system:serviceaccount:kube-system:deployment-controller';
const GC = 'system:serviceaccount:kube-system:generic-garbage-collector';
const NSC = 'system:serviceaccount:kube-system:namespace-controller';

const steps: TruthStep[] = [
  { action: 'r1/s01', user: 'alice', start: T0, end: T0 + 1000 },
  { action: 'r1/s02', user: 'alice', start: T0 + 10_000, end: T0 + 11_000 },
  { action: 'r1/s03', user: 'bob', start: T0 + 500, end: T0 + 2000 },
  { action: 'r1/s04', user: 'alice', start: T0 + 20_000, end: T0 + 21_000 },
];

const events: AuditEvent[] = [
  ev(100, 'alice', 'get', undefined, { auditID: 'discovery', requestURI: '/api' }),
  ev(200, 'alice', 'create', { resource: 'deployments', apiGroup: 'apps', namespace: 'web', name: 'web' }, { auditID: 'dep-create', responseObject: obj('web', 'u-dep') }),
  ev(300, DEP, 'create', { resource: 'replicasets', apiGroup: 'apps', namespace: 'web' }, { auditID: 'rs-create', responseObject: obj('web-1', 'u-rs', 'u-dep') }),
  ev(400, RS, 'create', { resource: 'pods', namespace: 'web' }, { auditID: 'pod-create', responseObject: obj('web-1-a', 'u-pod', 'u-rs') }),
  ev(600, 'bob', 'create', { resource: 'configmaps', namespace: 'web', name: 'x' }, { auditID: 'bob-cm', responseObject: obj('x', 'u-cm') }),
  ev(1500, 'system:kube-scheduler', 'create', { resource: 'pods', namespace: 'web', name: 'web-1-a', subresource: 'binding' }, { auditID: 'bind' }),
  ev(1800, 'kwok-controller', 'patch', { resource: 'pods', namespace: 'web', name: 'web-1-a', subresource: 'status' }, { auditID: 'pod-status' }),
  ev(1900, 'system:kube-scheduler', 'create', { resource: 'events', namespace: 'web' }, { auditID: 'event', requestObject: { kind: 'Event', metadata: { name: 'web-1-a.1', namespace: 'web' }, involvedObject: { kind: 'Pod', name: 'web-1-a', namespace: 'web', uid: 'u-pod' } } }),
  ev(2500, 'system:kube-controller-manager', 'update', { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-system', name: 'kube-controller-manager' }, { auditID: 'lease' }),
  ev(5000, 'alice', 'get', { resource: 'pods', namespace: 'web' }, { auditID: 'alice-idle' }),
  // s02: delete the deployment; the garbage collector takes the ReplicaSet and the pod down
  ev(10_100, 'alice', 'delete', { resource: 'deployments', apiGroup: 'apps', namespace: 'web', name: 'web' }, { auditID: 'dep-delete', responseObject: obj('web', 'u-dep') }),
  ev(10_500, GC, 'delete', { resource: 'replicasets', apiGroup: 'apps', namespace: 'web', name: 'web-1' }, { auditID: 'rs-delete', responseObject: obj('web-1', 'u-rs', 'u-dep') }),
  ev(10_900, GC, 'delete', { resource: 'pods', namespace: 'web', name: 'web-1-a' }, { auditID: 'pod-delete', responseObject: obj('web-1-a', 'u-pod', 'u-rs') }),
  // s04: delete the namespace; the namespace controller empties it
  ev(20_100, 'alice', 'delete', { resource: 'namespaces', name: 'web' }, { auditID: 'ns-delete', responseObject: { metadata: { name: 'web', uid: 'u-ns' } } }),
  ev(20_600, NSC, 'deletecollection', { resource: 'configmaps', namespace: 'web' }, { auditID: 'ns-sweep' }),
  ev(21_500, NSC, 'delete', { resource: 'namespaces', name: 'web' }, { auditID: 'ns-final' }),
  // long after every step: a link to the pod no longer counts
  ev(11_000 + TRUTH_RULES.cascadeHorizonMs + 5000, 'kwok-controller', 'patch', { resource: 'pods', namespace: 'web', name: 'web-1-a', subresource: 'status' }, { auditID: 'late' }),
];

test('truth: own requests, cascades along owner/name/involvedObject chains, background', () => {
  const t = deriveTruth([...events].reverse(), steps);
  const got = (id: string) => { const r = t.get(id)!; return `${r.tier}:${r.action ?? '-'}`; };
  assert.equal(got('discovery'), 'discovery:r1/s01', 'the step user\'s discovery is the step\'s, but not what it did');
  assert.equal(got('dep-create'), 'own:r1/s01');
  assert.equal(got('rs-create'), 'cascade:r1/s01');
  assert.equal(got('pod-create'), 'cascade:r1/s01');
  assert.equal(got('bob-cm'), 'own:r1/s03', 'another user acting meanwhile has their own step');
  assert.equal(got('bind'), 'cascade:r1/s01', 'binding found by pod name');
  assert.equal(got('pod-status'), 'cascade:r1/s01');
  assert.equal(got('event'), 'cascade:r1/s01', 'Event by involvedObject');
  assert.equal(got('lease'), 'background:-');
  assert.equal(got('alice-idle'), 'background:-', 'a request between her commands belongs to none');
  assert.equal(got('dep-delete'), 'own:r1/s02');
  assert.equal(got('rs-delete'), 'cascade:r1/s02', 'the delete takes the ReplicaSet over from the create');
  assert.equal(got('pod-delete'), 'cascade:r1/s02');
  assert.equal(got('ns-sweep'), 'cascade:r1/s04');
  assert.equal(got('ns-final'), 'cascade:r1/s04');
  assert.equal(got('late'), 'background:-');
  assert.equal(t.get('rs-create')!.user, 'alice', 'a cascade carries the acting user');
  assert.equal(t.get('lease')!.user, 'system:kube-controller-manager');
  assert.equal(t.size, events.length);
});

test('truth: several stages of one request give one row; a failed write claims nothing', () => {
  const s: TruthStep[] = [{ action: 'r/s1', user: 'alice', start: T0, end: T0 + 1000 }];
  const watch1 = ev(100, 'alice', 'watch', { resource: 'pods', namespace: 'a' }, { auditID: 'w', stage: 'ResponseStarted' });
  const watch2 = { ...watch1, stage: 'ResponseComplete' as const };
  const failed = ev(200, 'alice', 'update', { resource: 'configmaps', namespace: 'a', name: 'c' }, { auditID: 'f', responseStatus: { code: 409 }, responseObject: obj('c', 'u-c', undefined, 'a') });
  const later = ev(3000, 'system:serviceaccount:kube-system:x', 'update', { resource: 'configmaps', namespace: 'a', name: 'c' }, { auditID: 'l', responseObject: obj('c', 'u-c', undefined, 'a') });
  const t = deriveTruth([watch1, watch2, failed, later], s);
  assert.equal(t.size, 3);
  assert.equal(t.get('w')!.tier, 'own');
  assert.equal(t.get('f')!.tier, 'own');
  assert.equal(t.get('l')!.tier, 'background');
});

test('truth: a label (generation unchanged) does not take a rolling Deployment over; a spec change does', () => {
  const s: TruthStep[] = [
    { action: 'r/s1', user: 'alice', start: T0, end: T0 + 1000 },
    { action: 'r/s2', user: 'alice', start: T0 + 2000, end: T0 + 2500 },
    { action: 'r/s3', user: 'alice', start: T0 + 6000, end: T0 + 6500 },
  ];
  const dep = (gen: number) => ({ metadata: { name: 'd', namespace: 'n', uid: 'u-d', generation: gen } });
  const ref = { resource: 'deployments', apiGroup: 'apps', namespace: 'n', name: 'd' };
  const rsRef = { resource: 'replicasets', apiGroup: 'apps', namespace: 'n', name: 'd-1' };
  const rs = { metadata: { name: 'd-1', namespace: 'n', uid: 'u-rs', ownerReferences: [{ uid: 'u-d' }] } };
  const t = deriveTruth([
    ev(100, 'alice', 'patch', ref, { auditID: 'image', responseObject: dep(2) }),
    ev(2100, 'alice', 'patch', ref, { auditID: 'label', responseObject: dep(2) }),
    ev(3000, DEP, 'update', rsRef, { auditID: 'rollout', responseObject: rs }),
    ev(6100, 'alice', 'patch', ref, { auditID: 'scale', responseObject: dep(3) }),
    ev(6300, DEP, 'update', rsRef, { auditID: 'scaled', responseObject: rs }),
  ], s);
  assert.equal(t.get('label')!.tier, 'own');
  assert.equal(t.get('rollout')!.action, 'r/s1', 'the rollout still belongs to the image change');
  assert.equal(t.get('scaled')!.action, 'r/s3');
});

test('truth: admission reads and ClusterIP allocation follow the write they serve', () => {
  const s: TruthStep[] = [{ action: 'r/s1', user: 'alice', start: T0, end: T0 + 500 }];
  const t = deriveTruth([
    ev(100, 'alice', 'create', { resource: 'services', namespace: 'n', name: 'web' }, { auditID: 'svc', responseObject: { metadata: { name: 'web', namespace: 'n', uid: 'u-s' }, spec: { clusterIP: '10.96.3.4' } } }),
    ev(103, 'system:apiserver', 'create', { resource: 'ipaddresses', apiGroup: 'networking.k8s.io', name: '10.96.3.4' }, { auditID: 'ip' }),
    ev(200, 'system:apiserver', 'list', { resource: 'limitranges', namespace: 'n' }, { auditID: 'lr' }),
    ev(3000, 'system:apiserver', 'list', { resource: 'limitranges', namespace: 'n' }, { auditID: 'lr-late' }),
    ev(210, 'system:apiserver', 'list', { resource: 'limitranges', namespace: 'other' }, { auditID: 'lr-other' }),
  ], s);
  assert.equal(t.get('ip')!.tier, 'cascade');
  assert.equal(t.get('lr')!.tier, 'cascade');
  assert.equal(t.get('lr-late')!.tier, 'background');
  assert.equal(t.get('lr-other')!.tier, 'background');
});

test('truth: a delete answered with a Status follows the references the object\'s last body named', () => {
  const st: TruthStep[] = [
    { action: 'r1/s01', user: 'carol', start: T0, end: T0 + 1000 },
    { action: 'r1/s02', user: 'carol', start: T0 + 5000, end: T0 + 6000 },
  ];
  const svc = { resource: 'services', namespace: 'team', name: 'cache' };
  const slice = { resource: 'endpointslices', apiGroup: 'discovery.k8s.io', namespace: 'team', name: 'cache-abc' };
  const ev2 = [
    ev(100, 'carol', 'create', svc, { auditID: 'svc-create', responseObject: obj('cache', 'u-svc', undefined, 'team') }),
    ev(300, 'system:serviceaccount:kube-system:endpointslice-controller', 'create', { ...slice, name: undefined }, { auditID: 'slice-create', responseObject: obj('cache-abc', 'u-slice', 'u-svc', 'team') }),
    ev(5100, 'carol', 'delete', svc, { auditID: 'svc-delete', responseObject: { kind: 'Status', metadata: {} } }),
    ev(5300, GC, 'delete', slice, { auditID: 'slice-delete', responseObject: { kind: 'Status', metadata: {} } }),
  ];
  const t = deriveTruth(ev2, st);
  assert.equal(t.get('slice-create')!.action, 'r1/s01');
  assert.equal(t.get('svc-delete')!.action, 'r1/s02');
  assert.equal(`${t.get('slice-delete')!.tier}:${t.get('slice-delete')!.action}`, 'cascade:r1/s02', 'the slice\'s owner was deleted by s02');
});

test('truth: an Endpoints update follows the newest step among the pods it lists', () => {
  const st: TruthStep[] = [
    { action: 'r1/s01', user: 'ci', start: T0, end: T0 + 1000 },
    { action: 'r1/s02', user: 'ci', start: T0 + 5000, end: T0 + 6000 },
  ];
  const EPC = 'system:serviceaccount:kube-system:endpoint-controller';
  const ep = (uids: string[]) => ({ kind: 'Endpoints', metadata: { name: 'web', namespace: 'team', uid: 'u-ep' }, subsets: [{ addresses: uids.map((u) => ({ ip: '10.0.0.1', targetRef: { kind: 'Pod', uid: u } })) }] });
  const ev3 = [
    ev(100, 'ci', 'create', { resource: 'services', namespace: 'team', name: 'web' }, { auditID: 'svc', responseObject: obj('web', 'u-svc', undefined, 'team') }),
    ev(200, RS, 'create', { resource: 'pods', namespace: 'team' }, { auditID: 'p1' }),
    ev(300, 'ci', 'create', { resource: 'pods', namespace: 'team', name: 'old' }, { auditID: 'old-pod', responseObject: obj('old', 'u-old', undefined, 'team') }),
    ev(400, EPC, 'create', { resource: 'endpoints', namespace: 'team', name: 'web' }, { auditID: 'ep-create', responseObject: ep(['u-old']) }),
    ev(5100, 'ci', 'create', { resource: 'pods', namespace: 'team', name: 'new' }, { auditID: 'new-pod', responseObject: obj('new', 'u-new', undefined, 'team') }),
    ev(5500, EPC, 'update', { resource: 'endpoints', namespace: 'team', name: 'web' }, { auditID: 'ep-update', responseObject: ep(['u-old', 'u-new']) }),
  ];
  const t = deriveTruth(ev3, st);
  assert.equal(t.get('ep-create')!.action, 'r1/s01');
  assert.equal(t.get('ep-update')!.action, 'r1/s02', 'the pod s02 added is why the Endpoints changed');
});

test('truth: the step user\'s discovery GETs are the discovery tier; GETs of resources stay own; others\' discovery is background', () => {
  const s: TruthStep[] = [{ action: 'r/s1', user: 'alice', start: T0, end: T0 + 1000 }];
  const get = (id: string, uri: string, ref?: AuditEvent['objectRef'], user = 'alice', ms = 100) => ev(ms, user, 'get', ref, { auditID: id, requestURI: uri });
  const t = deriveTruth([
    get('api', '/api?timeout=32s'), get('apis', '/apis'), get('group', '/apis/apps'), get('gv', '/apis/apps/v1'),
    get('crd-gv', '/apis/monitoring.coreos.com/v1'), get('openapi', '/openapi/v3/apis/apps/v1?hash=AB'), get('version', '/version'),
    get('deployments', '/apis/apps/v1/deployments', { resource: 'deployments', apiGroup: 'apps' }),
    get('pods', '/api/v1/namespaces/x/pods', { resource: 'pods', namespace: 'x' }),
    get('ctrl', '/apis', undefined, 'system:kube-controller-manager'),
    get('after', '/apis', undefined, 'alice', 1000 + TRUTH_RULES.ownSlackMs + 1),
    get('edge', '/apis', undefined, 'alice', 1000 + TRUTH_RULES.ownSlackMs),
  ], s);
  const got = (id: string) => { const r = t.get(id)!; return `${r.tier}:${r.action ?? '-'}:${r.user}`; };
  for (const id of ['api', 'apis', 'group', 'gv', 'crd-gv', 'openapi', 'version', 'edge']) assert.equal(got(id), 'discovery:r/s1:alice', id);
  assert.equal(got('deployments'), 'own:r/s1:alice', 'a GET of a resource is what the step did');
  assert.equal(got('pods'), 'own:r/s1:alice');
  assert.equal(got('ctrl'), 'background:-:system:kube-controller-manager', 'a controller\'s discovery is nobody\'s step');
  assert.equal(got('after'), 'background:-:alice', 'past the step\'s window');
});
