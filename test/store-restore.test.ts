/**
 * Restarts, without child processes: contexts stored by one writer are taken back by a new
 * clusterer (open and recently closed ones), a re-sent event already stored joins its stored
 * context without being counted twice, a new event continues the context, and the sweeper
 * closes documents left open past their age.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testClient, uniquePrefix, deleteIndices, getDoc } from './helpers/es.ts';
import { ensureIndexTemplates } from '../src/store/templates.ts';
import { createContextWriter } from '../src/store/writer.ts';
import { indexNames, type EsContextSource } from '../src/store/codec.ts';
import { loadRecentContexts, sweepStaleOpen } from '../src/store/restore.ts';
import { StaleSweeper } from '../src/store/sweeper.ts';
import { createClusterer } from '../src/cluster/clusterer.ts';
import { restoreContexts } from '../src/cluster/restore.ts';
import { audit, countingReceipt, oracle } from './cluster-fixtures.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

function deployment(i: number, t: number, name: string, user = 'system:serviceaccount:kube-system:replicaset-controller'): LabeledEvent {
  return oracle(audit({
    id: `${name}-e${i}`, time: t, label: 'create apps/deployments', user, verb: 'create', code: 201,
    ref: { resource: i === 0 ? 'deployments' : 'pods', apiGroup: i === 0 ? 'apps' : '', namespace: 'shop', name: i === 0 ? name : `${name}-6d4cf56db6-x${i}` },
    userAgent: i === 0 ? 'kubectl/v1.30.2 (linux/amd64) kubernetes/abc' : 'kube-controller-manager/v1.30.2',
    sourceIPs: ['10.0.0.5'],
  }));
}

test('restart: stored contexts come back, re-sent events join them once, stale open documents are swept', async () => {
  const client = testClient();
  const prefix = uniquePrefix('restore');
  try {
    await ensureIndexTemplates(client, prefix);
    const names = indexNames(prefix);
    // first life: an old open context (crashed long ago), a live open one
    const c1 = createClusterer({});
    const old = [deployment(0, T0 - 3_600_000, 'old', 'alice'), deployment(1, T0 - 3_599_000, 'old')];
    const live = [deployment(0, T0, 'web', 'alice'), deployment(1, T0 + 100, 'web'), deployment(2, T0 + 200, 'web')];
    c1.push(old);
    c1.push(live);
    const writer = createContextWriter({ client, prefix, refresh: true });
    const writes = c1.collect(T0 + 300);
    assert.deepEqual(writes.map((w) => [w.doc.id, w.doc.state]).sort(), [['old-e0', 'closed'], ['web-e0', 'open']]);
    // the old one stays open in the store as if its closing write was lost in a crash
    const oldOpen = { ...writes.find((w) => w.doc.id === 'old-e0')!, version: 4 };
    oldOpen.doc = { ...oldOpen.doc, state: 'open' };
    await writer.write([oldOpen, writes.find((w) => w.doc.id === 'web-e0')!]);
    await writer.close();

    // second life
    const { docs, watermark } = await loadRecentContexts(client, prefix, { openHorizonMs: 1_800_000, closedHorizonMs: 60_000 });
    assert.equal(watermark, T0 + 200);
    assert.deepEqual(docs.map((d) => d.id), ['web-e0'], 'only the young open context comes back');
    assert.equal(docs[0]!.members.length, 3);
    assert.equal(await sweepStaleOpen(client, prefix, 1_800_000, { refresh: true }), 1);
    const swept = await getDoc<EsContextSource>(client, names.contexts, 'old-e0');
    assert.equal(swept._source!.state, 'closed');
    assert.equal(swept._version, 5);

    const c2 = createClusterer({});
    assert.deepEqual(restoreContexts(c2, docs, watermark), { contexts: 1, sessions: false });
    assert.equal(c2.openContexts, 1);
    const resent = countingReceipt();
    const fresh = countingReceipt();
    // a re-sent event (already stored) and a new one of the same action
    c2.push([{ ...live[2]!, receipt: resent }, { ...deployment(3, T0 + 300, 'web'), receipt: fresh }]);
    const w2 = c2.collect(T0 + 400);
    assert.equal(w2.length, 1);
    assert.equal(w2[0]!.doc.id, 'web-e0', 'same context id as before the restart');
    assert.equal(w2[0]!.doc.eventCount, 4, 'the re-sent event is not counted twice');
    assert.deepEqual(w2[0]!.added, ['web-e3']);
    assert.equal(w2[0]!.doc.trigger.userAgent, 'kubectl/v1.30.2 (linux/amd64) kubernetes/abc', 'the trigger keeps its stored identity');
    const writer2 = createContextWriter({ client, prefix, refresh: true });
    await writer2.write(w2);
    await writer2.close();
    assert.equal(resent.settled, 1);
    assert.equal(fresh.settled, 1);
    const got = await getDoc<EsContextSource>(client, names.contexts, 'web-e0');
    assert.equal(got._source!.eventCount, 4);
    assert.equal((await client.count({ index: names.members, query: { term: { contextId: 'web-e0' } } })).count, 4);
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('periodic sweeper: closes a stale open document only once a whole interval passed without a write; one a replica keeps writing stays open', async () => {
  const client = testClient();
  const prefix = uniquePrefix('sweeper');
  try {
    await ensureIndexTemplates(client, prefix);
    const names = indexNames(prefix);
    const c = createClusterer({});
    // a crashed instance's context, an hour old; another replica's context, as old, still written to; the newest one
    const crashed = [deployment(0, T0 - 3_600_000, 'crashed', 'alice'), deployment(1, T0 - 3_599_000, 'crashed')];
    const lagging = [deployment(0, T0 - 3_600_000, 'lagging', 'bob'), deployment(1, T0 - 3_599_000, 'lagging')];
    const fresh = [deployment(0, T0, 'fresh', 'carol')];
    c.push([...crashed, ...lagging, ...fresh]);
    const writes = c.collect(T0 + 100).map((w) => ({ ...w, doc: { ...w.doc, state: 'open' as const }, version: 2 * w.doc.eventCount }));
    const writer = createContextWriter({ client, prefix, refresh: true });
    await writer.write(writes);
    const sweeper = new StaleSweeper({ client, prefix, horizonMs: 1_800_000, intervalMs: 60_000, refresh: true });
    assert.equal(await sweeper.pass(), 0, 'the first pass only notes the candidates');
    // the lagging replica adds a member meanwhile (a higher version)
    const lag = writes.find((w) => w.doc.id === 'lagging-e0')!;
    await client.index({ index: names.contexts, id: 'lagging-e0', version: lag.version! + 2, version_type: 'external', document: { ...lag.doc, eventCount: 3 }, refresh: true });
    assert.equal(await sweeper.pass(), 1, 'the second pass closes what nobody wrote in between');
    const state = async (id: string) => (await client.get<EsContextSource>({ index: names.contexts, id }))._source!.state;
    assert.equal(await state('crashed-e0'), 'closed');
    assert.equal(await state('lagging-e0'), 'open', 'a context written since the last pass is live');
    assert.equal(await state('fresh-e0'), 'open', 'a young context is never a candidate');
    assert.equal(await sweeper.pass(), 1, 'unchanged for a whole interval now: closed');
    assert.equal(await state('lagging-e0'), 'closed');
    await writer.close();
    await sweeper.stop();
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});
