import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { brotliDecompressSync, gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { assignRuns, compareRuns, listRuns, loadRun, recompressRun, runFile, splitOf, writeRun, writeSplits, type RunWindow } from '../src/record/corpus.ts';
import { recordedCases } from '../src/eval/corpus.ts';
import { trainingEvents } from '../src/record/training.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION } from '../src/types/audit.ts';
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
    assert.deepEqual(m.counts, { events: 4, requests: 4, own: 3, cascade: 0, discovery: 0, background: 1, steps: 1 });
    assert.equal(runFile(runDir, 'truth'), path.join(runDir, 'truth.jsonl.br'));
    const lines = brotliDecompressSync(readFileSync(runFile(runDir, 'truth'))).toString().trim().split('\n').map((l) => JSON.parse(l));
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

test('corpus: runs up to r58 are the train split, later runs the test split', () => {
  assert.equal(splitOf('r01-deployment-lifecycle'), 'train');
  assert.equal(splitOf('r58-helm-lifecycle'), 'train');
  assert.equal(splitOf('r59-config-secrets'), 'test');
  assert.equal(splitOf('r120-kustomize'), 'test');
  assert.equal(splitOf('capture'), 'test');
  assert.deepEqual(['r100-a', 'r9-b', 'r10-c', 'r59-d'].sort(compareRuns), ['r9-b', 'r10-c', 'r59-d', 'r100-a']);
});

/** A small two-run corpus: r58 (train) and r59 (test), each one create by alice plus a background lease. */
async function twoRuns(dir: string): Promise<void> {
  for (const [run, t] of [['r58-demo', 1000], ['r59-demo', 5000]] as const) {
    const events = [
      ev(`${run}-a`, t + 10, 'alice', 'create', { resource: 'configmaps', namespace: 'team', name: 'c' }),
      ev(`${run}-b`, t + 20, 'system:serviceaccount:kube-system:x', 'update', { resource: 'configmaps', namespace: 'team', name: 'c' }),
      ev(`${run}-c`, t + 30, 'system:kube-scheduler', 'update', { resource: 'leases', namespace: 'kube-system', name: 'kube-scheduler', apiGroup: 'coordination.k8s.io' }),
    ];
    const truth = new Map<string, TruthRow>([
      [`${run}-a`, { auditID: `${run}-a`, action: `${run}/s01`, tier: 'own', user: 'alice' }],
      [`${run}-b`, { auditID: `${run}-b`, action: `${run}/s01`, tier: 'cascade', user: 'alice' }],
      [`${run}-c`, { auditID: `${run}-c`, action: null, tier: 'background', user: 'system:kube-scheduler' }],
    ]);
    await writeRun(path.join(dir, run), w(run, t, t + 1000), events, truth, { kubernetesVersion: 'v1.37.2', versions: {}, nodes: 3, kubelets: 'per-node' });
  }
}

test('corpus: manifests and splits.json name each run\'s split; evaluation scores the test split unless told otherwise', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-split-'));
  try {
    await twoRuns(dir);
    const m58 = JSON.parse(readFileSync(path.join(dir, 'r58-demo', 'manifest.json'), 'utf8'));
    assert.equal(m58.split, 'train');
    assert.equal(m58.kubelets, 'per-node');
    const s = writeSplits(dir);
    assert.deepEqual([s.train, s.test, s.events], [['r58-demo'], ['r59-demo'], { train: 3, test: 3 }]);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'splits.json'), 'utf8')).test, ['r59-demo']);
    const actions = async (split?: 'train' | 'test' | 'all') => [...(await (await recordedCases(dir, () => {}, split))[0]!.truth()).actions.keys()].sort();
    assert.deepEqual(await actions(), ['r59-demo/s01']);
    assert.deepEqual(await actions('train'), ['r58-demo/s01']);
    assert.deepEqual(await actions('all'), ['r58-demo/s01', 'r59-demo/s01']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('corpus: training events of the train split carry their action\'s trigger label and context; runs laid end to end', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-train-'));
  try {
    await twoRuns(dir);
    const train = await trainingEvents(dir, 'train');
    assert.deepEqual(train.map((e) => e.auditID), ['r58-demo-a', 'r58-demo-b', 'r58-demo-c']);
    const ann = train.map((e) => [e.annotations?.[TRUTH_LABEL_ANNOTATION], e.annotations?.[TRUTH_CONTEXT_ANNOTATION]]);
    assert.deepEqual(ann[0], ['create configmaps', 'r58-demo/s01']);
    assert.deepEqual(ann[1], ['create configmaps', 'r58-demo/s01'], 'a cascade event carries its trigger\'s label');
    assert.equal(ann[2]![1], 'bg:r58-demo');
    assert.match(String(ann[2]![0]), /^background /);
    const all = await trainingEvents(dir, 'all');
    assert.equal(all.length, 6);
    const t = all.map((e) => Date.parse(e.requestReceivedTimestamp));
    assert.equal(t[3]! - t[2]!, 60_000, 'the next run starts a minute after the previous one ended');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('corpus: a gzip run is recompressed to brotli with the same lines', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-br-'));
  try {
    await twoRuns(dir);
    const run = path.join(dir, 'r59-demo');
    const before = await loadRun(run);
    // the older layout: gzip files
    for (const base of ['audit', 'truth']) {
      const br = path.join(run, `${base}.jsonl.br`);
      writeFileSync(path.join(run, `${base}.jsonl.gz`), gzipSync(brotliDecompressSync(readFileSync(br))));
      rmSync(br);
    }
    assert.equal(runFile(run, 'audit'), path.join(run, 'audit.jsonl.gz'));
    assert.deepEqual((await loadRun(run)).events, before.events, 'gzip runs still load');
    const r = recompressRun(run);
    assert.ok(r.before > 0 && r.after > 0);
    assert.ok(!existsSync(path.join(run, 'audit.jsonl.gz')) && existsSync(path.join(run, 'audit.jsonl.br')));
    const after = await loadRun(run);
    assert.deepEqual(after.events, before.events);
    assert.deepEqual([...after.truth], [...before.truth]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
