import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { assignRuns, listRuns, loadRun, writeRun, type RunWindow } from '../src/record/corpus.ts';
import { POLICIES } from '../src/k8s/audit-policy.ts';
import type { TruthRow } from '../src/record/truth.ts';
import type { AuditEvent } from '../src/types/audit.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
function ev(id: string, ms: number, user: string, verb: string, ref: AuditEvent['objectRef'], bodies = true, groups = ['system:authenticated']): AuditEvent {
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: id, stage: 'ResponseComplete', requestURI: ref ? `/api/v1/namespaces/${ref.namespace}/${ref.resource}` : '/api',
    verb, user: { username: user, groups }, objectRef: ref, responseStatus: { code: 200 }, requestReceivedTimestamp: at(ms), stageTimestamp: at(ms + 3),
    ...(bodies ? { requestObject: { kind: 'X', metadata: { name: 'n' } }, responseObject: { kind: 'X', metadata: { name: 'n', uid: 'u', managedFields: [{}] } } } : {}),
  };
}

const w = (run: string, s: number, e: number): RunWindow => ({ run, scenario: 'demo', seed: 1, overlap: false, start: at(s), end: at(e), steps: [{ id: 's01', user: 'alice', command: 'kubectl get pods', start: at(s + 10), end: at(s + 20), exitCode: 0 }] });

test('corpus: runs take their actions\' events, background by time window, setup cascades become background', () => {
  const windows = [w('r01-demo', 1000, 2000), w('r02-demo', 2000, 3000)];
  const events = [
    ev('setup', 500, 'admin', 'create', { resource: 'namespaces' }),
    ev('a', 1010, 'alice', 'get', { resource: 'pods', namespace: 'x' }),
    ev('late-cascade', 2100, 'system:x', 'update', { resource: 'pods', namespace: 'x' }),
    ev('bg', 2200, 'system:kube-scheduler', 'update', { resource: 'leases', namespace: 'kube-system' }),
    ev('setup-tail', 1100, 'kwok-controller', 'update', { resource: 'nodes' }),
    ev('after', 9000, 'system:x', 'get', undefined),
  ];
  const truth = new Map<string, TruthRow>([
    ['setup', { auditID: 'setup', action: 'setup/s01', tier: 'own', user: 'admin' }],
    ['a', { auditID: 'a', action: 'r01-demo/s01', tier: 'own', user: 'alice' }],
    ['late-cascade', { auditID: 'late-cascade', action: 'r01-demo/s01', tier: 'cascade', user: 'alice' }],
    ['bg', { auditID: 'bg', action: null, tier: 'background', user: 'system:kube-scheduler' }],
    ['setup-tail', { auditID: 'setup-tail', action: 'setup/s01', tier: 'cascade', user: 'admin' }],
  ]);
  const per = assignRuns(events, truth, windows);
  assert.deepEqual(per.get('r01-demo')!.map((e) => e.auditID), ['a', 'late-cascade', 'setup-tail']);
  assert.deepEqual(per.get('r02-demo')!.map((e) => e.auditID), ['bg']);
});

test('corpus: a written run loads back, rendered at every level from the same events and truth', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-corpus-'));
  try {
    const events = [
      ev('a', 1010, 'alice', 'create', { resource: 'configmaps', namespace: 'team' }),
      ev('b', 1012, 'alice', 'get', { resource: 'pods', namespace: 'team' }),
      ev('c', 1015, 'alice', 'get', undefined),
      ev('d', 1100, 'system:kube-scheduler', 'create', { resource: 'events', namespace: 'team' }),
    ];
    const truth = new Map<string, TruthRow>(events.map((e, i) => [e.auditID, { auditID: e.auditID, action: i < 3 ? 'r01-demo/s01' : null, tier: i < 3 ? 'own' : 'background', user: e.user.username } as TruthRow]));
    const runDir = path.join(dir, 'r01-demo');
    const m = await writeRun(runDir, w('r01-demo', 1000, 2000), events, truth, { kubernetesVersion: 'v1.37.2', versions: {}, nodes: 3 });
    assert.deepEqual(m.counts, { events: 4, requests: 4, own: 3, cascade: 0, background: 1, steps: 1 });
    const lines = gunzipSync(readFileSync(path.join(runDir, 'truth.jsonl.gz'))).toString().trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(Object.keys(lines[0]), ['auditID', 'action', 'tier', 'user']);
    assert.deepEqual(listRuns(dir), [runDir]);

    const rr = await loadRun(runDir);
    assert.equal(rr.events.length, 4);
    assert.ok(rr.events[0]!.responseObject);
    assert.equal(rr.truth.get('d')!.tier, 'background');

    const meta = await loadRun(runDir, POLICIES.metadata);
    assert.equal(meta.events.length, 4);
    assert.ok(meta.events.every((e) => e.level === 'Metadata' && e.requestObject === undefined && e.responseObject === undefined));

    const req = await loadRun(runDir, POLICIES.request);
    assert.ok(req.events.every((e) => e.level === 'Request' && e.requestObject && e.responseObject === undefined));

    // the GKE-style policy: configmaps at Metadata, reads of built-in APIs at Request, Events dropped, /api at Metadata
    const gke = await loadRun(runDir, POLICIES['kubeadm-gke-default']);
    const lv = Object.fromEntries(gke.events.map((e) => [e.auditID, e.level]));
    assert.deepEqual(lv, { a: 'Metadata', b: 'Request', c: 'Metadata' });
    assert.equal(gke.truth.size, 4, 'truth is the same at every level');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
