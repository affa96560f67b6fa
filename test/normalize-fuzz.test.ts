/**
 * Field-type fuzz: every audit field kontext reads anywhere (labeler, clusterer, summary,
 * store) × wrong types (number, boolean, object, array, null, a huge string). Each event goes
 * through normalize → label → cluster → summary → store codec in-process: nothing may throw,
 * the bad event is dead-lettered with a reason (its receipt settles once the dead letter is
 * stored) and the others flow. Then through the forward input: a connection sending poison
 * never wedges the others (they keep getting acks), and the poison itself is acked once
 * dead-lettered, so the peer does not re-send it forever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createNormalizer, parseAuditTime } from '../src/normalize/index.ts';
import { createLabeler, type Labeler } from '../src/label/index.ts';
import { createClusterer } from '../src/cluster/index.ts';
import { toEsDoc } from '../src/store/codec.ts';
import { MemorySink } from '../src/store/memory-sink.ts';
import { resolveModelDir } from '../src/pipeline/build.ts';
import { Pipeline } from '../src/pipeline/pipeline.ts';
import { ForwardServer } from '../src/sources/forward/index.ts';
import { UnitReceipt } from '../src/sources/receipt.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import type { KEvent, LabeledEvent } from '../src/types/pipeline.ts';
import type { ContextDoc } from '../src/types/context.ts';
import { counter } from '../src/util/metrics.ts';
import { ForwardPeer, MemoryDeadLetters, setPath } from './normalize-helpers.ts';
import { auditEvent, quietLogs, until } from './sources-helpers.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
let labeler: Labeler;
let control: Labeler;
before(async () => {
  logs = await quietLogs();
  labeler = await createLabeler({ modelDir: resolveModelDir('models/default') });
  control = await createLabeler({ modelDir: resolveModelDir('models/default') });
});
after(() => logs.restore());

/** `map`: an object of strings (annotations, labels) */
type Kind = 'str' | 'int' | 'arr' | 'obj' | 'map' | 'enum' | 'time' | 'any';

/** every path kontext reads, with the type it expects there (bodies: `*` is requestObject and responseObject) */
const TOP: [string, Kind][] = [
  ['auditID', 'str'], ['stage', 'enum'], ['level', 'enum'], ['verb', 'str'], ['requestURI', 'str'],
  ['requestReceivedTimestamp', 'time'], ['stageTimestamp', 'time'], ['userAgent', 'str'],
  ['user', 'obj'], ['user.username', 'str'], ['user.uid', 'str'], ['user.groups', 'arr'], ['user.groups[0]', 'str'],
  ['impersonatedUser', 'obj'], ['impersonatedUser.username', 'str'], ['impersonatedUser.groups', 'arr'],
  ['sourceIPs', 'arr'], ['sourceIPs[0]', 'str'],
  ['objectRef', 'obj'], ['objectRef.resource', 'str'], ['objectRef.namespace', 'str'], ['objectRef.name', 'str'],
  ['objectRef.uid', 'str'], ['objectRef.apiGroup', 'str'], ['objectRef.apiVersion', 'str'], ['objectRef.subresource', 'str'],
  ['responseStatus', 'obj'], ['responseStatus.code', 'int'],
  ['annotations', 'map'], ['annotations["authorization.k8s.io/decision"]', 'str'], ['annotations["sim.kontext.io/label"]', 'str'],
  ['requestObject', 'any'], ['responseObject', 'any'],
];
const BODY: [string, Kind][] = [
  ['kind', 'str'], ['reason', 'str'], ['metadata', 'obj'], ['metadata.name', 'str'], ['metadata.namespace', 'str'],
  ['metadata.uid', 'str'], ['metadata.deletionTimestamp', 'str'], ['metadata.labels', 'map'],
  ['metadata.labels["kubernetes.io/service-name"]', 'str'], ['metadata.ownerReferences', 'arr'],
  ['metadata.ownerReferences[0]', 'obj'], ['metadata.ownerReferences[0].uid', 'str'], ['metadata.ownerReferences[0].kind', 'str'],
  ['metadata.ownerReferences[0].name', 'str'], ['involvedObject', 'obj'], ['involvedObject.uid', 'str'],
  ['involvedObject.kind', 'str'], ['involvedObject.name', 'str'], ['involvedObject.namespace', 'str'], ['regarding', 'obj'],
  ['regarding.name', 'str'], ['spec', 'obj'], ['spec.claimRef', 'obj'], ['spec.claimRef.name', 'str'], ['spec.claimRef.uid', 'str'],
  ['spec.boundObjectRef', 'obj'], ['spec.boundObjectRef.uid', 'str'], ['spec.volumeName', 'str'], ['target', 'obj'],
  ['target.name', 'str'], ['details', 'obj'], ['details.uid', 'str'],
];
const FIELDS: [string, Kind][] = [...TOP, ...BODY.flatMap(([p, k]): [string, Kind][] => [[`requestObject.${p}`, k], [`responseObject.${p}`, k]])];
const HUGE = 'x'.repeat(200_000);
const WRONG: [string, unknown][] = [['number', 12345], ['boolean', true], ['object', { x: 1 }], ['array', [1, 'a']], ['null', null], ['huge string', HUGE]];

/** an event in which every field above is present and meaningful */
function base(i: number): AuditEvent {
  const body = () => ({
    kind: 'Pod', reason: 'Scheduled',
    metadata: {
      name: `web-${i}`, namespace: 'shop', uid: `uid-${i}`, deletionTimestamp: '2026-01-01T10:00:00Z',
      labels: { 'kubernetes.io/service-name': 'web', app: 'web' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-uid' }],
    },
    involvedObject: { kind: 'Pod', name: `web-${i}`, namespace: 'shop', uid: `uid-${i}` },
    regarding: { kind: 'Pod', name: `web-${i}`, namespace: 'shop' },
    spec: { claimRef: { name: 'data', namespace: 'shop', uid: 'pvc-uid' }, boundObjectRef: { kind: 'Pod', name: `web-${i}`, uid: `uid-${i}` }, volumeName: 'pv-1', nodeName: 'node-1' },
    target: { kind: 'Node', name: 'node-1' },
    details: { uid: `uid-${i}` },
  });
  return auditEvent({
    auditID: `fuzz-${String(i).padStart(6, '0')}`, level: 'RequestResponse', verb: 'create',
    requestURI: '/api/v1/namespaces/shop/pods', userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/abc',
    user: { username: 'alice', uid: 'u-1', groups: ['system:authenticated', 'dev'] },
    impersonatedUser: { username: 'bob', groups: ['ops'] },
    sourceIPs: ['10.0.0.1', '10.0.0.2'],
    objectRef: { resource: 'pods', namespace: 'shop', name: `web-${i}`, uid: `uid-${i}`, apiGroup: '', apiVersion: 'v1', subresource: 'binding' },
    responseStatus: { metadata: {}, code: 201 },
    annotations: { 'authorization.k8s.io/decision': 'allow', 'sim.kontext.io/label': 'create pods', 'sim.kontext.io/context': `ctx-${i}` },
    requestObject: body(), responseObject: body(),
  });
}

const isPlainObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
/** whether the wrong value is in fact acceptable there */
function acceptable(path: string, kind: Kind, v: unknown): boolean {
  if (kind === 'any') return true;
  if (kind === 'obj' && isPlainObject(v)) return true;
  // inside a body, null means "absent" (a merge patch deletes with null); items of a list are never null
  const inBody = /^(request|response)Object\./.test(path);
  return v === null && inBody && !/\[\d+\]$/.test(path);
}

interface Case { path: string; wrong: string; event: Record<string, unknown>; id: string; accept: boolean }
function cases(): Case[] {
  const out: Case[] = [];
  let i = 0;
  for (const [path, kind] of FIELDS) {
    for (const [wrong, value] of WRONG) {
      const ev = base(i++) as unknown as Record<string, unknown>;
      const id = ev.auditID as string;
      setPath(ev, path, structuredClone(value));
      out.push({ path, wrong, event: ev, id, accept: acceptable(path, kind, value) });
    }
  }
  return out;
}

/** label → cluster → summary → codec, the way the pipeline drives them */
async function downstream(l: Labeler, events: KEvent[], cluster = createClusterer({ idleMs: 5000 })): Promise<ContextDoc[]> {
  const labeled: LabeledEvent[] = [...(await l.push(events)), ...(await l.flush())];
  cluster.push(labeled);
  const docs = cluster.collect(undefined, true).map((w) => w.doc);
  for (const d of docs) JSON.stringify(toEsDoc(d));
  return docs;
}

describe('field-type fuzz: normalize → label → cluster → summary', () => {
  test(`every field kontext reads × ${WRONG.length} wrong types: no throw, the bad event is dead-lettered, the rest flows`, async () => {
    const all = cases();
    const dl = new MemoryDeadLetters();
    const n = createNormalizer({ reorderHorizon: 0, deadLetters: dl });
    const metric = counter('kontext_ingest_dead_letters_total', '');
    const receipts = new Map<string, UnitReceipt>();
    const good = [0, 1, 2].map((k) => base(900_000 + k));
    n.push(good);
    for (const c of all) {
      const r = new UnitReceipt(1);
      receipts.set(c.id, r);
      assert.doesNotThrow(() => n.push([c.event], r), `${c.path} = ${c.wrong}`);
    }
    const dead = all.filter((c) => !c.accept);
    // a dead letter's receipt settles only once the sink stored it
    assert.ok(dead.every((c) => receipts.get(c.id)!.state === 'pending'), 'no dead letter acked before it is stored');
    await until(() => dead.every((c) => receipts.get(c.id)!.state === 'done'), 5000, 'dead-letter receipts settled');
    for (const c of dead) {
      if (c.path === 'auditID') continue; // no usable auditID to find it by
      const e = dl.byAuditID(c.id);
      assert.ok(e, `${c.path} = ${c.wrong}: dead-lettered`);
      assert.equal(e.stage, 'normalize');
      assert.match(e.reason, /^[a-z-]+$/);
      assert.ok(e.detail && e.detail.length < 400, `${c.path}: a short detail (${e.detail?.length})`);
      assert.ok(e.record && e.record.length <= 16_385, 'the record is kept, truncated');
    }
    assert.equal(dl.entries.length, dead.length, 'exactly the bad events are dead letters');
    const reasons = new Set(dl.entries.map((e) => e.reason));
    assert.ok([...reasons].reduce((s, r) => s + metric.get({ reason: r }), 0) >= dead.length, 'counted in kontext_ingest_dead_letters_total');

    const released = n.drain(true);
    const accepted = all.filter((c) => c.accept);
    assert.deepEqual(new Set(released.map((e) => e.audit.auditID)), new Set([...good.map((g) => g.auditID), ...accepted.map((c) => c.id)]));
    let docs: ContextDoc[] = [];
    await assert.doesNotReject(async () => { docs = await downstream(labeler, released); }, 'label → cluster → summary on the accepted events');
    const members = new Set(docs.flatMap((d) => d.members.map((m) => m.auditID)));
    for (const e of released) assert.ok(members.has(e.audit.auditID), `${e.audit.auditID} is in a context`);
    process.stderr.write(`fuzz: ${all.length} cases over ${FIELDS.length} fields, ${dead.length} dead-lettered (${[...reasons].sort().join(', ')}), ${accepted.length} accepted and clustered\n`);
  });

  test('without the check at the door, some of these events throw downstream (the fuzz can fail)', async () => {
    let threw = 0;
    for (const c of cases().filter((x) => !x.accept && x.wrong === 'number' && x.path !== 'requestReceivedTimestamp')) {
      const time = parseAuditTime(c.event.requestReceivedTimestamp);
      try { await downstream(control, [{ audit: c.event as unknown as AuditEvent, time: Number.isFinite(time) ? time : 0 }]); } catch { threw++; }
    }
    process.stderr.write(`fuzz (control, no validation): ${threw} of the number-typed bad events throw in label/cluster/summary\n`);
    assert.ok(threw > 0, 'some wrong-typed fields would throw in label/cluster/summary');
  });

  test('a failing dead-letter sink fails the share (the unit is re-sent); without a sink it is acknowledged', async () => {
    const dl = new MemoryDeadLetters();
    dl.failNext = 1;
    const n = createNormalizer({ deadLetters: dl });
    const r = new UnitReceipt(2);
    n.push([{ ...base(1), userAgent: 42 }, base(2)], r);
    await until(() => r.state !== 'pending', 2000, 'outcome');
    assert.equal(r.state, 'failed');
    const n2 = createNormalizer();
    const r2 = new UnitReceipt(1);
    n2.push([{ ...base(3), sourceIPs: 'x' }], r2);
    assert.equal(r2.state, 'done');
  });

  test('identifier limits: auditID length and charset, names, label values, user agent', () => {
    const dl = new MemoryDeadLetters();
    const n = createNormalizer({ deadLetters: dl });
    const bad: [string, Record<string, unknown>][] = [
      ['auditID over 128', { auditID: 'a'.repeat(129) }],
      ['auditID over 512 bytes', { auditID: 'é'.repeat(300) }],
      ['auditID with a slash', { auditID: '../../_doc' }],
      ['auditID with spaces', { auditID: 'a b' }],
      ['objectRef.name over 1024', { objectRef: { resource: 'pods', name: 'n'.repeat(1025) } }],
      ['namespace over 253', { objectRef: { resource: 'pods', namespace: 'n'.repeat(254) } }],
      ['label value over 1024', { requestObject: { metadata: { labels: { a: 'v'.repeat(1025) } } } }],
      ['userAgent over 2048', { userAgent: 'k'.repeat(2049) }],
      ['responseStatus.code 70000', { responseStatus: { code: 70000 } }],
    ];
    const ok: [string, Record<string, unknown>][] = [
      ['a UUID', { auditID: '4d2c8a1e-0c1b-4f6e-9a57-2f1c1e0b9d11' }],
      ['a 1024-character user agent with the apiserver suffix', { userAgent: 'k'.repeat(1024) + '...TRUNCATED' }],
      ['a merge patch that removes a label', { requestObject: { metadata: { labels: { app: null } } } }],
      ['a JSON patch (an array body)', { requestObject: [{ op: 'replace', path: '/spec/replicas', value: 3 }] }],
    ];
    let k = 0;
    for (const [, patch] of [...bad, ...ok]) n.push([{ ...base(k++), ...patch }]);
    assert.equal(n.stats().deadLettered, bad.length, 'each over-limit identifier is a dead letter');
    assert.equal(n.drain(true).length, ok.length);
  });
});


describe('field-type fuzz through the forward input', () => {
  test('poison chunks are dead-lettered and acked; the other connections keep getting acks', async () => {
    const dl = new MemoryDeadLetters();
    const sink = new MemorySink();
    const pipeline = new Pipeline(
      { normalize: createNormalizer({ reorderWait: 20, deadLetters: dl }), label: labeler, cluster: createClusterer({ idleMs: 5000 }), sink },
      // the log is a backlog (old event times): the last events wait for their labeling window until it counts as ended
      { flushInterval: 20, maxInFlight: 100_000, idleRelease: 30, inputEndQuiet: 200 },
    );
    const server = new ForwardServer(pipeline, { host: '127.0.0.1', port: 0, hostname: 'kontext-test', idleTimeout: 10_000 });
    const { port } = await server.listen();
    const poison = await ForwardPeer.connect(port);
    const canary = await ForwardPeer.connect(port);
    try {
      const bad = cases().filter((c) => !c.accept && c.wrong !== 'huge string');
      let k = 0;
      for (let i = 0; i < bad.length; i += 8) {
        poison.send(`poison-${i}`, bad.slice(i, i + 8).map((c) => c.event));
        canary.send(`canary-${k}`, [base(500_000 + k)]);
        k++;
      }
      await until(() => canary.acks.size === k, 15_000, `canary acks (${canary.acks.size}/${k})`);
      const poisonChunks = Math.ceil(bad.length / 8);
      await until(() => poison.acks.size === poisonChunks, 15_000, `poison acks (${poison.acks.size}/${poisonChunks})`);
      assert.equal(poison.closed, false, 'the poisoned connection stays open: nothing to re-send');
      assert.equal(dl.entries.length, bad.length);
      // and it keeps flowing after the poison
      canary.send('canary-after', [base(600_000)]);
      await until(() => canary.acks.has('canary-after'), 5000, 'ack after the poison');
      assert.ok([...sink.docs.values()].some((d) => d.members.some((m) => m.auditID === base(600_000).auditID)));
      process.stderr.write(`fuzz (forward): ${bad.length} poison events in ${poisonChunks} chunks dead-lettered and acked; ${k + 1} canary chunks acked\n`);
    } finally {
      poison.destroy();
      canary.destroy();
      await server.close({ graceMs: 0 });
      await pipeline.stop();
    }
  });
});
