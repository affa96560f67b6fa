import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ContextDoc } from '../src/types/context.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION, type AuditEvent } from '../src/types/audit.ts';
import { hkermaTruth, recordedTruth, simulatorTruth } from '../src/eval/truth.ts';
import { labelledHelmInstall, scoreContexts } from '../src/eval/score.ts';
import { corpusCases, detectCorpus, parseRunSelection, recordingStreams, type EvalCase } from '../src/eval/corpus.ts';
import { runContexts } from '../src/eval/run.ts';
import { createNormalizer } from '../src/normalize/index.ts';
import { replay } from '../src/cluster/replay.ts';
import { createLabeler } from '../src/label/index.ts';
import { simulate } from '../src/simulate/index.ts';

function doc(id: string, ids: string[], o: Partial<ContextDoc> & { user?: string } = {}): ContextDoc {
  return {
    id, label: o.label ?? 'create secrets', action: o.action ?? 'x', state: 'closed',
    trigger: { auditID: ids[0]!, user: o.user ?? 'admin', groups: [], userAgent: '', client: '', sourceIPs: [], verb: 'create', apiGroup: '', resource: 'secrets', code: 201 },
    start: 0, end: 0, eventCount: ids.length, users: [], namespaces: [], resources: [], names: [], verbs: [],
    counts: { verbs: [], resources: [], users: [], codes: [] }, outcome: 'success', failures: 0, forbidden: 0, flags: [],
    members: ids.map((auditID) => ({ auditID, time: 0, user: 'u', verb: 'get', resource: 'pods', code: 200 })), confidence: 1,
  };
}

test('hkerma truth: core = helm + cascade, pseudo-releases are actions, helm-tier users trigger', () => {
  const t = hkermaTruth([
    { auditID: 'a', user: 'kubernetes-admin', release: 'my-x', tier: 'helm' },
    { auditID: 'b', user: 'system:kube-controller-manager', release: 'my-x', tier: 'cascade' },
    { auditID: 'c', user: 'kubernetes-admin', release: 'my-x', tier: 'discovery' },
    { auditID: 'd', user: 'system:serviceaccount:x:op', release: 'my-x', tier: 'workload' },
    { auditID: 'e', user: 'system:serviceaccount:kube-system:namespace-controller', release: 'nsdelete:loki', tier: 'cascade' },
    { auditID: 'f', user: 'kubernetes-admin', release: 'admin:other', tier: 'helm' },
    { auditID: 'g', user: 'system:node:n1', release: '-', tier: '-' },
  ]);
  assert.deepEqual([...t.events].filter(([, e]) => e.core).map(([id]) => id), ['a', 'b', 'e', 'f']);
  assert.equal(t.events.get('g')!.action, null);
  assert.deepEqual(t.actions.get('my-x'), { id: 'my-x', user: 'kubernetes-admin', release: 'my-x' });
  assert.deepEqual(t.actions.get('nsdelete:loki'), { id: 'nsdelete:loki' });
  assert.deepEqual(t.actions.get('admin:other'), { id: 'admin:other', user: 'kubernetes-admin' });
});

test('recorded truth: own + cascade are core, own-tier users trigger, background has no action', () => {
  const t = recordedTruth([
    { auditID: 'a', action: 'r/1', tier: 'own', user: 'alice' },
    { auditID: 'b', action: 'r/1', tier: 'cascade', user: 'system:kube-scheduler' },
    { auditID: 'c', action: null, tier: 'background', user: 'system:node:n1' },
  ], new Map([['r/1', 'web']]));
  assert.equal(t.events.get('b')!.core, true);
  assert.equal(t.events.get('c')!.action, null);
  assert.deepEqual(t.actions.get('r/1'), { id: 'r/1', user: 'alice', release: 'web' });
});

test('recorded truth: a step\'s discovery keeps its action but is not core and triggers nothing; scored as its user\'s background', () => {
  const t = recordedTruth([
    { auditID: 'd', action: 'r/1', tier: 'discovery', user: 'alice' },
    { auditID: 'a', action: 'r/1', tier: 'own', user: 'alice' },
    { auditID: 'only', action: 'r/2', tier: 'discovery', user: 'bob' },
  ]);
  assert.deepEqual(t.events.get('d'), { action: 'r/1', core: false, user: 'alice' });
  assert.equal(t.actions.get('r/2')?.user, undefined, 'a step that only discovered triggered nothing');
  const docs = [{ id: 'c1', label: 'get-list-collection pods', action: 'x', trigger: { user: 'alice' }, members: [{ auditID: 'a' }, { auditID: 'd' }] }] as unknown as ContextDoc[];
  const s = scoreContexts(t, docs);
  assert.equal(s.actions.find((x) => x.action === 'r/1')!.core, 1);
  assert.equal(s.actions.find((x) => x.action === 'r/1')!.purity, 0.5, 'the discovery GET in the action\'s context dilutes it');
  assert.equal(s.actions.some((x) => x.action === 'r/2'), false);
});

test('scoreContexts: share, purity, labels, partition and contexts per user', () => {
  const t = hkermaTruth([
    ...['a1', 'a2', 'a3', 'a4'].map((auditID, i) => ({ auditID, user: i ? 'kcm' : 'kubernetes-admin', release: 'my-x', tier: i ? 'cascade' : 'helm' })),
    { auditID: 'b1', user: 'kubernetes-admin', release: 'admin:other', tier: 'helm' },
    { auditID: 'n1', user: 'node', release: '-', tier: '-' },
  ]);
  const docs = [
    doc('P1', ['a1', 'a2', 'a3', 'n1'], { user: 'kubernetes-admin', action: 'kubernetes-admin helm install of release my-x' }),
    doc('P2', ['a4'], { user: 'kcm' }),
    doc('P3', ['b1'], { user: 'kubernetes-admin', label: 'get-list-collection pods' }),
    doc('BG', ['zz'], { label: 'background lease', user: 'node' }),
  ];
  const s = scoreContexts(t, docs);
  const x = s.actions.find((a) => a.action === 'my-x')!;
  assert.equal(x.core, 4);
  assert.equal(x.contexts, 2);
  assert.equal(x.share, 0.75);
  assert.equal(x.purity, 0.75);
  assert.equal(x.labelled, true);
  assert.equal(s.actions.find((a) => a.action === 'admin:other')!.labelled, null);
  assert.equal(s.whole, 1, 'admin:other is whole, my-x is not');
  assert.equal(s.labelExpected, 1);
  assert.equal(s.labelRight, 1);
  assert.deepEqual(s.users, [{ user: 'kubernetes-admin', truth: 2, predicted: 2 }, { user: '(others)', truth: 0, predicted: 1 }]);
  assert.ok(s.partition.trigger.jaccard < 1 && s.partition.trigger.jaccard > 0.5);
  assert.equal(s.macroF1, undefined, 'no truth labels, no macro-F1');
  assert.equal(labelledHelmInstall(doc('Q', ['a1'], { action: 'kubernetes-admin created secret x/sh.helm.release.v1.my-x.v1 via helm' }), 'my-x'), false);
  assert.equal(labelledHelmInstall(doc('Q', ['a1'], { label: 'helm install', action: 'helm install my-y' }), 'my-x'), false);
});

test('runContexts: normalize keeps one event per auditID (final stage) before labeling and clustering', async () => {
  const evs = [...simulate({ seed: 4, durationMs: 40_000, stages: 'all' })];
  const ids = new Set(evs.map((e) => e.auditID));
  assert.ok(evs.length > ids.size, 'several stages per request');
  const labeler = await createLabeler({});
  const r = await runContexts(evs, labeler, { labels: true });
  assert.equal(r.events, ids.size);
  assert.equal(r.labels.size, ids.size);
  const members = r.docs.flatMap((d) => d.members.map((m) => m.auditID));
  assert.equal(new Set(members).size, members.length, 'every event in at most one context');
  assert.equal((await runContexts(evs, await createLabeler({}))).labels.size, 0, 'labels are kept only when asked for');
});

test('runContexts: streaming labeled events into the clusterer builds the contexts replaying them all at once does', async () => {
  const evs = [...simulate({ seed: 5, durationMs: 90_000 })];
  async function* slowly() { for (const e of evs) yield e; }
  const streamed = await runContexts(slowly(), await createLabeler({}), { chunk: 97 });
  // the same stages fed the same chunks, every labeled event held, then one replay (what evaluation did before it streamed)
  const norm = createNormalizer({ lateness: 2000 });
  const labeler = await createLabeler({});
  const labeled = [];
  for (let i = 0; i < evs.length; i += 97) {
    norm.push(evs.slice(i, i + 97));
    const ready = norm.drain(false);
    if (ready.length) labeled.push(...(await labeler.push(ready)));
  }
  const rest = norm.drain(true);
  if (rest.length) labeled.push(...(await labeler.push(rest)));
  labeled.push(...(await labeler.flush()));
  const batch = [...(await replay(labeled)).values()];
  const key = (ds: ContextDoc[]) => ds.map((d) => `${d.id} ${d.label} ${d.members.map((m) => m.auditID).join(',')}`).sort();
  assert.ok(batch.length > 10);
  assert.equal(streamed.events, labeled.length);
  const want = new Set(key(batch));
  const differ = key(streamed.docs).filter((k) => !want.has(k));
  assert.equal(streamed.docs.length, batch.length);
  assert.equal(differ.length, 0, `${differ.length} contexts differ, e.g. ${differ[0]?.slice(0, 200)}`);
});

test('recording streams: a run that starts before the previous one ended was recorded on another cluster', () => {
  const r = (name: string, start?: number, end?: number) => ({ name, start, end });
  const cut = (rs: ReturnType<typeof r>[]) => recordingStreams(rs).map((g) => g.map((x) => x.name).join(' '));
  assert.deepEqual(cut([r('a', 0, 10), r('b', 10, 20), r('c', 5, 8), r('d', 9, 30), r('e', 29, 40)]), ['a b', 'c d', 'e']);
  assert.deepEqual(cut([r('a'), r('b'), r('c')]), ['a b c'], 'runs without times stay one stream');
  assert.deepEqual(cut([]), []);
});

async function writeGz(file: string, rows: unknown[]): Promise<void> {
  await writeFile(file, gzipSync(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'));
}

/** A recorded run built from simulated traffic: truth moved out of the events into truth.jsonl.gz. */
async function recordedRun(dir: string, name: string, split?: string, extra: Record<string, unknown> = {}): Promise<AuditEvent[]> {
  const evs = [...simulate({ seed: 3, durationMs: 60_000, policy: 'request-response' })];
  const trig = new Map(evs.filter((e) => e.annotations?.[TRUTH_CONTEXT_ANNOTATION] === e.auditID).map((e) => [e.auditID, e.user.username]));
  const truth = evs.map((e) => {
    const c = e.annotations![TRUTH_CONTEXT_ANNOTATION]!;
    const bg = c.startsWith('bg:');
    return { auditID: e.auditID, action: bg ? null : `${name}/${c}`, tier: bg ? 'background' : e.user.username === trig.get(c) ? 'own' : 'cascade', user: e.user.username };
  });
  const stripped = evs.map((e) => { const { [TRUTH_CONTEXT_ANNOTATION]: _c, [TRUTH_LABEL_ANNOTATION]: _l, ...ann } = e.annotations!; return { ...e, annotations: ann }; });
  const run = path.join(dir, name);
  await mkdir(run, { recursive: true });
  await writeFile(path.join(run, 'manifest.json'), JSON.stringify({ run: name, level: 'RequestResponse', ...(split ? { split } : {}), ...extra }));
  await writeGz(path.join(run, 'audit.jsonl.gz'), stripped);
  await writeGz(path.join(run, 'truth.jsonl.gz'), truth);
  return evs;
}

test('corpora: absent is undefined, unknown fails, recorded runs are rendered at every level, training runs left out', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kontext-corpus-'));
  try {
    assert.equal(detectCorpus(path.join(dir, 'missing')), undefined);
    assert.equal(await corpusCases(path.join(dir, 'missing')), undefined);
    await mkdir(path.join(dir, 'empty'));
    assert.throws(() => detectCorpus(path.join(dir, 'empty')), /neither an hkerma capture/);
    const rec = path.join(dir, 'recorded');
    const evs = await recordedRun(rec, 'r1');
    await recordedRun(rec, 'r0', 'train');
    assert.equal(detectCorpus(rec), 'recorded');
    const cases = (await corpusCases(rec))!;
    assert.deepEqual(cases.map((c) => c.level), ['Metadata', 'Request', 'RequestResponse', 'kubeadm-gke-default', 'k8s-docs-example']);
    const md = cases[0]!; const rr = cases[2]!; const gke = cases[3]!;
    assert.equal(md.variant, '1 runs', 'the training run is left out');
    const read = async (c: EvalCase) => { const out: AuditEvent[] = []; for (const st of c.streams) for await (const e of st.records()) out.push(e as AuditEvent); return out; };
    assert.equal((await read(rr)).length, evs.length);
    assert.ok((await read(md)).every((e) => e.level === 'Metadata' && !e.requestObject && !e.responseObject));
    const gkeRecords = await read(gke);
    assert.ok(gkeRecords.length < evs.length);
    const kept = new Set(gkeRecords.map((e) => e.auditID));
    const gkeTruth = await gke.truth();
    assert.ok(gkeTruth.events.size > 0 && [...gkeTruth.events.keys()].every((id) => kept.has(id)), 'dropped events leave the truth');
    assert.deepEqual((await rr.truth()).actions.size, simulatorTruth(evs).actions.size);
    // the truth of a case not read yet is complete too (it reads the runs for what the policy keeps)
    const fresh = (await corpusCases(rec))![3]!;
    assert.deepEqual([...(await fresh.truth()).events.keys()].sort(), [...gkeTruth.events.keys()].sort());
    // a run selection scores exactly the runs it names, training runs included
    assert.equal((await corpusCases(rec, undefined, { runs: 'r0' }))![0]!.variant, '1 runs');
    assert.equal((await corpusCases(rec, undefined, { runs: 'r0-r1' }))![0]!.variant, '2 runs');
    assert.equal((await corpusCases(rec, undefined, { runs: 'r2-' }))!.length, 0);
    // runs recorded at the same time (on two clusters) are two streams, one after the other one
    const both = (await corpusCases(rec, undefined, { runs: 'r0-r1' }))![0]!;
    assert.equal(both.streams.length, 1, 'runs without times are one stream');
    const timed = path.join(dir, 'timed');
    await recordedRun(timed, 'r1', undefined, { start: '2026-12-01T10:00:00Z', end: '2026-12-01T10:05:00Z' });
    await recordedRun(timed, 'r2', undefined, { start: '2026-12-01T10:05:00Z', end: '2026-12-01T10:09:00Z' });
    await recordedRun(timed, 'r3', undefined, { start: '2026-12-01T10:01:00Z', end: '2026-12-01T10:04:00Z' });
    assert.deepEqual((await corpusCases(timed))![0]!.streams.map((st) => st.name), ['r1…r2', 'r3']);
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('run selection: single runs, inclusive ranges, open ends, lists; bad specs fail', () => {
  const sel = parseRunSelection('r01-r58');
  assert.deepEqual(['r01-deployment', 'r58-helm', 'r59-helm', 'r00-x', 'x12'].map(sel), [true, true, false, false, false]);
  const open = parseRunSelection('r59-');
  assert.deepEqual(['r58-a', 'r59-a', 'r120-a'].map(open), [false, true, true]);
  const list = parseRunSelection('r3, r10-r11');
  assert.deepEqual(['r03-a', 'r04-a', 'r10-a', 'r11-a', 'r12-a'].map(list), [true, false, true, true, false]);
  assert.throws(() => parseRunSelection('r9-r3'), /ends before it starts/);
  assert.throws(() => parseRunSelection('helm'), /expected rNN/);
  assert.throws(() => parseRunSelection(' , '), /empty/);
});

test('cli: kontext evaluate --corpus skips a missing directory with a message', async () => {
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, ['bin/kontext.js', 'evaluate', '--corpus', path.join(tmpdir(), 'kontext-no-such-corpus')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('exit', (code) => resolve({ code: code ?? 1, stderr }));
  });
  assert.equal(r.code, 0);
  assert.match(r.stderr, /not found: skipping/);
});

test('labelledHelmInstall: helm, an install and the whole release name', () => {
  const d = (action: string) => doc('Q', ['a'], { label: 'create secrets', action });
  assert.equal(labelledHelmInstall(d('kubernetes-admin installed helm release prometheus/my-prometheus'), 'my-prometheus'), true);
  assert.equal(labelledHelmInstall(d('kubernetes-admin installed helm release prometheus/my-prometheus-2'), 'my-prometheus'), false);
  assert.equal(labelledHelmInstall(d('kubernetes-admin uninstalled helm release prometheus/my-prometheus'), 'my-prometheus'), false);
  assert.equal(labelledHelmInstall(d('kubernetes-admin installed helm release my-prometheus (revision 2)'), 'my-prometheus'), true);
});
