// Command-level sessions of the clusterer: an apply of a set of manifests is one action, a helm
// upgrade takes its release over, a relabel leaves the rollout with the action that started it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replay } from '../src/cluster/replay.ts';
import { ev, type EvSpec } from './cluster-fixtures.ts';
import { COMMAND_SESSION } from '../src/k8s/params.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';
import type { ContextDoc } from '../src/types/context.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
/** the clusterer's default applyStepMs */
const STEP = 250;
const HELM = 'Helm/3.11.0 (linux/amd64) kubernetes/$Format';
const DC = 'system:serviceaccount:kube-system:deployment-controller';
const GITOPS = 'system:serviceaccount:gitops:deployer';

function withUri(e: LabeledEvent, uri: string): LabeledEvent { e.audit.requestURI = uri; return e; }
function contextOf(docs: Map<string, ContextDoc>, e: LabeledEvent): ContextDoc | undefined {
  for (const d of docs.values()) if (d.members.some((m) => m.auditID === e.audit.auditID)) return d;
  return undefined;
}
const APPLY = '?fieldManager=kubectl-client-side-apply&fieldValidation=Strict';

/** `kubectl apply -n shop -f dir --prune`: each object read then created, the prune's list and delete; its label is each object's own operation */
function applyDir(t: number, user = GITOPS, names = ['cfg', 'web', 'web']): LabeledEvent[] {
  const u = (s: EvSpec & { label: string }) => ev({ user, ...s });
  return [
    u({ time: t, label: 'create configmaps', verb: 'get', code: 404, ref: { resource: 'configmaps', namespace: 'shop', name: names[0] } }),
    withUri(u({ time: t + 5, label: 'create configmaps', verb: 'create', code: 201, ref: { resource: 'configmaps', namespace: 'shop', name: names[0] } }), `/api/v1/namespaces/shop/configmaps${APPLY}`),
    u({ time: t + 10, label: 'create apps/deployments', verb: 'get', code: 404, ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: names[1] } }),
    withUri(u({ time: t + 15, label: 'create apps/deployments', verb: 'create', code: 201, ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: names[1] } }), `/apis/apps/v1/namespaces/shop/deployments${APPLY}`),
    withUri(u({ time: t + 20, label: 'create services', verb: 'create', code: 201, ref: { resource: 'services', namespace: 'shop', name: names[2] } }), `/api/v1/namespaces/shop/services${APPLY}`),
    withUri(u({ time: t + 220, label: 'get-list-collection configmaps', verb: 'list', ref: { resource: 'configmaps', namespace: 'shop' } }), '/api/v1/namespaces/shop/configmaps?labelSelector=app%3Dshop'),
    u({ time: t + 240, label: 'delete configmaps', verb: 'delete', ref: { resource: 'configmaps', namespace: 'shop', name: 'legacy' } }),
  ];
}

test('kubectl apply -f <dir> (or a GitOps sync) is one action across kinds, prune included; its cascade follows it', async () => {
  const a = applyDir(T0);
  const rs = ev({ time: T0 + 30, label: 'create apps/deployments', user: DC, verb: 'create', code: 201, ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
  const docs = await replay([...a, rs]);
  const c = contextOf(docs, a[1]!)!;
  assert.deepEqual(new Set(c.members.map((m) => m.auditID)), new Set([...a, rs].map((e) => e.audit.auditID)));
  assert.equal([...docs.values()].filter((d) => !d.label.startsWith('background ')).length, 1);
});

test('an apply session continues within applyStepMs of its previous request and not past it', async () => {
  for (const [gap, joins] of [[STEP, true], [STEP + 1, false]] as const) {
    const a = applyDir(T0);
    const last = a[a.length - 1]!.time;
    const next = withUri(ev({ time: last + gap, label: 'create secrets', user: GITOPS, verb: 'create', code: 201, ref: { resource: 'secrets', namespace: 'shop', name: 'creds' } }), `/api/v1/namespaces/shop/secrets${APPLY}`);
    const docs = await replay([...a, next]);
    assert.equal(contextOf(docs, next) === contextOf(docs, a[1]!), joins, `gap ${gap}`);
  }
  // another namespace is another apply, however close (a GitOps controller syncs several applications at once)
  const a = applyDir(T0);
  const other = withUri(ev({ time: T0 + 250, label: 'create secrets', user: GITOPS, userAgent: 'kustomize-controller/v1.2.0', verb: 'create', code: 201, ref: { resource: 'secrets', namespace: 'other', name: 'creds' } }), '/api/v1/namespaces/other/secrets?fieldManager=kustomize-controller');
  const docs = await replay([...a, other]);
  assert.notEqual(contextOf(docs, other), contextOf(docs, a[1]!));
});

test('a second apply of the same person after a pause is a new action, even on the same objects', async () => {
  const first = applyDir(T0);
  const second = applyDir(T0 + 10_000);
  const docs = await replay([...first, ...second]);
  assert.notEqual(contextOf(docs, second[1]!), contextOf(docs, first[1]!));
  assert.equal(contextOf(docs, second[3]!), contextOf(docs, second[1]!));
  assert.equal(contextOf(docs, second[6]!), contextOf(docs, second[1]!));
});

function helmCommand(t: number, version: number, label: string): LabeledEvent[] {
  const h = (s: EvSpec & { label: string }) => ev({ user: 'ci', userAgent: HELM, ...s });
  return [
    withUri(h({ time: t, label, verb: 'list', ref: { resource: 'secrets', namespace: 'shop' } }), '/api/v1/namespaces/shop/secrets?labelSelector=name%3Dweb%2Cowner%3Dhelm'),
    h({ time: t + 20, label, verb: 'create', code: 201, ref: { resource: 'secrets', namespace: 'shop', name: `sh.helm.release.v1.web.v${version}` } }),
    h({ time: t + 30, label, verb: version === 1 ? 'create' : 'patch', code: version === 1 ? 201 : 200, ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' } }),
  ];
}

test('helm upgrade takes its release over: the rollout after it is the upgrade\'s, the deployed-revision lookup stays in the command', async () => {
  const install = helmCommand(T0, 1, 'create secrets');
  const upgrade = helmCommand(T0 + 20_000, 2, 'create secrets');
  // the deployment controller reacts to the upgrade's patch; at the end helm looks up the deployed revision
  const rs = ev({ time: T0 + 20_100, label: 'create secrets', user: DC, verb: 'update', ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
  const lookup = withUri(ev({ time: T0 + 35_000, label: 'create secrets', user: 'ci', userAgent: HELM, verb: 'list', ref: { resource: 'secrets', namespace: 'shop' } }), '/api/v1/namespaces/shop/secrets?labelSelector=name%3Dweb%2Cowner%3Dhelm%2Cstatus%3Ddeployed');
  const docs = await replay([...install, ...upgrade, rs, lookup]);
  const up = contextOf(docs, upgrade[1]!)!;
  assert.notEqual(up, contextOf(docs, install[1]!));
  assert.equal(contextOf(docs, rs), up);
  assert.equal(contextOf(docs, lookup), up);
  assert.equal(contextOf(docs, install[1]!)!.state, 'closed');
});

test('kubectl label does not take a rollout over; kubectl set image does', async () => {
  const kc = (t: number, label: string, verb: string, manager: string) => withUri(ev({ time: t, label, user: 'alice', verb, code: verb === 'create' ? 201 : 200, ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'web', name: 'web' } }), `/apis/apps/v1/namespaces/web/deployments/web?fieldManager=${manager}`);
  const rsRef = { resource: 'replicasets', apiGroup: 'apps', namespace: 'web', name: 'web-6d4cf56db6' };
  for (const [manager, takesOver] of [['kubectl-label', false], ['kubectl-set', true]] as const) {
    // `kubectl rollout undo`: the deployment controller scales a ReplicaSet up
    const create = kc(T0, 'patch-update apps/deployments', 'patch', 'kubectl-rollout');
    const rsCreate = ev({ time: T0 + 100, label: 'patch-update apps/deployments', user: DC, verb: 'update', ref: rsRef });
    const change = kc(T0 + 5_000, 'patch-update apps/deployments', 'patch', manager);
    // the rollout goes on: the ReplicaSet the first action's controller created is updated again
    const rsUpdate = ev({ time: T0 + 5_500, label: 'patch-update apps/deployments', user: DC, verb: 'update', ref: rsRef });
    const docs = await replay([create, rsCreate, change, rsUpdate]);
    assert.notEqual(contextOf(docs, change), contextOf(docs, create), 'the change is an action of its own');
    assert.equal(contextOf(docs, rsUpdate) === contextOf(docs, create), !takesOver, manager);
  }
});

/** the shipped sessionGapMs: one command's requests on one object come closer than this */
const GAP = 100;
/** the shipped commandStepMs: a kubectl request this soon after the previous one returned continues its command */
const CMD = COMMAND_SESSION.commandStepMs;
/** a client that is not kubectl (command-follow-up alone, without kubectl's command session) */
const K9S = 'k9s/v0.32.4 (linux/amd64)';
const DEPLOY = { resource: 'deployments', apiGroup: 'apps', namespace: 'web', name: 'web' };

test('command-follow-up: a read and the patch of one object within sessionGapMs are one command whatever their labels, not past it', async () => {
  for (const [gap, one] of [[GAP, true], [GAP + 1, false]] as const) {
    const get = ev({ time: T0, label: 'get-list configmaps', userAgent: K9S, verb: 'get', ref: { resource: 'configmaps', namespace: 'web', name: 'cfg' } });
    const patch = withUri(ev({ time: T0 + gap, label: 'patch-update configmaps', userAgent: K9S, verb: 'patch', ref: { resource: 'configmaps', namespace: 'web', name: 'cfg' } }), '/api/v1/namespaces/web/configmaps/cfg?fieldManager=kubectl-label');
    const docs = await replay([get, patch]);
    assert.equal(contextOf(docs, get) === contextOf(docs, patch), one, `gap ${gap} ms`);
  }
});

test('command-follow-up: rollout status reads its object and watches it by field selector: one command; another object from another client is not', async () => {
  for (const [name, one] of [['web', true], ['api', false]] as const) {
    const get = ev({ time: T0, label: 'get-list apps/deployments', verb: 'get', ref: DEPLOY });
    // (another object from the same kubectl this soon is its command session: see the command-session tests)
    const watch = withUri(ev({ time: T0 + 10, label: 'watch-collection apps/deployments', verb: 'watch', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'web' }, ...(one ? {} : { userAgent: 'k9s/v0.32.4 (linux/amd64)' }) }),
      `/apis/apps/v1/namespaces/web/deployments?fieldSelector=metadata.name%3D${name}&watch=true`);
    const docs = await replay([get, watch]);
    assert.equal(contextOf(docs, get) === contextOf(docs, watch), one, name);
  }
});

test('reads-cause-nothing: the controller\'s work follows the change, not a later read of the changed object', async () => {
  const label = 'patch-update apps/deployments';
  const change = withUri(ev({ time: T0, label, verb: 'patch', ref: DEPLOY }), '/apis/apps/v1/namespaces/web/deployments/web?fieldManager=kubectl-set');
  // `kubectl rollout status` three seconds later, labelled like the change
  const read = ev({ time: T0 + 3_000, label, verb: 'get', ref: DEPLOY });
  const status = ev({ time: T0 + 3_100, label, user: DC, verb: 'update', ref: { ...DEPLOY, subresource: 'status' } });
  const docs = await replay([change, read, status]);
  assert.notEqual(contextOf(docs, read), contextOf(docs, change), 'a read well after the change is the next command');
  assert.equal(contextOf(docs, status), contextOf(docs, change));
});

test('a person\'s read of what they just changed stays in the change within sessionGapMs, and is their next command past it', async () => {
  const label = 'patch-update apps/deployments';
  for (const [gap, one] of [[GAP, true], [GAP + 1, false]] as const) {
    const change = withUri(ev({ time: T0, label, userAgent: K9S, verb: 'patch', ref: DEPLOY }), '/apis/apps/v1/namespaces/web/deployments/web?fieldManager=kubectl-set');
    const read = ev({ time: T0 + gap, label, userAgent: K9S, verb: 'get', ref: { ...DEPLOY, name: undefined } });
    read.audit.objectRef = { resource: 'deployments', apiGroup: 'apps', namespace: 'web', name: 'web' };
    read.audit.requestURI = '/apis/apps/v1/namespaces/web/deployments/web';
    const docs = await replay([change, read]);
    assert.equal(contextOf(docs, read) === contextOf(docs, change), one, `gap ${gap} ms`);
  }
});

test('a retry is the same request again after it failed; another change of the same object soon after is the next command', async () => {
  const label = 'patch-update apps/deployments';
  const scale = withUri(ev({ time: T0, label, verb: 'patch', code: 429, ref: DEPLOY }), '/apis/apps/v1/namespaces/web/deployments/web?fieldManager=kubectl-patch');
  const retry = withUri(ev({ time: T0 + 600, label, verb: 'patch', ref: DEPLOY }), '/apis/apps/v1/namespaces/web/deployments/web?fieldManager=kubectl-patch');
  const setImage = withUri(ev({ time: T0 + 1_200, label, verb: 'patch', ref: DEPLOY }), '/apis/apps/v1/namespaces/web/deployments/web?fieldManager=kubectl-set');
  const docs = await replay([scale, retry, setImage]);
  assert.equal(contextOf(docs, retry), contextOf(docs, scale));
  assert.notEqual(contextOf(docs, setImage), contextOf(docs, scale));
});

test('helm history and helm list read: the install\'s cascade stays with the install, each read is its own command', async () => {
  const install = helmCommand(T0, 1, 'create secrets');
  const history = withUri(ev({ time: T0 + 10_000, label: 'create secrets', user: 'ci', userAgent: HELM, verb: 'list', ref: { resource: 'secrets', namespace: 'shop' } }), '/api/v1/namespaces/shop/secrets?labelSelector=name%3Dweb%2Cowner%3Dhelm');
  const list = withUri(ev({ time: T0 + 15_000, label: 'create secrets', user: 'ci', userAgent: HELM, verb: 'list', ref: { resource: 'secrets', namespace: 'shop' } }), '/api/v1/namespaces/shop/secrets?labelSelector=owner%3Dhelm');
  const rs = ev({ time: T0 + 16_000, label: 'create secrets', user: DC, verb: 'update', ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
  const docs = await replay([...install, history, list, rs]);
  const inst = contextOf(docs, install[1]!)!;
  assert.notEqual(contextOf(docs, history), inst);
  assert.notEqual(contextOf(docs, list), inst);
  assert.equal(contextOf(docs, rs), inst, 'the rollout is still the install\'s');
  // the next command that changes the release takes it over
  const upgrade = helmCommand(T0 + 20_000, 2, 'create secrets');
  const rs2 = ev({ time: T0 + 20_100, label: 'create secrets', user: DC, verb: 'update', ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web-6d4cf56db6' } });
  const docs2 = await replay([...install, history, ...upgrade, rs2]);
  assert.equal(contextOf(docs2, rs2), contextOf(docs2, upgrade[1]!));
  assert.equal(contextOf(docs2, install[1]!)!.state, 'closed');
});

/** a kubectl request from `t` whose response returned `took` ms later */
function kubectl(s: EvSpec & { label: string }, took = 0): LabeledEvent {
  const e = ev(s);
  e.audit.stageTimestamp = new Date(s.time + took).toISOString();
  return e;
}
const SECRET = (name: string) => ({ resource: 'secrets', namespace: 'team-a', name });

test('command-session: a person\'s next request from the same kubectl within commandStepMs of the previous response is the same command, not past it', async () => {
  // `kubectl delete secret db pull`: the second delete right after the first one returned (it took 40 ms)
  for (const [gap, one] of [[CMD, true], [CMD + 1, false]] as const) {
    const first = kubectl({ time: T0, label: 'delete secrets', verb: 'delete', ref: SECRET('db') }, 40);
    const second = kubectl({ time: T0 + 40 + gap, label: 'delete secrets', verb: 'delete', ref: SECRET('pull') });
    const docs = await replay([first, second]);
    assert.equal(contextOf(docs, first) === contextOf(docs, second), one, `gap ${gap} ms after the response`);
  }
});

test('command-session: another person, another kubectl or a long-running client within the gap is not the same command', async () => {
  const first = kubectl({ time: T0, label: 'delete secrets', verb: 'delete', ref: SECRET('db') });
  const others = [
    kubectl({ time: T0 + 10, label: 'delete secrets', user: 'bob', verb: 'delete', ref: SECRET('pull') }),
    kubectl({ time: T0 + 10, label: 'delete secrets', userAgent: 'kubectl/v1.29.0 (darwin/arm64) kubernetes/def', verb: 'delete', ref: SECRET('pull') }),
    kubectl({ time: T0 + 10, label: 'delete secrets', userAgent: 'k9s/v0.32.4 (linux/amd64)', verb: 'delete', ref: SECRET('pull') }),
  ];
  for (const other of others) {
    const docs = await replay([first, other]);
    assert.notEqual(contextOf(docs, other), contextOf(docs, first), `${other.audit.user.username} ${other.audit.userAgent}`);
  }
});

test('command-session: kubectl delete namespace then its watch (no namespace in the watch\'s objectRef) is one command, and so is its cascade', async () => {
  const del = kubectl({ time: T0, label: 'delete namespaces', verb: 'delete', ref: { resource: 'namespaces', namespace: 'shop', name: 'shop' } }, 4);
  const watch = withUri(kubectl({ time: T0 + 6, label: 'get-list namespaces', verb: 'watch', ref: { resource: 'namespaces', name: 'shop' } }, 20_000),
    '/api/v1/namespaces?fieldSelector=metadata.name%3Dshop&watch=true');
  const gc = ev({ time: T0 + 1_000, label: 'delete namespaces', user: 'system:serviceaccount:kube-system:namespace-controller', verb: 'delete', ref: { resource: 'configmaps', namespace: 'shop', name: 'kube-root-ca.crt' } });
  const docs = await replay([del, watch, gc]);
  assert.equal(contextOf(docs, watch), contextOf(docs, del));
  assert.equal(contextOf(docs, gc), contextOf(docs, del));
  assert.equal([...docs.values()].filter((d) => !d.label.startsWith('background ')).length, 1);
});

test('command-session: a watch\'s final stage (logged when the watch ends) does not stretch the command over the next one', async () => {
  const get = kubectl({ time: T0, label: 'get-list apps/deployments', verb: 'get', ref: DEPLOY }, 2);
  const watch = withUri(kubectl({ time: T0 + 4, label: 'watch-collection apps/deployments', verb: 'watch', ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'web', name: 'web' } }, 5_000),
    '/apis/apps/v1/namespaces/web/deployments?fieldSelector=metadata.name%3Dweb&watch=true');
  // the next command (`kubectl scale`) well after the watch ended; then the same command's final stage arrives late
  const scale = withUri(kubectl({ time: T0 + 5_004 + CMD + 1, label: 'patch-update apps/deployments', verb: 'patch', ref: { ...DEPLOY, subresource: 'scale' } }), '/apis/apps/v1/namespaces/web/deployments/web/scale?fieldManager=kubectl-scale');
  const docs = await replay([get, watch, scale]);
  assert.equal(contextOf(docs, watch), contextOf(docs, get));
  assert.notEqual(contextOf(docs, scale), contextOf(docs, get));
});

test('the same request again after it succeeded is the next command, not a retry (kubectl create twice, kubectl auth can-i twice)', async () => {
  const label = 'create configmaps';
  const uri = '/api/v1/namespaces/team-a/configmaps?fieldManager=kubectl-create';
  for (const [code, retry] of [[201, false], [500, true]] as const) {
    const first = withUri(ev({ time: T0, label, verb: 'create', code, ref: { resource: 'configmaps', namespace: 'team-a', name: 'dup' } }), uri);
    const again = withUri(ev({ time: T0 + 600, label, verb: 'create', code: 409, ref: { resource: 'configmaps', namespace: 'team-a', name: 'dup' } }), uri);
    const docs = await replay([first, again]);
    assert.equal(contextOf(docs, again) === contextOf(docs, first), retry, `after ${code}`);
  }
  // a create of nothing named (an access review) is never a retry of the previous one
  const review = (t: number) => withUri(ev({ time: t, label: 'create authorization.k8s.io/selfsubjectaccessreviews', verb: 'create', code: 201, ref: { resource: 'selfsubjectaccessreviews', apiGroup: 'authorization.k8s.io' } }), '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews');
  const [a, b] = [review(T0), review(T0 + 450)];
  const docs = await replay([a, b]);
  assert.notEqual(contextOf(docs, b), contextOf(docs, a));
});

test('command-session: a kubectl read of an object right after their change of it, past the gap, is their next command; so is a trigger after their reads', async () => {
  const label = 'patch-update apps/deployments';
  const change = withUri(kubectl({ time: T0, label, verb: 'patch', ref: DEPLOY }, 3), '/apis/apps/v1/namespaces/web/deployments/web?fieldManager=kubectl-set');
  const get = kubectl({ time: T0 + 3 + CMD + 1, label, verb: 'get', ref: DEPLOY }, 2);
  const scale = withUri(kubectl({ time: T0 + 3 + CMD + 1 + 2 + CMD + 1, label, verb: 'patch', ref: { ...DEPLOY, subresource: 'scale' } }), '/apis/apps/v1/namespaces/web/deployments/web/scale?fieldManager=kubectl-scale');
  const docs = await replay([change, get, scale]);
  assert.equal(new Set([change, get, scale].map((e) => contextOf(docs, e))).size, 3);
});

test('a relabel of a Deployment is no new work for its namespace: the ReplicaSet controller\'s next pod (no name at Metadata level) follows the rollout; a pod relabel is', async () => {
  const RSC = 'system:serviceaccount:kube-system:replicaset-controller';
  for (const [resource, followsRelabel] of [['deployments', false], ['pods', true]] as const) {
    const undo = withUri(kubectl({ time: T0, label: 'patch-update apps/deployments', verb: 'patch', ref: DEPLOY }, 3), '/apis/apps/v1/namespaces/web/deployments/web?fieldManager=kubectl-rollout');
    const ref = resource === 'pods' ? { resource: 'pods', namespace: 'web', name: 'web-6d4cf56db6-x2k4q' } : DEPLOY;
    const relabel = withUri(kubectl({ time: T0 + 1_000, label: 'patch-update apps/deployments', verb: 'patch', ref }, 3), `/apis/apps/v1/namespaces/web/${resource}/${ref.name}?fieldManager=kubectl-label`);
    const pod = ev({ time: T0 + 1_500, label: 'create pods', user: RSC, verb: 'create', code: 201, ref: { resource: 'pods', namespace: 'web' } });
    const docs = await replay([undo, relabel, pod]);
    assert.notEqual(contextOf(docs, relabel), contextOf(docs, undo));
    assert.equal(contextOf(docs, pod), contextOf(docs, followsRelabel ? relabel : undo), resource);
  }
});

test('helm list right after an install is its own command, not part of the install', async () => {
  const install = helmCommand(T0, 1, 'create secrets');
  const list = withUri(ev({ time: T0 + 400, label: 'create secrets', user: 'ci', userAgent: HELM, verb: 'list', ref: { resource: 'secrets', namespace: 'shop' } }), '/api/v1/namespaces/shop/secrets?labelSelector=owner%3Dhelm');
  const docs = await replay([...install, list]);
  assert.notEqual(contextOf(docs, list), contextOf(docs, install[1]!));
});

test('command-session: a request sent before the previous one returned (another terminal next to `logs -f`) or in another namespace is not the same command', async () => {
  const logs = kubectl({ time: T0, label: 'get-list pods', verb: 'get', ref: { resource: 'pods', namespace: 'team-a', name: 'web-0', subresource: 'log' } }, 60_000);
  const meanwhile = kubectl({ time: T0 + 5_000, label: 'delete secrets', verb: 'delete', ref: SECRET('db') });
  const docs = await replay([logs, meanwhile]);
  assert.notEqual(contextOf(docs, meanwhile), contextOf(docs, logs));
  for (const [ns, one] of [['team-a', true], ['team-b', false]] as const) {
    const first = kubectl({ time: T0, label: 'delete secrets', verb: 'delete', ref: SECRET('db') }, 5);
    const next = kubectl({ time: T0 + 10, label: 'delete secrets', verb: 'delete', ref: { resource: 'secrets', namespace: ns, name: 'pull' } });
    const d = await replay([first, next]);
    assert.equal(contextOf(d, next) === contextOf(d, first), one, ns);
  }
});
