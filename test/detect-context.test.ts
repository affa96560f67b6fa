/**
 * Context-aware (stateful) detections: each fires on its attack sequence and stays quiet on the
 * benign look-alike. Sequences go through the real clusterer with the engine observing every
 * event first (as the pipeline wires it), and the assertions read the stored context documents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContextDoc } from '../src/types/context.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';
import { createClusterer, replay } from '../src/cluster/index.ts';
import { createDetectionEngine, observeBefore, CORRELATION_PARAMS, type DetectionEngine } from '../src/detect/index.ts';
import { ev, type EvSpec } from './cluster-fixtures.ts';

const T0 = Date.UTC(2026, 0, 1, 9);
const MIN = 60_000;
const RBAC = 'rbac.authorization.k8s.io';

async function run(events: LabeledEvent[], engine: DetectionEngine = createDetectionEngine()): Promise<ContextDoc[]> {
  const sorted = [...events].sort((a, b) => a.time - b.time);
  const docs = await replay(sorted, { clusterer: observeBefore(createClusterer({ detections: engine }), engine) });
  return [...docs.values()];
}

/** Contexts carrying detection `name`, with the auditIDs it points at. */
function withDetection(docs: ContextDoc[], name: string): Array<{ doc: ContextDoc; auditIDs: string[] }> {
  return docs.flatMap((doc) => (doc.detections ?? []).filter((d) => d.name === name).map((d) => ({ doc, auditIDs: d.auditIDs })));
}

const e = (label: string, s: EvSpec) => ev({ ...s, label });
const privilegedPod = { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] };
const plainPod = { containers: [{ name: 'c', image: 'nginx' }] };
const createPod = (t: number, user: string, ns: string, name: string, spec: unknown) =>
  e('create pods', { time: t, user, verb: 'create', code: 201, ref: { resource: 'pods', namespace: ns, name }, requestObject: { metadata: { name, namespace: ns }, spec } });
const execPod = (t: number, user: string, ns: string, name: string, id?: string) =>
  e('create pods/exec', { time: t, user, verb: 'create', code: 101, ref: { resource: 'pods', subresource: 'exec', namespace: ns, name }, id });

test('exec into a pod created privileged: fires across users and contexts; not for an ordinary pod or a reused name', async () => {
  const attack = await run([
    createPod(T0, 'alice', 'shop', 'debug', privilegedPod),
    execPod(T0 + 30 * MIN, 'bob', 'shop', 'debug', 'exec-1'),
  ]);
  const hits = withDetection(attack, 'exec-into-privileged-pod');
  assert.equal(hits.length, 1);
  assert.deepEqual(hits[0]!.auditIDs, ['exec-1']);
  assert.equal(hits[0]!.doc.trigger.user, 'bob');
  assert.equal(hits[0]!.doc.detections![0]!.severity, 'critical', 'most severe first');
  // a sensitive hostPath mount counts too
  const mount = await run([
    createPod(T0, 'alice', 'shop', 'agent', { containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'h', hostPath: { path: '/var/run/docker.sock' } }] }),
    execPod(T0 + MIN, 'alice', 'shop', 'agent'),
  ]);
  assert.equal(withDetection(mount, 'exec-into-privileged-pod').length, 1);

  const benign = await run([
    createPod(T0, 'alice', 'shop', 'web', plainPod),
    execPod(T0 + MIN, 'bob', 'shop', 'web'),
    // the name of a privileged pod, reused by an ordinary one
    createPod(T0 + 2 * MIN, 'alice', 'shop', 'job', privilegedPod),
    createPod(T0 + 5 * MIN, 'alice', 'shop', 'job', plainPod),
    execPod(T0 + 6 * MIN, 'bob', 'shop', 'job'),
    // same name, other namespace
    createPod(T0 + 7 * MIN, 'alice', 'ops', 'debug', privilegedPod),
    execPod(T0 + 8 * MIN, 'bob', 'shop', 'debug'),
  ]);
  assert.equal(withDetection(benign, 'exec-into-privileged-pod').length, 0);
  assert.ok(withDetection(benign, 'attach-exec-pod').length >= 1, 'the plain exec is still tagged by the Falco rule');
});

const getSecret = (t: number, user: string, ns: string, code: number, id?: string) =>
  e('get-list secrets', { time: t, user, verb: 'get', code, ref: { resource: 'secrets', namespace: ns, name: 'db' }, id });

test('burst of 403s then a success on the same resource by the same user: fires; fewer 403s or no success do not', async () => {
  const { forbidden } = CORRELATION_PARAMS.forbiddenProbe;
  const probe = Array.from({ length: forbidden }, (_, i) => getSecret(T0 + i * 10_000, 'mallory', `ns${i}`, 403));
  const attack = await run([...probe, getSecret(T0 + 2 * MIN, 'mallory', 'ns9', 200, 'win')]);
  const hits = withDetection(attack, 'forbidden-probe-then-success');
  assert.equal(hits.length, 1);
  assert.deepEqual(hits[0]!.auditIDs, ['win']);

  const fewer = await run([
    ...Array.from({ length: forbidden - 1 }, (_, i) => getSecret(T0 + i * 10_000, 'alice', `ns${i}`, 403)),
    getSecret(T0 + 2 * MIN, 'alice', 'ns9', 200),
    // many 403s, never a success
    ...Array.from({ length: forbidden + 3 }, (_, i) => getSecret(T0 + 3 * MIN + i * 10_000, 'carol', `ns${i}`, 403)),
    // many 403s of another user, then a success of this one
    ...Array.from({ length: forbidden }, (_, i) => getSecret(T0 + 6 * MIN + i * 10_000, 'dave', `ns${i}`, 403)),
    getSecret(T0 + 8 * MIN, 'erin', 'ns1', 200),
  ]);
  assert.equal(withDetection(fewer, 'forbidden-probe-then-success').length, 0);
  // the burst must be recent: the same probe spread over more than the window
  const slow = await run([
    ...Array.from({ length: forbidden }, (_, i) => getSecret(T0 + i * 5 * MIN, 'frank', `ns${i}`, 403)),
    getSecret(T0 + forbidden * 5 * MIN, 'frank', 'ns9', 200),
  ]);
  assert.equal(withDetection(slow, 'forbidden-probe-then-success').length, 0);
});

const bind = (t: number, by: string, role: string, subject: Record<string, string>, kind = 'clusterrolebindings') =>
  e(`create ${RBAC}/${kind} (cluster)`, {
    time: t, user: by, verb: 'create', code: 201, ref: { apiGroup: RBAC, resource: kind, name: `b-${t}` },
    requestObject: { metadata: { name: `b-${t}` }, roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role }, subjects: [subject] },
  });
const listPods = (t: number, user: string, id?: string, groups?: string[]) =>
  e('get-list-collection pods', { time: t, user, groups, verb: 'list', code: 200, ref: { resource: 'pods', namespace: 'shop' }, id });

test('a binding to cluster-admin (or a wildcard role) followed by actions of the bound subject: fires; unused or harmless bindings do not', async () => {
  const attack = await run([
    bind(T0, 'alice', 'cluster-admin', { kind: 'User', name: 'mallory', apiGroup: RBAC }),
    listPods(T0 + 5 * MIN, 'mallory', 'use-1'),
  ]);
  const hits = withDetection(attack, 'cluster-admin-binding-then-use');
  assert.equal(hits.length, 1);
  assert.deepEqual(hits[0]!.auditIDs, ['use-1']);
  assert.equal(withDetection(attack, 'attach-to-cluster-admin-role').length, 1, 'the binding itself is the Falco rule');

  // a role with wildcard rules, bound to a group, used by a member of the group
  const wildcard = await run([
    e(`create ${RBAC}/clusterroles (cluster)`, { time: T0, user: 'alice', verb: 'create', code: 201, ref: { apiGroup: RBAC, resource: 'clusterroles', name: 'god' },
      requestObject: { metadata: { name: 'god' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } }),
    bind(T0 + MIN, 'alice', 'god', { kind: 'Group', name: 'contractors', apiGroup: RBAC }),
    listPods(T0 + 3 * MIN, 'mallory', 'use-2', ['contractors', 'system:authenticated']),
  ]);
  assert.deepEqual(withDetection(wildcard, 'cluster-admin-binding-then-use').map((h) => h.auditIDs), [['use-2']]);
  // an operator bound to cluster-admin and then busy: only its first request is reported
  const busy = await run([
    bind(T0, 'alice', 'cluster-admin', { kind: 'ServiceAccount', name: 'op', namespace: 'ops' }),
    ...Array.from({ length: 20 }, (_, i) => listPods(T0 + (i + 1) * 30_000, 'system:serviceaccount:ops:op', `op-${i}`)),
  ]);
  assert.deepEqual(withDetection(busy, 'cluster-admin-binding-then-use').flatMap((h) => h.auditIDs), ['op-0']);

  const benign = await run([
    bind(T0, 'alice', 'cluster-admin', { kind: 'User', name: 'breakglass', apiGroup: RBAC }), // never used
    bind(T0 + MIN, 'alice', 'view', { kind: 'User', name: 'bob', apiGroup: RBAC }),
    listPods(T0 + 2 * MIN, 'bob'),
    listPods(T0 + 3 * MIN, 'carol'),
  ]);
  assert.equal(withDetection(benign, 'cluster-admin-binding-then-use').length, 0);
});

test('secrets read across many namespaces by one user: fires; a few namespaces or many users do not', async () => {
  const { namespaces } = CORRELATION_PARAMS.secretsSweep;
  const sweep = Array.from({ length: namespaces }, (_, i) => getSecret(T0 + i * 20_000, 'eve', `team${i}`, 200, `s${i}`));
  const attack = await run(sweep);
  const hits = withDetection(attack, 'secrets-across-namespaces');
  assert.ok(hits.length >= 1);
  assert.ok(hits.flatMap((h) => h.auditIDs).includes(`s${namespaces - 1}`), 'fires at the namespace that completes the sweep');
  // one request: kubectl get secrets -A
  const all = await run([e('get-list-collection secrets (cluster)', { time: T0, user: 'eve', verb: 'list', code: 200, ref: { resource: 'secrets' }, id: 'all' })]);
  assert.deepEqual(withDetection(all, 'secrets-across-namespaces').map((h) => h.auditIDs), [['all']]);

  const benign = await run([
    ...Array.from({ length: namespaces - 1 }, (_, i) => getSecret(T0 + i * 20_000, 'alice', `team${i}`, 200)),
    ...Array.from({ length: 10 }, (_, i) => getSecret(T0 + 3 * MIN + i * 5_000, 'bob', 'shop', 200)),
    ...Array.from({ length: namespaces }, (_, i) => getSecret(T0 + 5 * MIN + i * 5_000, `user${i}`, `team${i}`, 200)),
    // helm's release lookups in every release namespace (helmfile sync of many charts)
    ...Array.from({ length: namespaces + 2 }, (_, i) => {
      const x = e('get-list-collection secrets', { time: T0 + 6 * MIN + i * 2_000, user: 'kubernetes-admin', verb: 'list', code: 200, userAgent: 'helm/v3.14.0',
        ref: { resource: 'secrets', namespace: `chart${i}` } });
      x.audit.requestURI = `/api/v1/namespaces/chart${i}/secrets?labelSelector=name%3Dchart${i}%2Cowner%3Dhelm`;
      return x;
    }),
    // an operator's informer lists secrets cluster-wide (kube-state-metrics, cert-manager, ...)
    e('get-list-collection secrets (cluster)', { time: T0 + 7 * MIN, user: 'system:serviceaccount:monitoring:kube-state-metrics', verb: 'list', code: 200,
      ref: { resource: 'secrets' }, userAgent: 'kube-state-metrics/v2.10.0 (linux/amd64) kubernetes/abc' }),
  ]);
  assert.equal(withDetection(benign, 'secrets-across-namespaces').length, 0);
});

const SA = 'system:serviceaccount:ci:deployer';
const saCall = (t: number, ip: string, id?: string) =>
  e('get-list apps/deployments', { time: t, user: SA, verb: 'get', code: 200, ref: { apiGroup: 'apps', resource: 'deployments', namespace: 'ci', name: 'app' }, sourceIPs: [ip], userAgent: 'deployer/1.0', id });
const tokenRequest = (t: number, user: string, ua = 'kubectl/v1.30.2 (linux/amd64) kubernetes/abc') =>
  e('create serviceaccounts/token', { time: t, user, verb: 'create', code: 201, ref: { resource: 'serviceaccounts', subresource: 'token', namespace: 'ci', name: 'deployer' }, userAgent: ua });

test('a token requested for a service account, then its use from a new source IP: fires; kubelet tokens and known IPs do not', async () => {
  const attack = await run([
    saCall(T0, '10.1.0.7'),
    tokenRequest(T0 + MIN, 'mallory'),
    saCall(T0 + 5 * MIN, '203.0.113.9', 'stolen'),
  ]);
  assert.deepEqual(withDetection(attack, 'token-used-from-new-ip').map((h) => h.auditIDs), [['stolen']]);

  const benign = await run([
    saCall(T0, '10.1.0.7'),
    tokenRequest(T0 + MIN, 'system:node:worker-1', 'kubelet/v1.30.2 (linux/amd64) kubernetes/abc'), // a pod starting
    saCall(T0 + 2 * MIN, '10.1.0.8'), // the new pod's IP
    tokenRequest(T0 + 3 * MIN, 'alice'),
    saCall(T0 + 4 * MIN, '10.1.0.7'), // a known address
    saCall(T0 + 3 * 60 * MIN, '198.51.100.1'), // long after the person's token expired
  ]);
  assert.equal(withDetection(benign, 'token-used-from-new-ip').length, 0);
});

const deleteWebhook = (t: number, user: string, id?: string) =>
  e(`delete admissionregistration.k8s.io/validatingwebhookconfigurations (cluster)`, {
    time: t, user, verb: 'delete', code: 200, ref: { apiGroup: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', name: 'kyverno-resource' }, id,
  });

test("a person's deletion of webhooks/policies/RBAC after a flagged action: fires; the same deletion without one does not", async () => {
  const attack = await run([
    createPod(T0, 'mallory', 'shop', 'miner', privilegedPod), // create-privileged-pod (medium)
    deleteWebhook(T0 + 10 * MIN, 'mallory', 'cleanup'),
    // an RBAC object someone else created long ago
    e(`delete ${RBAC}/clusterrolebindings (cluster)`, { time: T0 + 11 * MIN, user: 'mallory', verb: 'delete', code: 200,
      ref: { apiGroup: RBAC, resource: 'clusterrolebindings', name: 'security-auditors' }, id: 'cleanup-2' }),
  ]);
  const hits = withDetection(attack, 'audit-evasion-after-flagged-action');
  assert.deepEqual(hits.flatMap((h) => h.auditIDs).sort(), ['cleanup', 'cleanup-2']);

  const benign = await run([
    // alice is not in allowed_k8s_users (disallowed-k8s-user fires on everything she does): that is who she is, not a flagged action
    e('get-list pods', { time: T0, user: 'alice', verb: 'get', code: 200, ref: { resource: 'pods', namespace: 'shop', name: 'web' } }),
    deleteWebhook(T0 + MIN, 'alice'),
    // a flagged action by someone else
    createPod(T0 + 2 * MIN, 'mallory', 'shop', 'miner', privilegedPod),
    deleteWebhook(T0 + 3 * MIN, 'bob'),
    // a flagged action long before
    createPod(T0 + 4 * MIN, 'carol', 'shop', 'miner2', privilegedPod),
    deleteWebhook(T0 + 4 * MIN + 2 * 60 * MIN, 'carol'),
    // helm's hook cleanup: the release's own admission RBAC, created and deleted by the same install
    createPod(T0 + 3 * 60 * MIN, 'kubernetes-admin', 'kube-system', 'hook', privilegedPod),
    e(`create ${RBAC}/roles`, { time: T0 + 3 * 60 * MIN + 1000, user: 'kubernetes-admin', verb: 'create', code: 201, userAgent: 'helm/v3.14.0',
      ref: { apiGroup: RBAC, resource: 'roles', namespace: 'mon', name: 'my-admission' } }),
    e(`delete ${RBAC}/roles`, { time: T0 + 3 * 60 * MIN + 30_000, user: 'kubernetes-admin', verb: 'delete', code: 200, userAgent: 'helm/v3.14.0',
      ref: { apiGroup: RBAC, resource: 'roles', namespace: 'mon', name: 'my-admission' } }),
    // helm's before-hook-creation: a hook's RBAC from an earlier install deleted and created again at once
    e(`delete ${RBAC}/rolebindings`, { time: T0 + 3 * 60 * MIN + 40_000, user: 'kubernetes-admin', verb: 'delete', code: 200, userAgent: 'helm/v3.14.0',
      ref: { apiGroup: RBAC, resource: 'rolebindings', namespace: 'mon', name: 'startupapicheck' } }),
    e(`create ${RBAC}/rolebindings`, { time: T0 + 3 * 60 * MIN + 41_000, user: 'kubernetes-admin', verb: 'create', code: 201, userAgent: 'helm/v3.14.0',
      ref: { apiGroup: RBAC, resource: 'rolebindings', namespace: 'mon', name: 'startupapicheck' } }),
  ]);
  assert.equal(withDetection(benign, 'audit-evasion-after-flagged-action').length, 0);
});

test('context detections and the contexts they land on: forbidden-burst over the summary, most severe first', async () => {
  const docs = await run([
    e('create apps/deployments', { time: T0, user: 'alice', verb: 'create', code: 403, ref: { apiGroup: 'apps', resource: 'deployments', namespace: 'shop', name: 'a' } }),
    e('create apps/deployments', { time: T0 + 200, user: 'alice', verb: 'create', code: 403, ref: { apiGroup: 'apps', resource: 'deployments', namespace: 'shop', name: 'a' } }),
    e('create apps/deployments', { time: T0 + 400, user: 'alice', verb: 'create', code: 403, ref: { apiGroup: 'apps', resource: 'deployments', namespace: 'shop', name: 'a' } }),
  ]);
  const burst = docs.filter((d) => (d.detections ?? []).some((x) => x.name === 'forbidden-burst'));
  assert.equal(burst.length, 1);
  assert.deepEqual(burst[0]!.detections!.find((x) => x.name === 'forbidden-burst')!.auditIDs, [burst[0]!.trigger.auditID]);
  const sev = burst[0]!.detections!.map((x) => x.severity);
  const rank = ['info', 'low', 'medium', 'high', 'critical'];
  assert.deepEqual([...sev].sort((a, b) => rank.indexOf(b) - rank.indexOf(a)), sev);
  assert.ok(burst[0]!.flags.includes('forbidden-burst'), 'the fixed flags are unchanged');
});

test('event detections computed before the clusterer strips bodies survive into the context', async () => {
  const docs = await run([e('create configmaps', { time: T0, user: 'alice', verb: 'create', code: 201, ref: { resource: 'configmaps', namespace: 'shop', name: 'cfg' },
    requestObject: { data: { 'db.conf': 'password=hunter2' } }, id: 'cm' })]);
  assert.deepEqual(withDetection(docs, 'configmap-private-credentials').map((h) => h.auditIDs), [['cm']]);
  // summarizing the stripped event alone (no engine saw its body) cannot find it
  const { summarize } = await import('../src/cluster/summary.ts');
  const stripped = e('create configmaps', { time: T0, user: 'alice', verb: 'create', code: 201, ref: { resource: 'configmaps', namespace: 'shop', name: 'cfg' } });
  assert.ok(!names(summarize('x', [stripped], 'closed')).includes('configmap-private-credentials'));
});
const names = (d: ContextDoc) => (d.detections ?? []).map((x) => x.name);

test('correlation memory survives a restart through the checkpoint: a privileged pod created before it, the exec after it still fires; re-sent events are not counted twice', async () => {
  // first life: the privileged pod and 403 probes (5 of the burst before the restart)
  const first = createDetectionEngine();
  const probes = (from: number, n: number, id: string) => Array.from({ length: n }, (_, i) => getSecret(T0 + (from + i) * 1000, 'mallory', `ns${from + i}`, 403, `${id}${from + i}`));
  const before = [createPod(T0, 'alice', 'shop', 'debug', privilegedPod), ...probes(0, 5, 'p')];
  await run(before, first);
  const text = first.snapshot();
  // second life, without the memory: the exec after the restart is not recognised
  assert.equal(withDetection(await run([execPod(T0 + 30 * MIN, 'bob', 'shop', 'debug', 'exec-1')]), 'exec-into-privileged-pod').length, 0, 'without the checkpoint the restart forgets the pod');
  const second = createDetectionEngine();
  // the probes before the restart are re-sent (their unit was not acknowledged): covered, not counted again
  const resent = new Set(before.map((x) => x.audit.auditID));
  assert.equal(second.restore(text, { covered: (id) => resent.has(id) }), true);
  const after = await run([execPod(T0 + 30 * MIN, 'bob', 'shop', 'debug', 'exec-1'), ...probes(0, 5, 'p')], second);
  const hits = withDetection(after, 'exec-into-privileged-pod');
  assert.equal(hits.length, 1, 'the exec into the pod created before the restart fires');
  assert.deepEqual(hits[0]!.auditIDs, ['exec-1']);
  assert.equal(second.state.forbidden.size, first.state.forbidden.size, 'the re-sent probes are the same memory, not new entries');
  assert.deepEqual(second.state.forbidden.dump().map(([k, v]) => [k, v.value]), first.state.forbidden.dump().map(([k, v]) => [k, v.value]), 're-sent events are not counted twice');
  assert.equal(createDetectionEngine().restore('not a checkpoint'), false, 'an unreadable checkpoint is refused');
});
