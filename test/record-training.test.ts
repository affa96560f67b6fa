import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeRun, type RunWindow } from '../src/record/corpus.ts';
import { labelRun, trainingEvents } from '../src/record/training.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION, type AuditEvent } from '../src/types/audit.ts';
import type { TruthRow } from '../src/record/truth.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
function ev(id: string, ms: number, user: string, verb: string, ref: AuditEvent['objectRef']): AuditEvent {
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: id, stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${ref?.namespace}/${ref?.resource}`, verb, user: { username: user, groups: ['system:authenticated'] }, objectRef: ref,
    responseStatus: { code: 200 }, requestReceivedTimestamp: at(ms), stageTimestamp: at(ms + 3),
    requestObject: { kind: 'X', metadata: { name: 'n' } }, responseObject: { kind: 'X', metadata: { name: 'n', uid: 'u' } },
  };
}
const row = (auditID: string, action: string | null, tier: TruthRow['tier'], user: string): [string, TruthRow] => [auditID, { auditID, action, tier, user }];
const cm = { resource: 'configmaps', namespace: 'team', name: 'c', apiVersion: 'v1' };
const lease = { resource: 'leases', namespace: 'kube-system', name: 'kube-scheduler', apiGroup: 'coordination.k8s.io', apiVersion: 'v1' };

test('training labels: a step\'s own reads and its cascade carry its first own write; a read-only step its first read; discovery and the rest background', () => {
  const events = [
    { ...ev('disc', 5, 'alice', 'get', undefined), requestURI: '/apis/apps/v1' }, // kubectl's discovery before the command
    ev('get', 10, 'alice', 'get', cm), // kubectl apply reads before it writes
    ev('create', 20, 'alice', 'create', cm),
    ev('patch', 25, 'alice', 'patch', cm), // a later write does not replace the first
    ev('ctrl', 30, 'system:serviceaccount:kube-system:x', 'update', cm),
    { ...ev('disc2', 35, 'bob', 'get', undefined), requestURI: '/api/v1' },
    ev('list', 40, 'bob', 'list', { resource: 'pods', namespace: 'team', apiVersion: 'v1' }),
    ev('lease', 50, 'system:kube-scheduler', 'update', lease),
    ev('orphan', 60, 'system:x', 'update', cm), // names an action whose own requests are not in the log
  ];
  const truth = new Map([
    row('disc', 'r01/s01', 'discovery', 'alice'), row('disc2', 'r01/s02', 'own', 'bob'),
    row('get', 'r01/s01', 'own', 'alice'), row('create', 'r01/s01', 'own', 'alice'), row('patch', 'r01/s01', 'own', 'alice'),
    row('ctrl', 'r01/s01', 'cascade', 'alice'), row('list', 'r01/s02', 'own', 'bob'), row('lease', null, 'background', 'system:kube-scheduler'),
    row('orphan', 'r01/s09', 'cascade', 'carol'),
  ]);
  const l = labelRun('r01', events, truth);
  assert.deepEqual(l.get('disc'), { label: 'background discovery', context: 'bg:r01' }, 'discovery is background whoever sends it');
  assert.deepEqual(l.get('disc2'), { label: 'background discovery', context: 'bg:r01' }, 'and never a read-only step\'s trigger');
  assert.deepEqual(l.get('get'), { label: 'create configmaps', context: 'r01/s01' });
  assert.deepEqual(l.get('create'), { label: 'create configmaps', context: 'r01/s01' });
  assert.deepEqual(l.get('patch'), { label: 'create configmaps', context: 'r01/s01' });
  assert.deepEqual(l.get('ctrl'), { label: 'create configmaps', context: 'r01/s01' }, 'a cascade event carries its trigger\'s label');
  assert.deepEqual(l.get('list'), { label: 'get-list-collection pods', context: 'r01/s02' });
  assert.deepEqual(l.get('lease'), { label: 'background lease', context: 'bg:r01' });
  assert.deepEqual(l.get('orphan'), { label: 'background other', context: 'bg:r01' });
  // a discovery-tier row is background to its step even where no inference rule claims the event
  const odd = labelRun('r01', [ev('odd', 7, 'alice', 'get', cm), ...events], new Map([...truth, row('odd', 'r01/s01', 'discovery', 'alice')]));
  assert.equal(odd.get('odd')!.context, 'bg:r01');
  assert.deepEqual(odd.get('get'), { label: 'create configmaps', context: 'r01/s01' }, 'and never its trigger');
  // order of the input does not matter: the trigger is the first own write by time
  assert.deepEqual(labelRun('r01', [...events].reverse(), truth), l);
});

test('training events: each run logged under every requested policy in turn, same labels at every level, laid end to end', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-training-'));
  try {
    const win: RunWindow = { run: 'r77-demo', scenario: 'demo', seed: 1, overlap: false, start: at(0), end: at(1000), steps: [{ id: 's01', user: 'alice', command: 'kubectl create configmap c', start: at(5), end: at(25), exitCode: 0 }] };
    await writeRun(path.join(dir, 'r77-demo'), win, [ev('a', 10, 'alice', 'create', cm), ev('b', 20, 'system:serviceaccount:kube-system:x', 'update', cm)],
      new Map([row('a', 'r77-demo/s01', 'own', 'alice'), row('b', 'r77-demo/s01', 'cascade', 'alice')]), { kubernetesVersion: 'v1.37.2', versions: {}, nodes: 1 });
    const out = await trainingEvents(dir, 'all', () => {}, ['metadata', 'request-response']);
    assert.deepEqual(out.map((e) => [e.auditID, e.level]), [['a', 'Metadata'], ['b', 'Metadata'], ['a', 'RequestResponse'], ['b', 'RequestResponse']]);
    assert.equal(out[0]!.requestObject, undefined, 'Metadata drops bodies');
    assert.ok(out[2]!.responseObject, 'RequestResponse keeps them');
    for (const e of out) assert.deepEqual([e.annotations?.[TRUTH_LABEL_ANNOTATION], e.annotations?.[TRUTH_CONTEXT_ANNOTATION]], ['create configmaps', 'r77-demo/s01']);
    const t = out.map((e) => Date.parse(e.requestReceivedTimestamp));
    assert.equal(t[2]! - t[1]!, 60_000, 'the next rendering starts a minute after the previous one ended');
    assert.deepEqual(await trainingEvents(dir, 'train', () => {}, ['metadata']), [], 'a test-split run is not training data');
    assert.equal((await trainingEvents(dir, 'all')).length, 2, 'without policies: as recorded');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
