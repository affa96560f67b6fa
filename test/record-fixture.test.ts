import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { deriveTruth } from '../src/record/truth.ts';
import type { AuditEvent } from '../src/types/audit.ts';

// A real recording (kube-apiserver v1.37.2, kwok nodes): bob creates a namespace, then a
// Deployment of 4 replicas, then starts `kubectl rollout status`; 90 events from 2 s before the
// first command to 6 s after the second.
const events = gunzipSync(readFileSync('test/fixtures/record/deployment-create.jsonl.gz')).toString().trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
const steps = (JSON.parse(readFileSync('test/fixtures/record/deployment-create.steps.json', 'utf8')) as { id: string; user: string; start: string; end: string }[])
  .map((s) => ({ action: `r01/${s.id}`, user: s.user, start: Date.parse(s.start), end: Date.parse(s.end) }));

test('truth on a real recording: the namespace and Deployment cascades, and nothing else', () => {
  const truth = deriveTruth(events, steps);
  const key = (e: AuditEvent) => `${e.user.username.replace('system:serviceaccount:kube-system:', 'sa:')} ${e.verb} ${e.objectRef?.resource ?? e.requestURI.split('?')[0]}${e.objectRef?.subresource ? '/' + e.objectRef.subresource : ''}`;
  const by = (pred: (tier: string, action: string | null) => boolean) => events.filter((e) => { const t = truth.get(e.auditID)!; return pred(t.tier, t.action); });
  const count = (list: AuditEvent[]) => { const m: Record<string, number> = {}; for (const e of list) m[key(e)] = (m[key(e)] ?? 0) + 1; return m; };

  assert.deepEqual(count(by((t, a) => t === 'own' && a !== 'r01/s03')), { 'bob create namespaces': 1, 'bob create deployments': 1 });
  assert.deepEqual(count(by((t, a) => t === 'own' && a === 'r01/s03')), { 'bob get deployments': 1, 'bob watch deployments': 2 });
  assert.deepEqual(count(by((t, a) => t === 'discovery' && a === 'r01/s03')), { 'bob get /api': 1, 'bob get /apis': 1 }, 'kubectl\'s discovery before the command');
  assert.deepEqual(count(by((t) => t === 'discovery')), { 'bob get /api': 1, 'bob get /apis': 1 });
  assert.deepEqual(count(by((t, a) => t === 'cascade' && a === 'r01/s01')), { 'sa:service-account-controller create serviceaccounts': 1, 'sa:root-ca-cert-publisher create configmaps': 1 });
  const s2 = count(by((t, a) => t === 'cascade' && a === 'r01/s02'));
  assert.equal(s2['sa:deployment-controller create replicasets'], 1);
  assert.equal(s2['sa:replicaset-controller create pods'], 4);
  assert.equal(s2['system:kube-scheduler create pods/binding'], 4, 'every binding, found by the pod name');
  assert.equal(s2['kwok-controller patch pods/status'] >= 4, true, 'kwok marks every pod running');
  assert.equal(s2['system:apiserver list limitranges'], 1, 'LimitRanger admission of the pods');
  assert.ok(s2['sa:replicaset-controller create events']! >= 4 && s2['system:kube-scheduler create events']! >= 4);
  // background: leader-election and node leases, openapi, the controller-manager's own credentials
  const bg = count(by((t) => t === 'background'));
  for (const k of Object.keys(bg)) assert.match(k, /update leases|get \/openapi\/v3|(get|create) serviceaccounts(\/token)?$/, k);
  assert.ok(bg['kwok-controller update leases']! >= 10);
});
