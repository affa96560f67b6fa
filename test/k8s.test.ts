import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventSubject, nameFamily, namePrefixes, parentName } from '../src/k8s/names.ts';
import { helmRefOf, releaseSecret } from '../src/k8s/helm.ts';
import { isDiscoveryPath, isDiscoveryRequest, isDryRun, queryParam, selectorValue } from '../src/k8s/uri.ts';
import { clientFamily, isNodeAgent, isPerson, isSystemUser, nodeNameOf, userClass } from '../src/k8s/identity.ts';
import { pluralOfKind } from '../src/k8s/resources.ts';
import { changesOnlyMetadata, isManifestApply, kubectlCommandOf } from '../src/k8s/kubectl.ts';
import { isGitOpsApply } from '../src/k8s/identity.ts';
import { ATTRIBUTION, paramsHash } from '../src/k8s/params.ts';
import { ReleaseTracker } from '../src/k8s/sessions.ts';
import { ev } from './label-helpers.ts';

const HELM = 'Helm/3.11.0 (linux/amd64) kubernetes/$Format';

test('k8s names: families, parents, Event subjects, prefixes', () => {
  assert.equal(nameFamily('pods', 'web-6d4cf56db6-x2k4q'), 'web');
  assert.equal(parentName('pods', 'web-6d4cf56db6-x2k4q'), 'web-6d4cf56db6');
  assert.equal(parentName('apps/replicasets', 'web-6d4cf56db6'), 'web');
  assert.equal(parentName('pods', 'db-0'), 'db');
  assert.equal(parentName('batch/jobs', 'nightly-28391400'), 'nightly');
  assert.equal(parentName('secrets', 'my-app-token-rnmqg'), 'my-app');
  assert.equal(parentName('apps/deployments', 'web'), '', 'a name without a generated suffix has no parent');
  assert.equal(eventSubject('my-app-767dc59795.173e3dec1771eac8'), 'my-app-767dc59795');
  assert.equal(eventSubject('my-app'), undefined);
  assert.deepEqual(namePrefixes('my-cert-manager-webhook'), ['my', 'my-cert', 'my-cert-manager', 'my-cert-manager-webhook']);
  assert.deepEqual(namePrefixes('my-cert-manager:leaderelection').slice(-2), ['my-cert-manager', 'my-cert-manager:leaderelection']);
  assert.equal(pluralOfKind('Ingress'), 'ingresses');
  assert.equal(pluralOfKind('NetworkPolicy'), 'networkpolicies');
});

test('k8s helm: release records and the history check, at any audit level', () => {
  assert.deepEqual(releaseSecret('sh.helm.release.v1.my-app.v12'), { release: 'my-app', version: 12 });
  assert.equal(releaseSecret('sh.helm.release.v1.my-app'), undefined);
  const hist = ev({ verb: 'list', user: 'admin', ref: { resource: 'secrets', namespace: 'apps' }, uri: '/api/v1/namespaces/apps/secrets?labelSelector=name%3Dmy-app%2Cowner%3Dhelm' });
  assert.deepEqual(helmRefOf(hist), { release: 'my-app', ns: 'apps', via: 'history' });
  const other = ev({ verb: 'list', user: 'admin', ref: { resource: 'secrets', namespace: 'apps' }, uri: '/api/v1/namespaces/apps/secrets?labelSelector=name%3Dmy-app' });
  assert.equal(helmRefOf(other), undefined, 'a selector without owner=helm is not helm');
  assert.equal(helmRefOf(ev({ verb: 'get', user: 'a', ref: { resource: 'configmaps', namespace: 'apps', name: 'sh.helm.release.v1.x.v1' } })), undefined, 'only secrets');
});

test('k8s uri: query parameters, selectors, dry runs', () => {
  assert.equal(queryParam('/api/v1/pods?fieldSelector=spec.nodeName%3Dw1&limit=500', 'fieldSelector'), 'spec.nodeName=w1');
  assert.equal(queryParam('/api/v1/pods', 'limit'), undefined);
  assert.equal(selectorValue('name==a,owner=helm', 'name'), 'a');
  assert.equal(selectorValue('name!=a', 'name'), undefined);
  assert.equal(isDryRun('/apis/apps/v1/namespaces/x/deployments?dryRun=All'), true);
  assert.equal(isDryRun('/apis/apps/v1/namespaces/x/deployments?fieldManager=kubectl'), false);
});

test('k8s uri: discovery paths end at the group version; a resource after it is a real request', () => {
  for (const uri of ['/api', '/api?timeout=32s', '/api/v1', '/apis', '/apis/', '/apis/apps', '/apis/apps/v1', '/apis/monitoring.coreos.com/v1?timeout=32s',
    '/openapi/v2', '/openapi/v3', '/openapi/v3/apis/apps/v1?hash=ABC', '/version', '/version?timeout=32s']) assert.equal(isDiscoveryPath(uri), true, uri);
  for (const uri of ['/apis/apps/v1/deployments', '/apis/apps/v1/namespaces/x/deployments/web', '/api/v1/namespaces/x/pods', '/api/v1/pods?limit=500',
    '/apis/monitoring.coreos.com/v1/servicemonitors', '/healthz', '/livez', '/versions', '/apiz', '/metrics', '', undefined]) assert.equal(isDiscoveryPath(uri), false, String(uri));
  assert.equal(isDiscoveryRequest({ verb: 'get', requestURI: '/apis/apps/v1' }), true);
  assert.equal(isDiscoveryRequest({ verb: 'get', requestURI: '/apis/apps/v1/deployments', objectRef: { resource: 'deployments' } }), false, 'a GET of a resource');
  assert.equal(isDiscoveryRequest({ verb: 'list', requestURI: '/api/v1/namespaces/x/pods', objectRef: { resource: 'pods' } }), false);
  assert.equal(isDiscoveryRequest({ verb: 'get', requestURI: '/api', objectRef: { resource: 'pods' } }), false, 'an objectRef naming a resource wins over the path');
  assert.equal(isDiscoveryRequest({ verb: 'post', requestURI: '/apis' }), false, 'only reads');
});

test('k8s identity: client families are case-insensitive; who is a person', () => {
  assert.equal(clientFamily('Helm/3.11.0 (linux/amd64)'), 'helm');
  assert.equal(clientFamily('helm/v3.14.0'), 'helm');
  assert.equal(clientFamily('kubectl/v1.30.2 (linux/amd64) kubernetes/abc'), 'kubectl');
  assert.equal(clientFamily(undefined), 'none');
  assert.equal(clientFamily('argocd-application-controller/v2.9'), 'gitops');
  assert.equal(userClass('system:node:w1'), 'node');
  assert.equal(isPerson(ev({ verb: 'get', user: 'system:serviceaccount:ci:deployer', ua: HELM })), true);
  assert.equal(isPerson(ev({ verb: 'get', user: 'system:serviceaccount:apps:operator', ua: 'operator/1.0' })), false);
});

test('k8s identity: kubelets and node emulators are node agents, never people', () => {
  const KWOK = 'kwok/v0.8.0 (linux/amd64) kubernetes/$Format';
  for (const u of ['system:node:w1', 'kwok-controller']) {
    assert.equal(isNodeAgent(u), true, u);
    assert.equal(userClass(u), 'node', u);
    assert.equal(isSystemUser(u), true, u);
    // kwok's certificate is in system:masters and deletes pods like a person would: still no action
    assert.equal(isPerson(ev({ verb: 'delete', user: u, ua: KWOK, ref: { resource: 'pods', namespace: 'a', name: 'web-1' } })), false, u);
  }
  assert.equal(nodeNameOf('system:node:w1'), 'w1');
  assert.equal(nodeNameOf('kwok-controller'), undefined); // one identity for every node it emulates
  // a person whose name merely contains the emulator's
  for (const u of ['kwok-controller-admin', 'alice', 'system:nodes']) assert.equal(isNodeAgent(u), false, u);
  assert.equal(isPerson(ev({ verb: 'delete', user: 'kwok-controller-admin', ua: 'kubectl/v1.37.2', ref: { resource: 'pods', namespace: 'a', name: 'web-1' } })), true);
});

test('k8s kubectl: the command behind a write, by its field manager; manifest applies; metadata-only changes', () => {
  const w = (verb: string, q: string) => ev({ verb, user: 'alice', uri: `/apis/apps/v1/namespaces/a/deployments/web${q}`, ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'a', name: 'web' } });
  assert.equal(kubectlCommandOf(w('patch', '?fieldManager=kubectl-label')), 'label');
  assert.equal(kubectlCommandOf(w('create', '?fieldManager=kubectl-client-side-apply&fieldValidation=Strict')), 'apply');
  assert.equal(kubectlCommandOf(w('patch', '?fieldManager=kubectl&force=false')), 'apply'); // server-side apply
  assert.equal(kubectlCommandOf(w('create', '?fieldManager=kubectl')), undefined);
  assert.equal(kubectlCommandOf(w('create', '?fieldManager=helm')), undefined);
  assert.equal(kubectlCommandOf(w('get', '')), undefined);
  assert.equal(changesOnlyMetadata(w('patch', '?fieldManager=kubectl-label')), true);
  for (const m of ['kubectl-annotate', 'kubectl-set', 'kubectl-rollout', 'kubectl-patch']) assert.equal(changesOnlyMetadata(w('patch', `?fieldManager=${m}`)), false, m);
  for (const m of ['kubectl-client-side-apply', 'kustomize-controller', 'argocd-controller']) assert.equal(isManifestApply(w('patch', `?fieldManager=${m}`)), true, m);
  for (const m of ['kubectl-create', 'kubectl-label', 'helm']) assert.equal(isManifestApply(w('create', `?fieldManager=${m}`)), false, m);
});

test('k8s identity: a GitOps controller\'s changes to workloads are actions, its own resources and dry runs are not', () => {
  const SA = 'system:serviceaccount:flux-system:kustomize-controller';
  const UA = 'kustomize-controller/v1.4.0';
  const deploy = (verb: string, uri = '/apis/apps/v1/namespaces/a/deployments/web?fieldManager=kustomize-controller') => ev({ verb, user: SA, ua: UA, uri, ref: { resource: 'deployments', apiGroup: 'apps', namespace: 'a', name: 'web' } });
  assert.equal(isGitOpsApply(deploy('patch')), true);
  assert.equal(isPerson(deploy('patch')), true);
  assert.equal(isPerson(deploy('get')), false, 'its reads are its reconcile loop');
  assert.equal(isPerson(deploy('patch', '/apis/apps/v1/namespaces/a/deployments/web?dryRun=All&fieldManager=kustomize-controller')), false, 'drift check');
  const own = ev({ verb: 'patch', user: SA, ua: UA, ref: { resource: 'kustomizations', apiGroup: 'kustomize.toolkit.fluxcd.io', namespace: 'flux-system', name: 'apps', subresource: 'status' } });
  assert.equal(isPerson(own), false);
  const argo = ev({ verb: 'patch', user: 'system:serviceaccount:argocd:argocd-application-controller', ua: 'argocd-application-controller/v2.13.0', ref: { resource: 'applications', apiGroup: 'argoproj.io', namespace: 'argocd', name: 'shop' } });
  assert.equal(isPerson(argo), false);
  assert.equal(isPerson({ ...argo, objectRef: { resource: 'services', namespace: 'shop', name: 'web' } }), true);
  // any other add-on controller stays a controller
  assert.equal(isPerson(ev({ verb: 'patch', user: 'system:serviceaccount:apps:operator', ua: 'operator/1.0', ref: { resource: 'services', namespace: 'shop', name: 'web' } })), false);
});

test('helm: a history check with status=deployed is a lookup inside a command, not its start', () => {
  const list = (sel: string) => ev({ verb: 'list', user: 'ci', ua: HELM, uri: `/api/v1/namespaces/shop/secrets?labelSelector=${encodeURIComponent(sel)}`, ref: { resource: 'secrets', namespace: 'shop' } });
  assert.equal(helmRefOf(list('name=web,owner=helm'))?.via, 'history');
  assert.equal(helmRefOf(list('name=web,owner=helm,status=deployed'))?.via, 'lookup');
  const r = new ReleaseTracker();
  const start = r.person(list('name=web,owner=helm'), 1_000)!;
  // the lookup comes long after the start (helm --wait), and continues the same session
  assert.equal(r.person(list('name=web,owner=helm,status=deployed'), 1_000 + ATTRIBUTION.releaseStepMs * 20)!.session, start.session);
  assert.notEqual(r.person(list('name=web,owner=helm'), 1_000 + ATTRIBUTION.releaseStepMs * 20 + 1)!.session, start.session);
});

test('k8s params: one object, a stable hash that changes with any value', () => {
  assert.equal(paramsHash(), paramsHash({ ...ATTRIBUTION }));
  assert.notEqual(paramsHash(), paramsHash({ ...ATTRIBUTION, releaseStepMs: ATTRIBUTION.releaseStepMs + 1 }));
});

test('release sessions: history check starts one; namespace, name, burst and idle limits', () => {
  const P = ATTRIBUTION;
  const r = new ReleaseTracker();
  const T = 1_000_000;
  const at = (t: number, e: Parameters<typeof ev>[0]) => ({ a: ev({ ua: HELM, ...e }), t });
  const hist = at(T, { verb: 'list', user: 'admin', ref: { resource: 'secrets', namespace: 'apps' }, uri: '/api/v1/namespaces/apps/secrets?labelSelector=name%3Dmy-app%2Cowner%3Dhelm' });
  const s = r.person(hist.a, hist.t)!;
  assert.equal(s.via, 'release-history');
  const id = s.session.id;
  // the release's namespace, at any distance up to the idle limit
  assert.equal(r.person(ev({ ua: HELM, verb: 'get', user: 'admin', ref: { resource: 'services', namespace: 'apps', name: 'x' } }), T + 10)?.session.id, id);
  // named after the release, in another namespace and cluster scope
  const kube = r.person(ev({ ua: HELM, verb: 'create', user: 'admin', ref: { resource: 'roles', apiGroup: 'rbac.authorization.k8s.io', namespace: 'kube-system', name: 'my-app:leader' } }), T + 20);
  assert.equal(kube?.via, 'release-name');
  // an untied request (a CRD): inside the burst only
  const crd = (t: number) => r.person(ev({ ua: HELM, verb: 'create', user: 'admin', ref: { resource: 'customresourcedefinitions', apiGroup: 'apiextensions.k8s.io', name: 'widgets.example.com' } }), t);
  assert.equal(crd(T + 20 + P.releaseStepMs)?.via, 'release-burst', 'at the burst limit');
  assert.equal(crd(T + 20 + 2 * P.releaseStepMs + 1), undefined, 'just past it');
  // kubectl is never part of a release; another person is not either
  assert.equal(r.person(ev({ verb: 'get', user: 'admin', ref: { resource: 'pods', namespace: 'apps', name: 'p' } }), T + 30), undefined);
  assert.equal(r.person(ev({ ua: HELM, verb: 'get', user: 'bob', ref: { resource: 'pods', namespace: 'apps', name: 'p' } }), T + 30), undefined);
  // the release record keeps it, up to the idle limit after the last request
  const rec = (t: number) => r.person(ev({ ua: HELM, verb: 'update', user: 'admin', ref: { resource: 'secrets', namespace: 'apps', name: 'sh.helm.release.v1.my-app.v1' } }), t);
  assert.equal(rec(T + 20 + P.releaseStepMs + P.releaseIdleMs)?.session.id, id, 'at the idle limit');
  const late = T + 20 + P.releaseStepMs + 2 * P.releaseIdleMs + 1;
  assert.notEqual(rec(late)?.session.id, id, 'past it: a new session');
  // components: by name, within the origin horizon of the release's last request
  const comp = (t: number) => r.component(ev({ verb: 'create', user: 'system:serviceaccount:kube-system:deployment-controller', ref: { resource: 'replicasets', apiGroup: 'apps', namespace: 'other', name: 'my-app-6d4cf56db6' } }), t);
  assert.ok(comp(late + P.originHorizonMs), 'at the horizon');
  assert.equal(comp(late + P.originHorizonMs + 1), undefined, 'past it');
});
