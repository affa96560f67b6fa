import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FeatureExtractor, opLabel } from '../src/label/features.ts';
import { parseUserAgent, userClass } from '../src/label/actors.ts';
import { Vocab, UNKNOWN } from '../src/label/vocab.ts';
import { RuleSet } from '../src/label/rules.ts';
import { deploymentCascade, ev, kcm } from './label-helpers.ts';

test('features: no names, UIDs, usernames or namespaces leak into tokens', () => {
  const fx = new FeatureExtractor();
  const secret = ['shop-frontend', 'uid-d-shop-frontend', 'alice', 'team-payments', 'worker-1', 'shop-frontend-abc'];
  for (const a of deploymentCascade(1000, 'team-payments', 'shop-frontend')) {
    const { tokens } = fx.extract(a, Date.parse(a.requestReceivedTimestamp));
    for (const t of tokens) for (const s of secret) assert.ok(!t.includes(s), `token ${t} leaks ${s}`);
  }
});

test('features: structural fields and relational origin along owner links', () => {
  const fx = new FeatureExtractor();
  const evs = deploymentCascade(1000, 'shop', 'web');
  const feats = evs.map((a) => fx.extract(a, Date.parse(a.requestReceivedTimestamp)));
  assert.ok(feats[0]!.tokens.includes('verb=create'));
  assert.ok(feats[0]!.tokens.includes('res=apps/deployments'));
  assert.ok(feats[0]!.tokens.includes('user=human'));
  assert.ok(feats[0]!.tokens.includes('ua=kubectl'));
  assert.ok(feats[1]!.tokens.includes('own=Deployment'));
  assert.ok(feats[1]!.tokens.includes('uac=deployment-controller'));
  // every cascade event is attributed to the user's deployment create through owner/object links
  for (const f of feats) assert.equal(f.origin, 'create apps/deployments');
  assert.ok(feats[2]!.tokens.includes('link=owner'));
  assert.ok(feats[4]!.tokens.includes('link=self'));
  assert.equal(feats[4]!.op, 'patch-update pods/status');
});

test('features: op labels follow labelKey conventions', () => {
  assert.equal(opLabel(ev({ verb: 'list', user: 'a', ref: { resource: 'pods', namespace: 'x' } })), 'get-list-collection pods');
  assert.equal(opLabel(ev({ verb: 'delete', user: 'a', ref: { resource: 'namespaces', name: 'x' } })), 'delete namespaces (cluster)');
  assert.equal(opLabel(ev({ verb: 'get', user: 'a', uri: '/version' })), 'nonresource');
  assert.equal(opLabel(ev({ verb: 'list', user: 'a', ref: { resource: 'pods' } })), 'get-list-collection pods', 'all-namespaces list of a namespaced kind');
  assert.equal(opLabel(ev({ verb: 'create', user: 'a', ref: { resource: 'clusterroles', apiGroup: 'rbac.authorization.k8s.io', name: 'r' } })), 'create rbac.authorization.k8s.io/clusterroles (cluster)');
});

test('actors: user classes and user agents are name-free', () => {
  assert.equal(userClass('alice'), 'human');
  assert.equal(userClass('system:node:ip-10-0-0-1'), 'node');
  assert.equal(userClass('system:serviceaccount:kube-system:job-controller'), 'sa:kube-system:job-controller');
  assert.equal(userClass('system:serviceaccount:payments:deployer'), 'sa');
  assert.equal(userClass('system:kube-scheduler'), 'system:kube-scheduler');
  assert.deepEqual(parseUserAgent(kcm('job-controller')), { product: 'kube-controller-manager', component: 'job-controller' });
  assert.deepEqual(parseUserAgent('Helm/3.14.0'), { product: 'helm', component: 'none' });
});

test('vocab: unseen values map to the field unknown bucket, never to a fresh id', () => {
  const v = Vocab.build([['verb=create', 'res=pods'], ['verb=create', 'res=pods'], ['verb=delete', 'res=pods']], ['create pods'], 2);
  const unkVerb = v.tokenId(`verb=${UNKNOWN}`);
  assert.ok(unkVerb >= 0);
  assert.equal(v.tokenId('verb=delete'), unkVerb, 'rare value (below min count) is unknown');
  assert.equal(v.tokenId('verb=escalate'), unkVerb);
  assert.equal(v.tokenId('newfield=x'), -1, 'a field the model never saw is dropped');
  const size = v.size;
  v.encode(['verb=whatever', 'res=secrets']);
  assert.equal(v.size, size, 'encoding never grows the vocabulary');
});

test('vocab: stable across save/load and independent of data order', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kontext-vocab-'));
  try {
    const data = [['verb=create', 'res=pods', 'user=human'], ['verb=get', 'res=pods', 'user=node'], ['verb=create', 'res=pods', 'user=human'], ['verb=get', 'res=pods', 'user=node']];
    const a = Vocab.build(data, ['create pods', 'background watch'], 1);
    const b = Vocab.build([...data].reverse(), ['background watch', 'create pods'], 1);
    assert.deepEqual(a.toJSON(), b.toJSON());
    await writeFile(path.join(dir, 'vocab.json'), JSON.stringify(a.toJSON()));
    const c = Vocab.fromJSON(JSON.parse(await readFile(path.join(dir, 'vocab.json'), 'utf8')));
    for (const t of [...data.flat(), 'verb=unseen']) assert.equal(c.tokenId(t), a.tokenId(t));
    assert.deepEqual([...c.encode(data[0]!)], [...a.encode(data[0]!)]);
    assert.equal(c.labelId('create pods'), a.labelId('create pods'));
    assert.throws(() => Vocab.fromJSON({ version: 2 }), /unsupported/);
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('rules: each background kind, and never for people', () => {
  const rules = new RuleSet();
  const kind = (a: ReturnType<typeof ev>) => rules.match(a)?.kind;
  const node = { user: 'system:node:w1', groups: ['system:nodes'], ua: 'kubelet/v1.30.2 (linux/amd64) kubernetes/39683505' };
  assert.equal(kind(ev({ verb: 'update', ...node, ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: 'w1' } })), 'lease');
  assert.equal(kind(ev({ verb: 'update', user: 'system:kube-scheduler', ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-system', name: 'kube-scheduler' } })), 'lease');
  assert.equal(kind(ev({ verb: 'patch', ...node, ref: { resource: 'nodes', name: 'w1', subresource: 'status' } })), 'node-status');
  assert.equal(kind(ev({ verb: 'create', ...node, ref: { resource: 'serviceaccounts', namespace: 'x', name: 'default', subresource: 'token' } })), undefined, 'token requests of new pods belong to their action: the model decides');
  assert.equal(kind(ev({ verb: 'watch', ...node, ref: { resource: 'nodes' } })), 'watch');
  assert.equal(kind(ev({ verb: 'list', ...node, ref: { resource: 'configmaps', namespace: 'x' }, uri: '/api/v1/namespaces/x/configmaps?resourceVersion=0' })), undefined);
  assert.equal(kind(ev({ verb: 'create', user: 'system:kube-apiserver', ref: { resource: 'tokenreviews', apiGroup: 'authentication.k8s.io' } })), 'token');
  assert.equal(kind(ev({ verb: 'create', user: 'system:serviceaccount:kube-system:metrics-server', ref: { resource: 'subjectaccessreviews', apiGroup: 'authorization.k8s.io' } })), 'token');
  assert.equal(kind(ev({ verb: 'get', user: 'system:serviceaccount:kube-system:generic-garbage-collector', uri: '/apis' })), 'discovery');
  assert.equal(kind(ev({ verb: 'get', user: 'system:kube-controller-manager', uri: '/openapi/v3' })), 'discovery');
  assert.equal(kind(ev({ verb: 'get', user: 'system:anonymous', uri: '/readyz' })), 'other');
  assert.equal(kind(ev({ verb: 'watch', ...node, ref: { resource: 'pods' }, uri: '/api/v1/pods?watch=true' })), 'watch');
  assert.equal(kind(ev({ verb: 'list', user: 'system:kube-controller-manager', ref: { resource: 'pods' }, uri: '/api/v1/pods?limit=500&resourceVersion=0' })), 'controller');
  assert.equal(kind(ev({ verb: 'list', user: 'system:serviceaccount:kube-system:namespace-controller', ref: { resource: 'pods', namespace: 'gone' }, uri: '/api/v1/namespaces/gone/pods' })), undefined, 'namespace deletion sweeps belong to the deletion');
  // the same requests by people are triggers, left to the model
  assert.equal(kind(ev({ verb: 'watch', user: 'alice', ref: { resource: 'pods', namespace: 'x' } })), undefined);
  assert.equal(kind(ev({ verb: 'create', user: 'alice', ref: { resource: 'serviceaccounts', namespace: 'x', name: 'ci', subresource: 'token' } })), undefined);
  // discovery is background whoever asks (kubectl refreshing its cache is not an action)
  assert.equal(kind(ev({ verb: 'get', user: 'alice', uri: '/version' })), 'discovery');
  assert.equal(kind(ev({ verb: 'update', user: 'alice', ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'x', name: 'l' } })), undefined);
  assert.equal(kind(ev({ verb: 'deletecollection', user: 'system:serviceaccount:kube-system:namespace-controller', ref: { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'x' } })), undefined);
  assert.equal(kind(ev({ verb: 'create', user: 'system:serviceaccount:kube-system:replicaset-controller', ref: { resource: 'pods', namespace: 'x' } })), undefined);
});

test('features: a person\'s change is what the owner\'s controller reacts to; one person\'s quick requests are one action', () => {
  const fx = new FeatureExtractor();
  const x = (a: ReturnType<typeof ev>) => fx.extract(a, Date.parse(a.requestReceivedTimestamp));
  for (const a of deploymentCascade(1000, 'shop', 'web')) x(a);
  // kubectl delete pod (response carries the pod with its owner) → the ReplicaSet creates a replacement
  x(ev({ t: 60_000, verb: 'delete', user: 'bob', ref: { resource: 'pods', namespace: 'shop', name: 'web-abc-x1' }, req: { kind: 'DeleteOptions' }, resp: { kind: 'Pod', metadata: { name: 'web-abc-x1', uid: 'uid-p-web', ownerReferences: [{ kind: 'ReplicaSet', uid: 'uid-rs-web' }] } } }));
  const replacement = x(ev({ t: 60_006, verb: 'create', user: 'system:serviceaccount:kube-system:replicaset-controller', ua: kcm('replicaset-controller'), ref: { resource: 'pods', namespace: 'shop', name: 'web-abc-x2' }, req: { kind: 'Pod', metadata: { ownerReferences: [{ kind: 'ReplicaSet', uid: 'uid-rs-web' }] } } }));
  assert.equal(replacement.origin, 'delete pods');
  // helm install: release secret first, then the chart's objects, all within a few ms
  const helm = { user: 'system:serviceaccount:ci:deployer', ua: 'helm/v3.14.0 (linux/amd64) kubernetes/$Format' };
  x(ev({ t: 90_000, verb: 'create', ...helm, ref: { resource: 'secrets', namespace: 'shop', name: 'sh.helm.release.v1.db.v1' } }));
  const svc = x(ev({ t: 90_020, verb: 'create', ...helm, ref: { resource: 'services', namespace: 'shop', name: 'db' } }));
  assert.equal(svc.origin, 'create secrets');
  assert.equal(svc.candidates.self, 'create services');
  // long after, the same account acts anew: with kubectl, its own action
  const later = x(ev({ t: 200_000, verb: 'delete', user: helm.user, ref: { resource: 'services', namespace: 'shop', name: 'db' } }));
  assert.equal(later.origin, 'delete services');
  // with helm, a new command starts with its history check; an uninstall is named by its record update
  x(ev({ t: 300_000, verb: 'list', ...helm, ref: { resource: 'secrets', namespace: 'shop' }, uri: '/api/v1/namespaces/shop/secrets?labelSelector=name%3Ddb%2Cowner%3Dhelm' }));
  x(ev({ t: 300_010, verb: 'update', ...helm, ref: { resource: 'secrets', namespace: 'shop', name: 'sh.helm.release.v1.db.v1' } }));
  assert.equal(x(ev({ t: 300_020, verb: 'delete', ...helm, ref: { resource: 'services', namespace: 'shop', name: 'db' } })).origin, 'patch-update secrets');
});

const KUBELET = { groups: ['system:nodes', 'system:authenticated'], ua: 'kubelet/v1.30.2 (linux/amd64) kubernetes/39683505' };

test('features: a kubelet\'s first requests for a pod bound to its node belong to the pod\'s action, a later token is a refresh', () => {
  const fx = new FeatureExtractor();
  const x = (a: ReturnType<typeof ev>) => fx.extract(a, Date.parse(a.requestReceivedTimestamp));
  for (const a of deploymentCascade(1000, 'shop', 'web')) x(a);
  x(ev({ t: 1012, verb: 'create', user: 'system:kube-scheduler', ref: { resource: 'pods', namespace: 'shop', name: 'web-abc-x1', subresource: 'binding' }, req: { kind: 'Binding', target: { kind: 'Node', name: 'worker-2' } } }));
  // Metadata-level token request: no body to link by
  const token = x(ev({ t: 2400, verb: 'create', user: 'system:node:worker-2', ...KUBELET, ref: { resource: 'serviceaccounts', namespace: 'shop', name: 'default', subresource: 'token' } }));
  assert.equal(token.origin, 'create apps/deployments');
  const ca = x(ev({ t: 2405, verb: 'list', user: 'system:node:worker-2', ...KUBELET, ref: { resource: 'configmaps', namespace: 'shop' } }));
  assert.equal(ca.origin, 'create apps/deployments', 'the CA configmap read right after the token');
  const refresh = x(ev({ t: 3_000_000, verb: 'create', user: 'system:node:worker-2', ...KUBELET, ref: { resource: 'serviceaccounts', namespace: 'shop', name: 'default', subresource: 'token' } }));
  assert.equal(refresh.origin, 'background token');
});

test('features: a garbage collector\'s body-less delete reaches the deleted owner; kubectl\'s next change is the next command', () => {
  const fx = new FeatureExtractor();
  const x = (a: ReturnType<typeof ev>) => fx.extract(a, Date.parse(a.requestReceivedTimestamp));
  for (const a of deploymentCascade(1000, 'shop', 'web')) x(a);
  x(ev({ t: 50_000, verb: 'delete', user: 'alice', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' }, req: { kind: 'DeleteOptions' }, resp: { kind: 'Status', details: { uid: 'uid-d-web' } } }));
  const gc = x(ev({ t: 50_040, verb: 'delete', user: 'system:serviceaccount:kube-system:generic-garbage-collector', ua: kcm('generic-garbage-collector'), ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-abc' }, req: { kind: 'DeleteOptions' }, resp: { kind: 'Status', details: { uid: 'uid-rs-web' } } }));
  assert.equal(gc.origin, 'delete apps/deployments');
  // alice runs another kubectl command 30 ms later: its own action
  const next = x(ev({ t: 50_030 + 30, verb: 'create', user: 'alice', ref: { resource: 'configmaps', namespace: 'shop', name: 'cfg' } }));
  assert.equal(next.origin, 'create configmaps');
});

test('features: a person\'s read takes the change it leads to (`unext`), once that change arrives', () => {
  const fx = new FeatureExtractor();
  const x = (a: ReturnType<typeof ev>) => fx.extract(a, Date.parse(a.requestReceivedTimestamp));
  const get = x(ev({ t: 10_000, verb: 'get', user: 'bob', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' }, code: 404 }));
  assert.equal(get.candidates.unext, undefined);
  const create = x(ev({ t: 10_012, verb: 'create', user: 'bob', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' } }));
  assert.equal(create.origin, 'create apps/deployments');
  assert.equal(get.candidates.unext, 'create apps/deployments');
  // a read long before the next change leads to nothing
  const lone = x(ev({ t: 20_000, verb: 'get', user: 'bob', ref: { resource: 'pods', namespace: 'shop', name: 'p' } }));
  x(ev({ t: 25_000, verb: 'delete', user: 'bob', ref: { resource: 'pods', namespace: 'shop', name: 'p' } }));
  assert.equal(lone.candidates.unext, undefined);
});

test('features: a CronJob\'s first scheduled run belongs to its create, later runs are routine', () => {
  const fx = new FeatureExtractor();
  const x = (a: ReturnType<typeof ev>) => fx.extract(a, Date.parse(a.requestReceivedTimestamp));
  const cj = { kind: 'CronJob', uid: 'uid-cj' };
  x(ev({ t: 1_000, verb: 'create', user: 'carol', ref: { resource: 'cronjobs', apiGroup: 'batch', namespace: 'data', name: 'backup' }, resp: { kind: 'CronJob', metadata: { name: 'backup', uid: 'uid-cj' } } }));
  const job = (t: number, n: number) => x(ev({ t, verb: 'create', user: 'system:serviceaccount:kube-system:cronjob-controller', ua: kcm('cronjob-controller'), ref: { resource: 'jobs', apiGroup: 'batch', namespace: 'data', name: `backup-${n}` }, req: { kind: 'Job', metadata: { name: `backup-${n}`, ownerReferences: [cj] } }, resp: { kind: 'Job', metadata: { name: `backup-${n}`, uid: `uid-job-${n}`, ownerReferences: [cj] } } }));
  assert.equal(job(50_000, 1).origin, 'create batch/cronjobs');
  assert.equal(job(110_000, 2).origin, 'background controller');
  const status = x(ev({ t: 110_010, verb: 'update', user: 'system:serviceaccount:kube-system:cronjob-controller', ua: kcm('cronjob-controller'), ref: { resource: 'cronjobs', apiGroup: 'batch', namespace: 'data', name: 'backup', subresource: 'status', uid: 'uid-cj' } }));
  assert.equal(status.origin, 'background controller');
});

test('features: the namespace controller\'s sweep follows the namespace delete; a failed request changes nothing', () => {
  const fx = new FeatureExtractor();
  const x = (a: ReturnType<typeof ev>) => fx.extract(a, Date.parse(a.requestReceivedTimestamp));
  x(ev({ t: 1_000, verb: 'delete', user: 'bob', ref: { resource: 'namespaces', name: 'staging' }, code: 403 }));
  const nsc = { user: 'system:serviceaccount:kube-system:namespace-controller', ua: kcm('namespace-controller') };
  assert.equal(x(ev({ t: 1_050, verb: 'deletecollection', ...nsc, ref: { resource: 'configmaps', namespace: 'staging' } })).origin, 'background controller', 'a refused delete starts no sweep');
  x(ev({ t: 5_000, verb: 'delete', user: 'alice', ref: { resource: 'namespaces', name: 'staging' } }));
  assert.equal(x(ev({ t: 5_040, verb: 'deletecollection', ...nsc, ref: { resource: 'configmaps', namespace: 'staging' } })).origin, 'delete namespaces (cluster)');
  assert.equal(x(ev({ t: 35_000, verb: 'deletecollection', ...nsc, ref: { resource: 'pods', namespace: 'staging' } })).origin, 'delete namespaces (cluster)', 'the second pass too');
});
