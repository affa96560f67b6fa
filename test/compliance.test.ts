/**
 * One compliance check over every stage and every source (src/types/stage.ts):
 *  - each event exactly once;
 *  - event-time order kept where the component promises it;
 *  - receipts carried through: settling what comes out settles what went in, and a source
 *    acknowledges a unit upstream only once its receipt settled (never when it failed);
 *  - a thrown error fails the receipts of what the stage held (the pipeline does that).
 * Stages run on real data (a simulated log) and the store on the real Elasticsearch.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { simulate } from '../src/simulate/index.ts';
import { createNormalizer } from '../src/normalize/index.ts';
import { normalizeStage } from '../src/normalize/stage.ts';
import { createLabeler } from '../src/label/index.ts';
import { ModelThread } from '../src/pipeline/model-thread.ts';
import { labelStage } from '../src/label/contract.ts';
import { createClusterer } from '../src/cluster/index.ts';
import { clusterStage } from '../src/cluster/contract.ts';
import { storeStage } from '../src/store/contract.ts';
import { createContextWriter } from '../src/store/writer.ts';
import { ensureIndexTemplates } from '../src/store/templates.ts';
import { Pipeline } from '../src/pipeline/pipeline.ts';
import { resolveModelDir } from '../src/pipeline/build.ts';
import { forwardSource } from '../src/sources/forward/contract.ts';
import { webhookSource } from '../src/sources/webhook/contract.ts';
import { fileSource } from '../src/sources/file/contract.ts';
import { simulatedSource } from '../src/sources/simulated/contract.ts';
import { UnitReceipt } from '../src/sources/receipt.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import type { ContextDoc } from '../src/types/context.ts';
import type { KEvent, LabeledEvent, Receipt } from '../src/types/pipeline.ts';
import type { RawUnit, Source, SourceAddress, Stage } from '../src/types/stage.ts';
import type { ContextSink, ContextWrite, WriteResult } from '../src/cluster/types.ts';
import { deleteIndices, testClient, uniquePrefix } from './helpers/es.ts';
import { ForwardPeer } from './normalize-helpers.ts';
import { auditEvent, quietLogs, TestDownstream, until } from './sources-helpers.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
before(async () => { logs = await quietLogs(); });
after(() => logs.restore());

const MODEL = resolveModelDir('models/default');
const EVENTS: AuditEvent[] = [...simulate({ seed: 3, durationMs: 45_000, users: 2 })];
const ids = (xs: { audit: AuditEvent }[]) => xs.map((x) => x.audit.auditID);

function exactlyOnce(got: string[], want: string[], what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} out for ${want.length} in`);
  assert.deepEqual([...got].sort(), [...want].sort(), `${what}: each event exactly once`);
}

/** pushes `input` in batches of `batch`, then flushes; returns everything the stage handed on */
async function drive<I, O>(stage: Stage<I, O>, input: I[], batch: number): Promise<O[]> {
  const out: O[] = [];
  for (let i = 0; i < input.length; i += batch) out.push(...(await stage.push(input.slice(i, i + batch))));
  out.push(...(await stage.flush()));
  assert.equal(stage.pending, 0, `${stage.name}: nothing held after flush`);
  return out;
}

function checkOrder<T extends { time: number; audit: AuditEvent }>(stage: Stage<unknown, unknown>, input: readonly { audit: AuditEvent }[], out: readonly T[]): void {
  if (stage.order === 'event-time') {
    for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]!.time <= out[i]!.time, `${stage.name}: event-time order at ${i}`);
  } else if (stage.order === 'input') {
    assert.deepEqual(ids(out as never), ids(input as never), `${stage.name}: input order kept`);
  }
}

describe('stage compliance (normalize → label → cluster → store, on one simulated log)', () => {
  const units: UnitReceipt[] = [];
  let normalized: KEvent[] = [];
  let labeled: LabeledEvent[] = [];
  let writes: ContextWrite[] = [];

  test('normalize', async () => {
    // chunks of 40, neighbours swapped: a peer's out-of-order delivery
    const chunks: RawUnit[] = [];
    for (let i = 0; i < EVENTS.length; i += 40) {
      const records = EVENTS.slice(i, i + 40);
      const receipt = new UnitReceipt(records.length);
      units.push(receipt);
      chunks.push({ records, receipt });
    }
    for (let i = 0; i + 1 < chunks.length; i += 3) [chunks[i], chunks[i + 1]] = [chunks[i + 1]!, chunks[i]!];
    const stage = normalizeStage(createNormalizer({ reorderWait: 60_000 }));
    normalized = await drive(stage, chunks, 2);
    exactlyOnce(ids(normalized), EVENTS.map((e) => e.auditID), 'normalize');
    checkOrder(stage, EVENTS.map((audit) => ({ audit })), normalized);
    assert.ok(normalized.every((e) => e.receipt), 'normalize: every event carries a receipt');
    assert.ok(units.every((u) => u.state === 'pending'), 'normalize: nothing acked before it is stored');
  });

  test('label', async () => {
    const stage = labelStage(await createLabeler({ modelDir: MODEL }));
    labeled = await drive(stage, normalized, 100);
    exactlyOnce(ids(labeled), ids(normalized), 'label');
    checkOrder(stage, normalized, labeled);
    labeled.forEach((e, i) => assert.equal(e.receipt, normalized[i]!.receipt, 'label: receipts carried through untouched'));
  });

  test('label, the model on a worker thread (--workers 1)', async () => {
    let thread: ModelThread | undefined;
    const stage = labelStage(await createLabeler({ modelDir: MODEL, predictor: async (local) => { thread = await ModelThread.start({ modelDir: MODEL, fallback: local }); return thread.predict; } }));
    try {
      const out = await drive(stage, normalized, 100);
      assert.ok(thread!.served.worker > 0, 'the worker labeled');
      exactlyOnce(ids(out), ids(normalized), 'label (worker)');
      checkOrder(stage, normalized, out);
      out.forEach((e, i) => assert.equal(e.receipt, normalized[i]!.receipt, 'label (worker): receipts carried through untouched'));
      assert.deepEqual(out.map((e) => e.labelKey), labeled.map((e) => e.labelKey), 'label (worker): the same labels as on the main thread');
    } finally { await thread?.close(); }
  });

  test('cluster', async () => {
    const stage = clusterStage(createClusterer({ idleMs: 5000 }));
    writes = await drive(stage, labeled, 100);
    // the newest write of every context holds each event exactly once
    const latest = new Map<string, ContextDoc>();
    for (const w of writes) latest.set(w.doc.id, w.doc);
    exactlyOnce([...latest.values()].flatMap((d) => d.members.map((m) => m.auditID)), ids(labeled), 'cluster');
    // every event's receipt is carried by exactly one write, once
    const carried = new Map<Receipt, number>();
    for (const w of writes) for (const r of w.receipts) carried.set(r.receipt, (carried.get(r.receipt) ?? 0) + r.n);
    for (const e of labeled) assert.equal(carried.get(e.receipt!), 1, 'cluster: receipt carried by one write');
    assert.equal(carried.size, labeled.length);
  });

  test('store (real Elasticsearch)', async () => {
    const client = testClient();
    const prefix = uniquePrefix('compliance');
    await ensureIndexTemplates(client, prefix);
    const writer = createContextWriter({ client, prefix, refresh: true });
    try {
      const stage = storeStage(writer);
      const docs = await drive(stage, writes, 5000);
      const latest = new Map(docs.map((d) => [d.id, d]));
      exactlyOnce([...latest.values()].flatMap((d) => d.members.map((m) => m.auditID)), EVENTS.map((e) => e.auditID), 'store');
      // receipts carried all the way: every source unit is settled once stored
      assert.ok(units.every((u) => u.state === 'done'), `store: ${units.filter((u) => u.state !== 'done').length} units not settled`);
      const stored = await client.count({ index: `${prefix}-contexts` });
      assert.equal(stored.count, latest.size);
    } finally {
      await writer.close();
      await deleteIndices(client, prefix);
      await client.close();
    }
  });
});

/** a sink that stores at once, or rejects the next `failNext` writes */
class FlakySink implements ContextSink {
  healthy = true;
  backlog = 0;
  backlogDocs = 0;
  failNext = 0;
  readonly docs = new Map<string, ContextDoc>();
  async write(batch: ContextWrite[]): Promise<WriteResult> {
    if (this.failNext > 0) { this.failNext--; throw new Error('bulk failed (test)'); }
    for (const w of batch) { this.docs.set(w.doc.id, w.doc); for (const r of w.receipts) r.receipt.settle(r.n); }
    return { stored: batch.length, rejected: 0 };
  }
  onStored(): () => void { return () => {}; }
  async close(): Promise<void> {}
}

describe('a thrown error fails the receipts of what the stage held (every stage)', () => {
  const faults = ['normalize', 'label', 'cluster', 'store'] as const;
  for (const where of faults) {
    test(`${where} throws once: its units fail (not acked), a re-send is stored`, async () => {
      const normalize = createNormalizer({ reorderWait: 0, reorderHorizon: 0 });
      const label = await createLabeler({ modelDir: undefined });
      const cluster = createClusterer({ idleMs: 5000 });
      const sink = new FlakySink();
      let armed = true;
      const boom = () => { if (armed) { armed = false; throw new Error(`${where} failed (test)`); } };
      if (where === 'normalize') { const d = normalize.drain.bind(normalize); normalize.drain = (f?: boolean) => { boom(); return d(f); }; }
      if (where === 'label') { const p = label.push.bind(label); label.push = async (e) => { boom(); return p(e); }; }
      if (where === 'cluster') { const p = cluster.push.bind(cluster); cluster.push = (e) => { boom(); p(e); }; }
      if (where === 'store') sink.failNext = 1;
      const pipeline = new Pipeline({ normalize, label, cluster, sink }, { flushInterval: 20, maxInFlight: 100_000, idleRelease: 20 });
      try {
        const evs = Array.from({ length: 30 }, () => auditEvent());
        const first = new UnitReceipt(evs.length);
        pipeline.push(evs, first);
        await pipeline.flushAll();
        await until(() => first.state !== 'pending', 3000, 'an outcome');
        assert.equal(first.state, 'failed', `${where}: the unit is not acknowledged`);
        // the peer re-sends the unit: stored, acked, each event once
        const again = new UnitReceipt(evs.length);
        pipeline.push(structuredClone(evs), again);
        await pipeline.flushAll();
        await until(() => again.state !== 'pending', 3000, 're-send outcome');
        assert.equal(again.state, 'done', `${where}: the re-sent unit is stored`);
        const stored = [...sink.docs.values()].flatMap((d) => d.members.map((m) => m.auditID));
        for (const e of evs) assert.ok(stored.includes(e.auditID), `${e.auditID} stored`);
      } finally {
        await pipeline.stop();
      }
    });
  }
});

/** How to feed a source and observe its acknowledgements upstream. */
interface SourceDriver {
  name: string;
  make(): Source;
  /** sends the units, resolves with which were acknowledged upstream (after `waitMs` for failing ones) */
  send(addr: SourceAddress, units: AuditEvent[][], src: Source): Promise<boolean[]>;
  /** whether the source keeps the order of records within a unit */
  ordered: boolean;
}

const TOKEN = 'compliance-token';
const tmp = mkdtempSync(path.join(tmpdir(), 'kontext-compliance-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DRIVERS: SourceDriver[] = [
  {
    name: 'forward', ordered: true,
    make: () => forwardSource({ host: '127.0.0.1', port: 0, hostname: 'kontext-test', idleTimeout: 10_000 }, { graceMs: 0 }),
    async send(addr, units) {
      const peer = await ForwardPeer.connect(addr.port!);
      try {
        units.forEach((u, i) => peer.send(`u${i}`, u));
        await until(() => peer.acks.size === units.length || peer.closed, 3000, 'acks').catch(() => {});
        return units.map((_, i) => peer.acks.has(`u${i}`));
      } finally { peer.destroy(); }
    },
  },
  {
    name: 'webhook', ordered: true,
    make: () => webhookSource({ auth: { tokens: [TOKEN] }, settleTimeout: 2000 }),
    async send(addr, units) {
      return Promise.all(units.map(async (items) => {
        const res = await fetch(addr.address, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items }),
        });
        await res.arrayBuffer();
        return res.status === 200;
      }));
    },
  },
  {
    name: 'file', ordered: true,
    make: () => { throw new Error('file sources are made per run'); },
    async send() { throw new Error('unused'); },
  },
];

async function runSource(d: SourceDriver, mode: 'immediate' | 'fail', units: AuditEvent[][]): Promise<{ ds: TestDownstream; acked: boolean[] }> {
  const ds = new TestDownstream(mode);
  if (d.name === 'file') {
    // one unit per block: a block of 10 lines
    const file = path.join(tmp, `${mode}.jsonl`);
    writeFileSync(file, units.flat().map((e) => JSON.stringify(e)).join('\n') + '\n');
    const src = fileSource(file, { blockSize: 10 });
    await src.start(ds);
    const result = await src.done;
    const settled = await result.settled;
    await src.stop();
    return { ds, acked: units.map((_, i) => i < settled.acked) };
  }
  const src = d.make();
  const addr = await src.start(ds);
  try {
    return { ds, acked: await d.send(addr, units, src) };
  } finally {
    await src.stop();
  }
}

describe('source compliance', () => {
  const units = Array.from({ length: 5 }, () => Array.from({ length: 10 }, () => auditEvent()));
  const sent = units.flat().map((e) => e.auditID);
  for (const d of DRIVERS) {
    test(`${d.name}: each event exactly once, in order, acked only once its receipt settled`, async () => {
      const { ds, acked } = await runSource(d, 'immediate', units);
      const got = (ds.records as AuditEvent[]).map((e) => e.auditID);
      exactlyOnce(got, sent, d.name);
      if (d.ordered) for (const u of ds.units) {
        const at = (u.records as AuditEvent[]).map((e) => sent.indexOf(e.auditID));
        assert.deepEqual(at, [...at].sort((a, b) => a - b), `${d.name}: order within a unit kept`);
      }
      assert.ok(ds.units.every((u) => u.receipt), `${d.name}: every unit carries a receipt`);
      assert.deepEqual(acked, units.map(() => true), `${d.name}: every settled unit acknowledged`);
    });
    test(`${d.name}: a failed receipt is never acknowledged`, async () => {
      const { acked } = await runSource(d, 'fail', units);
      assert.deepEqual(acked, units.map(() => false), `${d.name}: no failed unit acknowledged`);
    });
  }
  test('simulated: each event exactly once, in event-time order, every unit with a receipt', async () => {
    const ds = new TestDownstream('immediate');
    const src = simulatedSource({ seed: 4, speed: 10_000, durationMs: 30_000, users: 1 });
    await src.start(ds);
    await until(() => ds.recordCount > 200, 5000, 'simulated records');
    await src.stop();
    const got = (ds.records as AuditEvent[]).map((e) => e.auditID);
    assert.equal(new Set(got).size, got.length, 'simulated: each event once');
    assert.equal(got.length, src.pushed);
    assert.ok(ds.units.every((u) => u.receipt), 'simulated: every unit carries a receipt');
  });
});
