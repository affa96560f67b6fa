import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { testClient, uniquePrefix, deleteIndices, esUrl, getDoc } from './helpers/es.ts';
import { createEsClient } from '../src/store/es-client.ts';
import { ensureIndexTemplates, loadTemplates } from '../src/store/templates.ts';
import { createContextWriter, rawDay } from '../src/store/writer.ts';
import { dayOf, fromEsDoc, indexNames, memberIdOf, type EsContextSource, type EsMemberSource } from '../src/store/codec.ts';
import { membersOf } from '../src/store/read.ts';
import { createDeadLetterSink } from '../src/store/dead-letter.ts';
import { summarize } from '../src/cluster/summary.ts';
import type { ContextWrite } from '../src/cluster/types.ts';
import { countingReceipt, ev } from './cluster-fixtures.ts';
import { setLogSink } from '../src/util/log.ts';

// expected warnings (rejections, retries) are kept out of the test output
const logLines: string[] = [];
setLogSink((line) => { logLines.push(line); });

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

function contextWrite(id: string, n: number, receipt = countingReceipt(), closed = true): { w: ContextWrite; receipt: ReturnType<typeof countingReceipt> } {
  const events = Array.from({ length: n }, (_, i) => ev({
    id: i === 0 ? id : `${id}-m${i}`, time: T0 + i * 10, label: 'create apps/deployments', user: i === 0 ? 'alice' : 'system:serviceaccount:kube-system:deployment-controller',
    verb: 'create', ref: { resource: i === 0 ? 'deployments' : 'replicasets', apiGroup: 'apps', namespace: 'shop', name: i === 0 ? 'web' : `web-6d4cf56db6` },
    code: 201,
  }));
  const doc = summarize(id, events, closed ? 'closed' : 'open');
  return { w: { doc, version: 2 * n + (closed ? 1 : 0), newEvents: n, receipts: [{ receipt, n }] }, receipt };
}

/** A TCP proxy to the shared Elasticsearch that can be stopped and started (ES "down"/"up"). */
async function esProxy(): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void>; close(): Promise<void> }> {
  const target = new URL(esUrl());
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const start = () => new Promise<void>((resolve, reject) => {
    server = net.createServer((c) => {
      const up = net.connect(Number(target.port), target.hostname);
      sockets.add(c); sockets.add(up);
      c.pipe(up); up.pipe(c);
      const end = () => { c.destroy(); up.destroy(); sockets.delete(c); sockets.delete(up); };
      c.on('error', end); up.on('error', end); c.on('close', end); up.on('close', end);
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { port = (server!.address() as net.AddressInfo).port; resolve(); });
  });
  const stop = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    if (!server) return resolve();
    server.close(() => resolve());
    server = undefined;
  });
  await start();
  return { get port() { return port; }, stop, start, close: stop };
}

test('templates apply idempotently and create the contexts index with the agreed mapping', async () => {
  const client = testClient();
  const prefix = uniquePrefix('store');
  try {
    await ensureIndexTemplates(client, prefix, { createContextsIndex: true });
    await ensureIndexTemplates(client, prefix, { createContextsIndex: true }); // second time: no error, same result
    const names = indexNames(prefix);
    const today = dayOf(Date.now());
    // today's daily index of each kind, reached through its read alias
    const idx = await client.indices.get({ index: names.contexts });
    assert.deepEqual(Object.keys(idx), [names.contextsDay(today)]);
    const got = idx[names.contextsDay(today)]!;
    assert.equal(got.settings?.index?.codec, 'best_compression');
    assert.equal(String(got.settings?.index?.number_of_shards), '1');
    const props = got.mappings!.properties!;
    for (const f of ['label', 'users', 'namespaces', 'resources', 'names', 'verbs', 'flags', 'outcome']) {
      assert.equal((props[f] as { type: string }).type, 'keyword', f);
    }
    assert.equal(props.members, undefined, 'members are not part of the summary document');
    assert.equal((props.start as { type: string }).type, 'date');
    assert.equal((props.action as { fields: Record<string, { type: string }> }).fields.keyword!.type, 'keyword');
    // members: one document per auditID, sorted by context then time on disk
    const mi = (await client.indices.get({ index: names.members }))[names.membersDay(today)]!;
    assert.deepEqual(Object.keys(mi.mappings!.properties!).sort(), ['@timestamp', 'auditID', 'cluster', 'contextId', 'time']);
    assert.deepEqual(mi.mappings!.properties!['@timestamp'], { type: 'alias', path: 'time' }, 'the ECS time of a member is an alias: no bytes stored');
    assert.deepEqual(mi.settings?.index?.sort?.field, ['contextId', 'time']);
    const dl = (await client.indices.get({ index: names.deadLetter }))[names.deadLetterDay(today)]!;
    assert.equal((dl.mappings!.properties!.reason as { type: string }).type, 'keyword');
    const tpl = await client.indices.getIndexTemplate({ name: `${prefix}-*` });
    assert.deepEqual(tpl.index_templates.map((t) => t.name).sort(), [`${prefix}-contexts`, `${prefix}-dead-letter`, `${prefix}-members`, `${prefix}-raw`]);
    assert.throws(() => loadTemplates('Bad Prefix'), /not valid/);
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('writer round-trip: settles receipts after the ack, memberIds resolves every auditID, in-place rewrite', async () => {
  const client = testClient();
  const prefix = uniquePrefix('store');
  const stored: string[] = [];
  try {
    await ensureIndexTemplates(client, prefix);
    const writer = createContextWriter({ client, prefix, refresh: true, onStored: (docs) => stored.push(...docs.map((d) => `${d.id}:${d.state}`)) });
    const a = contextWrite('ctx-a', 5, countingReceipt(), false);
    const p = writer.write([a.w]);
    assert.equal(a.receipt.settled, 0, 'nothing settled before Elasticsearch answered');
    assert.equal(writer.backlog, 5);
    assert.deepEqual(await p, { stored: 1, rejected: 0 });
    assert.equal(a.receipt.settled, 5);
    assert.equal(writer.backlog, 0);

    // the same context, grown and closed: rewritten in place
    const a2 = contextWrite('ctx-a', 7);
    a2.w.newEvents = 2; a2.w.receipts = [{ receipt: a2.receipt, n: 2 }];
    await writer.write([a2.w]);
    assert.equal(a2.receipt.settled, 2);
    // an older state arriving late never overwrites the newer one, and still settles
    const stale = contextWrite('ctx-a', 6);
    stale.w.newEvents = 1; stale.w.receipts = [{ receipt: stale.receipt, n: 1 }];
    assert.deepEqual(await writer.write([stale.w]), { stored: 1, rejected: 0 });
    assert.equal(stale.receipt.settled, 1);
    assert.deepEqual(stored, ['ctx-a:open', 'ctx-a:closed', 'ctx-a:closed']);

    const names = indexNames(prefix);
    const count = await client.count({ index: names.contexts });
    assert.equal(count.count, 1);
    assert.equal((await client.count({ index: names.members })).count, 7, 'one member document per auditID');
    for (const m of a2.w.doc.members) {
      const r = await getDoc<EsMemberSource>(client, names.members, memberIdOf(undefined, m.auditID));
      assert.equal(r._source!.contextId, 'ctx-a');
    }
    const got = await getDoc<EsContextSource>(client, names.contexts, 'ctx-a');
    assert.equal(got._version, 15);
    assert.deepEqual(fromEsDoc(got._source!, (await membersOf(client, prefix, ['ctx-a'])).get('ctx-a')), a2.w.doc);
    // filters on top-level fields
    const byUser = await client.count({ index: names.contexts, query: { bool: { filter: [{ term: { users: 'alice' } }, { term: { 'trigger.namespace': 'shop' } }, { range: { start: { gte: T0 } } }] } } });
    assert.equal(byUser.count, 1);

    await writer.close();
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('permanent refusals go to the dead-letter index with their reason and settle; the rest is stored', async () => {
  const client = testClient();
  const prefix = uniquePrefix('store');
  try {
    await ensureIndexTemplates(client, prefix);
    const deadLetters = createDeadLetterSink({ client, prefix, refresh: true });
    const writer = createContextWriter({ client, prefix, refresh: true, deadLetters });
    const names = indexNames(prefix);
    const bad = contextWrite('ctx-bad', 2);
    (bad.w.doc as unknown as { start: string }).start = 'not a date';
    const good = contextWrite('ctx-good', 2);
    const long = contextWrite('x'.repeat(600), 3);
    assert.deepEqual(await writer.write([bad.w, good.w, long.w]), { stored: 3, rejected: 0 });
    assert.equal(bad.receipt.settled, 2, 'settled once the dead letter is stored (it can never succeed on retry)');
    assert.equal(bad.receipt.failed.length, 0);
    assert.equal(good.receipt.settled, 2);
    assert.equal(long.receipt.settled, 3);
    const dead = await client.search<{ reason: string; stage: string; auditID?: string; record?: string }>({ index: names.deadLetter, size: 100 });
    const reasons = dead.hits.hits.map((h) => h._source!.reason).sort();
    assert.ok(reasons.includes('es-mapping'), `mapping error dead-lettered (${reasons})`);
    assert.ok(reasons.filter((r) => r === 'id-too-long').length >= 1, 'a too-long id dead-lettered');
    assert.ok(dead.hits.hits.every((h) => h._source!.stage === 'store' && h._source!.record));
    assert.ok((await getDoc(client, names.contexts, 'ctx-good')).found);
    assert.ok(logLines.some((l) => l.includes('dead-lettered')), 'logged');
    // the same refusal again is stored once (content-addressed dead letters)
    const again = contextWrite('ctx-bad', 2);
    (again.w.doc as unknown as { start: string }).start = 'not a date';
    await writer.write([again.w]);
    const n = (await client.count({ index: names.deadLetter })).count;
    assert.equal(n, dead.hits.hits.length);
    await writer.close();
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('a replay with members removed and one new event loses nothing: the summary is recomputed from the store', async () => {
  const client = testClient();
  const prefix = uniquePrefix('store');
  try {
    await ensureIndexTemplates(client, prefix);
    const writer = createContextWriter({ client, prefix, refresh: true });
    const names = indexNames(prefix);
    const full = contextWrite('ctx-r', 10);
    await writer.write([full.w]);
    // the same context rebuilt from a copy with members 3 and 4 missing and one new event
    const events = contextWrite('ctx-r', 10).w.doc.members.filter((_, i) => i !== 3 && i !== 4);
    const extra = { ...events[1]!, auditID: 'ctx-r-new', time: T0 + 55 };
    const replay = contextWrite('ctx-r', 9);
    replay.w.doc = { ...replay.w.doc, members: [...events, extra].sort((a, b) => a.time - b.time), eventCount: 9 };
    replay.w.version = 19;
    replay.w.receipts = [{ receipt: replay.receipt, n: 9 }];
    replay.w.newEvents = 9;
    assert.deepEqual(await writer.write([replay.w]), { stored: 1, rejected: 0 });
    assert.equal(replay.receipt.settled, 9);
    const got = await getDoc<EsContextSource>(client, names.contexts, 'ctx-r');
    assert.equal(got._source!.eventCount, 11, 'every stored member kept, the new one added');
    assert.ok(got._version! >= 21);
    const members = (await membersOf(client, prefix, ['ctx-r'])).get('ctx-r')!;
    assert.equal(members.length, 11);
    assert.equal((await getDoc<EsMemberSource>(client, names.members, memberIdOf(undefined, 'ctx-r-new')))._source!.contextId, 'ctx-r');

    // a member already stored in another context stays there and is not counted twice
    const other = contextWrite('ctx-o', 2);
    other.w.doc = { ...other.w.doc, members: [other.w.doc.members[0]!, { ...other.w.doc.members[1]!, auditID: 'ctx-r-m5' }] };
    await writer.write([other.w]);
    assert.equal(other.receipt.settled, 2, 'held by a stored document (the other context)');
    assert.equal((await getDoc<EsMemberSource>(client, names.members, memberIdOf(undefined, 'ctx-r-m5')))._source!.contextId, 'ctx-r');
    assert.equal((await getDoc<EsContextSource>(client, names.contexts, 'ctx-o'))._source!.eventCount, 1);
    assert.equal((await getDoc<EsContextSource>(client, names.contexts, 'ctx-r'))._source!.eventCount, 11);
    await writer.close();
    await writer.close();
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('Elasticsearch down: nothing settles, writes retry with backoff, then succeed', async () => {
  const client = testClient();
  const prefix = uniquePrefix('store');
  const proxy = await esProxy();
  const viaProxy = createEsClient({ elasticsearchUrl: `http://127.0.0.1:${proxy.port}` }, { maxRetries: 0, requestTimeout: 2000 });
  try {
    await ensureIndexTemplates(client, prefix);
    await proxy.stop();
    const writer = createContextWriter({ client: viaProxy, prefix, refresh: 'wait_for', initialBackoffMs: 50, maxBackoffMs: 200 });
    const a = contextWrite('ctx-down-a', 3, countingReceipt(), false);
    const p = writer.write([a.w]);
    let resolved = false;
    void p.then(() => { resolved = true; });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(resolved, false);
    assert.equal(a.receipt.settled, 0);
    assert.equal(a.receipt.failed.length, 0, 'a transient failure never fails the receipt');
    assert.equal(writer.healthy, false);
    assert.equal(writer.backlog, 3);
    // more writes while down: coalesced by id, nothing lost
    const a2 = contextWrite('ctx-down-a', 4);
    a2.w.newEvents = 1; a2.w.receipts = [{ receipt: a2.receipt, n: 1 }];
    const b = contextWrite('ctx-down-b', 2);
    const p2 = writer.write([a2.w, b.w]);
    assert.equal(writer.backlogDocs, 2);
    await proxy.start();
    await Promise.all([p, p2]);
    assert.equal(writer.healthy, true);
    assert.equal(a.receipt.settled, 3);
    assert.equal(a2.receipt.settled, 1);
    assert.equal(b.receipt.settled, 2);
    assert.equal(writer.backlog, 0);
    const got = await getDoc<EsContextSource>(client, indexNames(prefix).contexts, 'ctx-down-a');
    assert.equal(got._source!.eventCount, 4);
    assert.equal(got._source!.state, 'closed');
    await writer.close();

    // shutdown while Elasticsearch stays down: receipts fail after the timeout (peers resend)
    await proxy.stop();
    const w2 = createContextWriter({ client: viaProxy, prefix, initialBackoffMs: 50, maxBackoffMs: 100 });
    const c = contextWrite('ctx-down-c', 2);
    const pc = w2.write([c.w]);
    await w2.close({ timeoutMs: 300 });
    assert.deepEqual(await pc, { stored: 0, rejected: 1 });
    assert.equal(c.receipt.settled, 0);
    assert.equal(c.receipt.failed.length, 1);
    assert.ok(logLines.some((l) => l.includes('Elasticsearch write failed; retrying')));
  } finally {
    await proxy.close();
    await viaProxy.close();
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('raw index: events stored by day with the context id, expired days deleted without ILM', async () => {
  const client = testClient();
  const prefix = uniquePrefix('store');
  try {
    await ensureIndexTemplates(client, prefix);
    const now = T0 + 10 * 86_400_000;
    const writer = createContextWriter({ client, prefix, refresh: true, rawRetentionMs: 3 * 86_400_000, now: () => now, rawCleanupIntervalMs: 3_600_000 });
    const old = contextWrite('ctx-old', 2);
    old.w.raw = old.w.doc.members.map((m) => ({ auditID: m.auditID, time: m.time, contextId: 'ctx-old', audit: { auditID: m.auditID, verb: m.verb } as never }));
    const fresh = contextWrite('ctx-new', 1);
    fresh.w.raw = [{ auditID: 'raw-new', time: now - 3600_000, contextId: 'ctx-new', audit: { auditID: 'raw-new', verb: 'get' } as never }];
    await writer.write([old.w, fresh.w]);
    const names = indexNames(prefix);
    const r = await client.search({ index: names.raw(rawDay(T0)), query: { term: { contextId: 'ctx-old' } } });
    assert.equal((r.hits.total as { value: number }).value, 2);
    const deleted = await writer.cleanupRaw();
    assert.deepEqual(deleted, [names.raw(rawDay(T0))]);
    assert.equal(await client.indices.exists({ index: names.raw(rawDay(now)) }), true);
    await writer.close();
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});
