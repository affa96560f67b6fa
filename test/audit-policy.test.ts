import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../src/types/audit.ts';
import { applyPolicy, evaluatePolicy, POLICIES, policyByName, renderAtLevel, ruleMatches, type Policy, type PolicyRule } from '../src/k8s/audit-policy.ts';

function ev(p: {
  verb?: string; user?: string; groups?: string[]; resource?: string; group?: string; sub?: string; ns?: string; name?: string;
  uri?: string; stage?: AuditEvent['stage'];
}): AuditEvent {
  const objectRef = p.resource ? {
    resource: p.resource, ...(p.ns ? { namespace: p.ns } : {}), ...(p.name ? { name: p.name } : {}),
    ...(p.group ? { apiGroup: p.group } : {}), apiVersion: 'v1', ...(p.sub ? { subresource: p.sub } : {}),
  } : undefined;
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: 'a1', stage: p.stage ?? 'ResponseComplete',
    requestURI: p.uri ?? (p.resource ? `/api/v1/${p.resource}` : '/api'), verb: p.verb ?? 'get',
    user: { username: p.user ?? 'alice', groups: p.groups ?? ['system:authenticated'] },
    userAgent: 'kubectl/v1.30.2', ...(objectRef ? { objectRef } : {}),
    responseStatus: { metadata: {}, code: 200 },
    requestObject: { kind: 'Pod', metadata: { name: 'x', managedFields: [{ manager: 'kubectl' }] } },
    responseObject: { kind: 'Pod', metadata: { name: 'x', uid: 'u1' } },
    requestReceivedTimestamp: '2026-01-01T00:00:00.000000Z', stageTimestamp: '2026-01-01T00:00:00.001000Z',
    annotations: { 'authorization.k8s.io/decision': 'allow' },
  };
}
const pol = (...rules: PolicyRule[]): Policy => ({ rules });

test('no matching rule means None; the first matching rule wins', () => {
  assert.equal(evaluatePolicy(pol(), ev({ resource: 'pods' })), 'None');
  assert.equal(evaluatePolicy(pol({ level: 'Request', verbs: ['list'] }), ev({ resource: 'pods', verb: 'get' })), 'None');
  const p = pol({ level: 'Metadata', verbs: ['get'] }, { level: 'RequestResponse' });
  assert.equal(evaluatePolicy(p, ev({ resource: 'pods', verb: 'get' })), 'Metadata');
  assert.equal(evaluatePolicy(p, ev({ resource: 'pods', verb: 'list' })), 'RequestResponse');
});

test('users and userGroups: exact names, any group of the user', () => {
  const r: PolicyRule = { level: 'None', users: ['system:kube-proxy'] };
  assert.ok(ruleMatches(r, ev({ user: 'system:kube-proxy' })));
  assert.ok(!ruleMatches(r, ev({ user: 'system:kube-proxy2' })));
  assert.ok(!ruleMatches(r, ev({ user: 'system:kube-prox' })));
  const g: PolicyRule = { level: 'None', userGroups: ['system:nodes'] };
  assert.ok(ruleMatches(g, ev({ groups: ['system:authenticated', 'system:nodes'] })));
  assert.ok(!ruleMatches(g, ev({ groups: ['system:authenticated'] })));
  assert.ok(!ruleMatches(g, ev({ groups: [] })));
});

test('resources: group, subresources, "*", "*/sub", "res/*" and resourceNames', () => {
  const m = (res: string, p: Parameters<typeof ev>[0], names?: string[]) =>
    ruleMatches({ level: 'Metadata', resources: [{ group: '', resources: [res], ...(names ? { resourceNames: names } : {}) }] }, ev(p));
  assert.ok(m('pods', { resource: 'pods' }));
  assert.ok(!m('pods', { resource: 'pods', sub: 'log' }), '"pods" does not match pods/log');
  assert.ok(m('pods/log', { resource: 'pods', sub: 'log' }));
  assert.ok(!m('pods/log', { resource: 'pods', sub: 'status' }));
  assert.ok(!m('pods/log', { resource: 'pods' }));
  assert.ok(m('*', { resource: 'pods', sub: 'exec' }));
  assert.ok(m('*/status', { resource: 'nodes', sub: 'status' }));
  assert.ok(!m('*/status', { resource: 'nodes' }));
  assert.ok(m('pods/*', { resource: 'pods', sub: 'binding' }));
  assert.ok(m('pods/*', { resource: 'pods' }));
  assert.ok(!m('pods/*', { resource: 'podtemplates' }));
  assert.ok(!m('pods', { resource: 'pods', group: 'metrics.k8s.io' }), 'group must match');
  assert.ok(m('configmaps', { resource: 'configmaps', name: 'controller-leader', verb: 'update' }, ['controller-leader']));
  assert.ok(!m('configmaps', { resource: 'configmaps', name: 'controller-leader2', verb: 'update' }, ['controller-leader']));
  // a create's name is not in the URL, so resourceNames never match it
  assert.ok(!m('configmaps', { resource: 'configmaps', name: 'controller-leader', verb: 'create' }, ['controller-leader']));
  // a group without resources matches the whole group
  assert.ok(ruleMatches({ level: 'Request', resources: [{ group: 'apps' }] }, ev({ resource: 'deployments', group: 'apps', sub: 'scale' })));
  assert.ok(!ruleMatches({ level: 'Request', resources: [{ group: 'apps' }] }, ev({ resource: 'pods' })));
});

test('namespaces: "" selects cluster scope; resource rules never match non-resource requests', () => {
  const r: PolicyRule = { level: 'Request', namespaces: ['kube-system'] };
  assert.ok(ruleMatches(r, ev({ resource: 'configmaps', ns: 'kube-system' })));
  assert.ok(!ruleMatches(r, ev({ resource: 'configmaps', ns: 'kube-public' })));
  assert.ok(!ruleMatches(r, ev({ resource: 'nodes' })));
  assert.ok(ruleMatches({ level: 'Request', namespaces: [''] }, ev({ resource: 'nodes' })));
  assert.ok(!ruleMatches({ level: 'Request', namespaces: [''] }, ev({ resource: 'pods', ns: 'a' })));
  assert.ok(!ruleMatches(r, ev({ uri: '/api' })));
  assert.ok(!ruleMatches({ level: 'Request', resources: [{ group: '' }] }, ev({ uri: '/api' })));
});

test('nonResourceURLs: exact paths, trailing "*", query ignored, never a resource request', () => {
  const r: PolicyRule = { level: 'None', nonResourceURLs: ['/healthz*', '/version'] };
  assert.ok(ruleMatches(r, ev({ uri: '/healthz' })));
  assert.ok(ruleMatches(r, ev({ uri: '/healthz/etcd?verbose=1' })));
  assert.ok(ruleMatches(r, ev({ uri: '/version' })));
  assert.ok(!ruleMatches(r, ev({ uri: '/version/x' })));
  assert.ok(!ruleMatches(r, ev({ uri: '/livez' })));
  assert.ok(!ruleMatches(r, ev({ resource: 'pods', uri: '/healthz' })));
  assert.ok(ruleMatches({ level: 'None', nonResourceURLs: ['*'] }, ev({ uri: '/openapi/v2' })));
});

test('renderAtLevel drops bodies as the apiserver does and sets level, without mutating', () => {
  const e = ev({ resource: 'pods', ns: 'a', name: 'x' });
  assert.equal(renderAtLevel(e, 'None'), undefined);
  const md = renderAtLevel(e, 'Metadata')!;
  assert.equal(md.level, 'Metadata');
  assert.ok(!('requestObject' in md) && !('responseObject' in md));
  assert.deepEqual(md.objectRef, e.objectRef);
  assert.deepEqual(md.annotations, e.annotations);
  const rq = renderAtLevel(e, 'Request')!;
  assert.equal(rq.level, 'Request');
  assert.deepEqual(rq.requestObject, e.requestObject);
  assert.ok(!('responseObject' in rq));
  const rr = renderAtLevel(e, 'RequestResponse')!;
  assert.deepEqual(rr, e);
  assert.equal(e.level, 'RequestResponse');
  assert.ok(e.responseObject, 'input untouched');
  const noMf = renderAtLevel(e, 'Request', { omitManagedFields: true })!;
  assert.equal(noMf.requestObject.metadata.managedFields, undefined);
  assert.ok(e.requestObject.metadata.managedFields);
});

test('applyPolicy: level, policy and rule omitStages', () => {
  const p: Policy = { omitStages: ['RequestReceived'], rules: [{ level: 'Metadata', verbs: ['watch'], omitStages: ['ResponseStarted'] }, { level: 'Request' }] };
  assert.equal(applyPolicy(p, ev({ resource: 'pods', stage: 'RequestReceived' })), undefined);
  assert.equal(applyPolicy(p, ev({ resource: 'pods', verb: 'watch', stage: 'ResponseStarted' })), undefined);
  assert.equal(applyPolicy(p, ev({ resource: 'pods', verb: 'get', stage: 'ResponseStarted' }))!.level, 'Request');
  assert.equal(applyPolicy(p, ev({ resource: 'pods', verb: 'watch' }))!.level, 'Metadata');
  assert.equal(applyPolicy({ rules: [{ level: 'None' }] }, ev({ resource: 'pods' })), undefined);
});

test('kubeadm-gke-default: secrets/configmaps/tokens at Metadata, reads at Request, writes RequestResponse, noise dropped', () => {
  const p = POLICIES['kubeadm-gke-default']!;
  const lv = (x: Parameters<typeof ev>[0]) => evaluatePolicy(p, ev(x));
  assert.equal(lv({ resource: 'secrets', verb: 'list', ns: 'a' }), 'Metadata');
  assert.equal(lv({ resource: 'configmaps', verb: 'create', ns: 'a' }), 'Metadata');
  assert.equal(lv({ resource: 'serviceaccounts', sub: 'token', verb: 'create', ns: 'a' }), 'Metadata');
  assert.equal(lv({ resource: 'serviceaccounts', verb: 'create', ns: 'a' }), 'RequestResponse');
  assert.equal(lv({ resource: 'tokenreviews', group: 'authentication.k8s.io', verb: 'create' }), 'Metadata');
  assert.equal(lv({ resource: 'deployments', group: 'apps', verb: 'get', ns: 'a' }), 'Request');
  assert.equal(lv({ resource: 'deployments', group: 'apps', verb: 'patch', ns: 'a' }), 'RequestResponse');
  assert.equal(lv({ resource: 'widgets', group: 'example.com', verb: 'create', ns: 'a' }), 'Metadata', 'custom groups are not known APIs');
  assert.equal(lv({ resource: 'events', verb: 'create', ns: 'a' }), 'None');
  assert.equal(lv({ resource: 'events', group: 'events.k8s.io', verb: 'create', ns: 'a' }), 'RequestResponse', 'only core events are dropped');
  assert.equal(lv({ resource: 'nodes', verb: 'get', groups: ['system:nodes'] }), 'None');
  assert.equal(lv({ resource: 'nodes', verb: 'list', groups: ['system:nodes'] }), 'Request');
  assert.equal(lv({ resource: 'nodes', sub: 'status', verb: 'patch', user: 'system:node:n1', groups: ['system:nodes'] }), 'Request');
  assert.equal(lv({ resource: 'endpoints', verb: 'watch', user: 'system:kube-proxy' }), 'None');
  assert.equal(lv({ resource: 'endpoints', verb: 'list', user: 'system:kube-proxy' }), 'Request');
  assert.equal(lv({ resource: 'namespaces', verb: 'get', user: 'system:apiserver' }), 'None');
  assert.equal(lv({ uri: '/healthz/ready' }), 'None');
  assert.equal(lv({ uri: '/apis/apps/v1' }), 'Metadata');
  assert.equal(applyPolicy(p, ev({ resource: 'pods', ns: 'a', stage: 'RequestReceived' })), undefined);
});

test('k8s-docs-example: the documented rules in order', () => {
  const p = POLICIES['k8s-docs-example']!;
  const lv = (x: Parameters<typeof ev>[0]) => evaluatePolicy(p, ev(x));
  assert.equal(lv({ resource: 'pods', verb: 'create', ns: 'a' }), 'RequestResponse');
  assert.equal(lv({ resource: 'pods', sub: 'log', ns: 'a' }), 'Metadata');
  assert.equal(lv({ resource: 'pods', sub: 'exec', verb: 'create', ns: 'a' }), 'Request', 'other core subresources fall to the core rule');
  assert.equal(lv({ resource: 'configmaps', name: 'controller-leader', verb: 'update', ns: 'a' }), 'None');
  assert.equal(lv({ resource: 'configmaps', verb: 'update', name: 'other', ns: 'kube-system' }), 'Request');
  assert.equal(lv({ resource: 'configmaps', verb: 'update', name: 'other', ns: 'a' }), 'Metadata');
  assert.equal(lv({ resource: 'endpoints', verb: 'watch', user: 'system:kube-proxy' }), 'None');
  assert.equal(lv({ uri: '/apis/apps/v1' }), 'None');
  assert.equal(lv({ uri: '/apis', groups: [] }), 'Metadata', 'only authenticated users\' discovery is dropped');
  assert.equal(lv({ uri: '/openapi/v2' }), 'Metadata');
  assert.equal(lv({ resource: 'deployments', group: 'apps', verb: 'create', ns: 'a' }), 'Metadata');
  assert.equal(applyPolicy(p, ev({ resource: 'deployments', group: 'apps', verb: 'create', ns: 'a', stage: 'RequestReceived' })), undefined);
});

test('policyByName: names and level aliases; unknown names fail clearly', () => {
  assert.equal(policyByName('metadata'), POLICIES.metadata);
  assert.equal(policyByName('RequestResponse'), POLICIES['request-response']);
  assert.equal(policyByName('Request'), POLICIES.request);
  assert.throws(() => policyByName('verbose'), /unknown audit policy "verbose".*kubeadm-gke-default/);
  for (const [lvl, name] of [['Metadata', 'metadata'], ['Request', 'request'], ['RequestResponse', 'request-response']] as const) {
    assert.equal(evaluatePolicy(POLICIES[name]!, ev({ uri: '/api' })), lvl);
    assert.equal(evaluatePolicy(POLICIES[name]!, ev({ resource: 'secrets' })), lvl);
  }
});
