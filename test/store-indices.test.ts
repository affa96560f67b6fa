/**
 * Index layout over time: daily indices named by each document's own time (a context spanning
 * midnight, a replay a day later: stored once), templates versioned and upgraded in place
 * over an older one, the single-index layout migrated with its data readable, retention
 * (kontext's own deletion here: the test Elasticsearch has no ILM), replicas and shards.
 */
import { migrateToClusterIds } from '../src/store/migrate-clusters.ts';
import { scopeDoc } from '../src/clusters/router.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testClient, uniquePrefix, deleteIndices, getDoc } from './helpers/es.ts';
import { ensureIndexTemplates, loadTemplates, putTemplates, replicaSettings } from '../src/store/templates.ts';
import { createContextWriter } from '../src/store/writer.ts';
import { dayOf, indexNames, toEsDoc, toEsMember, type EsContextSource, type EsMemberSource } from '../src/store/codec.ts';
import { membersOf, ownersOf, summariesOf } from '../src/store/read.ts';
import { deleteExpired, expiredIndices, hasIlm, ilmPolicy, startRetention } from '../src/store/retention.ts';
import { createDeadLetterSink } from '../src/store/dead-letter.ts';
import { summarize } from '../src/cluster/summary.ts';
import type { ContextWrite } from '../src/cluster/types.ts';
import { countingReceipt, ev } from './cluster-fixtures.ts';
import { setLogSink } from '../src/util/log.ts';

const logLines: string[] = [];
setLogSink((line) => { logLines.push(line); });

const DAY = 86_400_000;
/** 23:59:59 — a context starting here has members on the next day */
const T0 = Date.UTC(2026, 2, 14, 23, 59, 59);

function contextWrite(id: string, n: number, t0 = T0, step = 400): ContextWrite {
  const events = Array.from({ length: n }, (_, i) => ev({
    id: i === 0 ? id : `${id}-m${i}`, time: t0 + i * step, label: 'create apps/deployments', user: i === 0 ? 'alice' : 'system:serviceaccount:kube-system:deployment-controller',
    verb: 'create', ref: { resource: i === 0 ? 'deployments' : 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web' }, code: 201,
  }));
  const doc = summarize(id, events, 'closed');
  return { doc, version: 2 * n + 1, newEvents: n, receipts: [{ receipt: countingReceipt(), n }] };
}

async function indicesOf(client: ReturnType<typeof testClient>, pattern: string): Promise<string[]> {
  const rows = await client.cat.indices({ index: pattern, format: 'json', h: 'index' }) as Array<{ index?: string }>;
  return rows.map((r) => r.index!).sort();
}

test('daily indices: each document in the day of its own time; a replay a day later is stored once', async () => {
  const client = testClient();
  const prefix = uniquePrefix('days');
  try {
    await ensureIndexTemplates(client, prefix);
    const names = indexNames(prefix);
    const writer = createContextWriter({ client, prefix, refresh: true });
    const w = contextWrite('ctx-mid', 6); // 23:59:59 … 00:00:01
    assert.deepEqual(await writer.write([w]), { stored: 1, rejected: 0 });
    const d0 = dayOf(T0); const d1 = dayOf(T0 + DAY);
    assert.deepEqual(await indicesOf(client, `${prefix}-*`), [names.contextsDay(d0), names.membersDay(d0), names.membersDay(d1)].sort());
    assert.equal((await client.count({ index: names.membersDay(d0) })).count, 3);
    assert.equal((await client.count({ index: names.membersDay(d1) })).count, 3);
    // the same events re-sent a day later (wall time does not matter: the index is the event's)
    const again = contextWrite('ctx-mid', 6);
    assert.deepEqual(await writer.write([again]), { stored: 1, rejected: 0 });
    await client.indices.refresh({ index: [names.contexts, names.members] });
    assert.equal((await client.count({ index: names.members })).count, 6, 'every auditID once across the day indices');
    assert.equal((await client.count({ index: names.contexts })).count, 1);
    // id lookups: realtime with the time, by search without
    const owners = await ownersOf(client, prefix, [{ auditID: 'ctx-mid-m5', time: T0 + 5 * 400 }, 'ctx-mid-m1', 'nope']);
    assert.deepEqual([...owners].sort(), [['ctx-mid-m1', 'ctx-mid'], ['ctx-mid-m5', 'ctx-mid']]);
    const sums = await summariesOf(client, prefix, [{ id: 'ctx-mid', start: T0 }, 'ctx-mid']);
    assert.equal(sums.get('ctx-mid')!.doc.eventCount, 6);
    assert.equal(sums.get('ctx-mid')!.index, names.contextsDay(d0));
    assert.equal((await membersOf(client, prefix, ['ctx-mid'])).get('ctx-mid')!.length, 6);
    // dead letters by the day they were rejected
    const dl = createDeadLetterSink({ client, prefix, refresh: true });
    await dl.put([{ time: T0 + DAY, stage: 'normalize', reason: 'invalid-field', detail: 'x' }]);
    assert.deepEqual(await indicesOf(client, names.deadLetterDaily), [names.deadLetterDay(d1)]);
    await writer.close();
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('templates: an older template is upgraded in place, the single-index layout is migrated, its data stays readable', async () => {
  const client = testClient();
  const prefix = uniquePrefix('upgrade');
  try {
    const names = indexNames(prefix);
    // what an older kontext left: version-1 templates and one index per kind, holding data
    await client.indices.putIndexTemplate({ name: `${prefix}-contexts`, index_patterns: [`${prefix}-contexts*`], priority: 200, version: 1, template: { settings: { index: { number_of_shards: 1, number_of_replicas: 0 } }, mappings: { dynamic: false, properties: { id: { type: 'keyword' }, start: { type: 'date', format: 'epoch_millis' } } } } });
    await client.indices.putIndexTemplate({ name: `${prefix}-members`, index_patterns: [`${prefix}-members*`], priority: 200, template: { settings: { index: { number_of_shards: 1, number_of_replicas: 0 } } } });
    const a = contextWrite('old-a', 3, Date.UTC(2025, 5, 1, 12));
    const b = contextWrite('old-b', 2, Date.UTC(2025, 5, 2, 12));
    const ops: unknown[] = [];
    for (const w of [a, b]) {
      ops.push({ index: { _index: names.contexts, _id: w.doc.id, version: w.version, version_type: 'external_gte' } }, toEsDoc(w.doc));
      for (const m of w.doc.members) ops.push({ create: { _index: names.members, _id: m.auditID } }, toEsMember(w.doc.id, m));
    }
    ops.push({ create: { _index: names.deadLetter, _id: 'dl1' } }, { time: Date.UTC(2025, 5, 3), stage: 'store', reason: 'es-mapping' });
    const r = await client.bulk({ operations: ops, refresh: true });
    assert.equal(r.errors, false);

    await ensureIndexTemplates(client, prefix, { replicas: '0', shards: 1 });
    const tpl = await client.indices.getIndexTemplate({ name: `${prefix}-contexts` });
    const shipped = loadTemplates(prefix).find((t) => t.name === `${prefix}-contexts`)!.body;
    assert.equal(tpl.index_templates[0]!.index_template.version, shipped.version, 'upgraded to the shipped version');
    assert.ok(shipped.version > 1);
    assert.deepEqual(tpl.index_templates[0]!.index_template.index_patterns, [`${prefix}-contexts-*`]);
    assert.ok(logLines.some((l) => l.includes('index template upgraded in place') && l.includes(`${prefix}-contexts`)));
    // the old single indices became daily ones behind the aliases
    const all = await indicesOf(client, `${prefix}-*`);
    assert.deepEqual(all, [names.contextsDay('2025.06.01'), names.contextsDay('2025.06.02'), names.deadLetterDay('2025.06.03'), names.membersDay('2025.06.01'), names.membersDay('2025.06.02')].sort());
    // documents from before clusters become the default cluster's (start-up runs this after the templates)
    assert.deepEqual(await migrateToClusterIds(client, prefix, 'default'), { contexts: 2, members: 5 });
    assert.equal((await getDoc<EsContextSource>(client, names.contexts, 'old-a')).found, false, 'the unscoped summary is gone');
    assert.equal((await getDoc<EsMemberSource>(client, names.members, 'old-a-m2')).found, false, 'the unscoped member is gone');
    const got = await getDoc<EsContextSource>(client, names.contexts, 'default/old-a');
    assert.equal(got._source!.eventCount, 3);
    assert.equal(got._source!.id, 'default/old-a');
    assert.equal(got._source!.cluster, 'default');
    assert.deepEqual((got._source as unknown as { orchestrator: { cluster?: { name: string } } }).orchestrator.cluster, { name: 'default' }, 'its ECS fields name the cluster');
    assert.equal(got._version, a.version, 'the stored version is kept');
    assert.equal((await membersOf(client, prefix, ['default/old-a', 'default/old-b'])).get('default/old-b')!.length, 2);
    const m2 = await getDoc<EsMemberSource>(client, names.members, 'default/old-a-m2');
    assert.deepEqual([m2._source!.contextId, m2._source!.cluster, m2._source!.auditID], ['default/old-a', 'default', 'old-a-m2']);
    assert.equal(m2._index, names.membersDay('2025.06.01'), 'in its own day index');
    assert.deepEqual(await migrateToClusterIds(client, prefix, 'default'), { contexts: 0, members: 0 }, 'nothing left to do');
    assert.equal((await client.count({ index: names.deadLetter })).count, 1);
    // a new kontext writes on: a re-sent old event is not stored twice
    const writer = createContextWriter({ client, prefix, refresh: true });
    const w4 = contextWrite('old-a', 4, Date.UTC(2025, 5, 1, 12));
    assert.deepEqual(await writer.write([{ ...w4, doc: scopeDoc('default', w4.doc) }]), { stored: 1, rejected: 0 });
    await writer.close();
    await client.indices.refresh({ index: names.members });
    assert.equal((await client.count({ index: names.members, query: { term: { contextId: 'default/old-a' } } })).count, 4);
    assert.equal((await client.count({ index: names.members })).count, 6);

    // a second start: nothing to migrate, same version (no upgrade logged again); a newer template is left alone
    logLines.length = 0;
    await ensureIndexTemplates(client, prefix);
    assert.ok(!logLines.some((l) => l.includes('upgraded in place')));
    await client.indices.putIndexTemplate({ name: `${prefix}-raw`, index_patterns: [`${prefix}-raw-*`], priority: 200, version: 999 });
    const did = await putTemplates(client, loadTemplates(prefix));
    assert.equal(did[`${prefix}-raw`], 'newer-kept');
    assert.equal((await client.indices.getIndexTemplate({ name: `${prefix}-raw` })).index_templates[0]!.index_template.version, 999);
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('retention: expired day indices are deleted by kontext without ILM; 0 keeps everything', async () => {
  // the rule: a day index goes once both its day and its creation are past the retention
  const now = Date.UTC(2026, 5, 30, 12);
  const created = String(now - 40 * DAY);
  const rows = [
    { index: 'k-contexts-2026.05.01', 'creation.date': created },
    { index: 'k-members-2026.05.30', 'creation.date': created },
    { index: 'k-members-2026.05.31', 'creation.date': created },
    { index: 'k-dead-letter-2026.04.01', 'creation.date': String(now - DAY) }, // replayed yesterday: kept
    { index: 'k-raw-2026.01.01', 'creation.date': created }, // raw has its own retention
    { index: 'k-contexts', 'creation.date': created },
  ];
  assert.deepEqual(expiredIndices('k', rows, 30 * DAY, now), ['k-contexts-2026.05.01', 'k-members-2026.05.30']);
  assert.deepEqual(expiredIndices('k', rows, 0, now), []);
  assert.deepEqual(ilmPolicy(30 * DAY), { _meta: { managed_by: 'kontext' }, phases: { hot: { min_age: '0ms', actions: {} }, delete: { min_age: '720h', actions: { delete: {} } } } });

  const client = testClient();
  const prefix = uniquePrefix('retain');
  try {
    assert.equal(await hasIlm(client), false, 'the test Elasticsearch (integ-test build) has no ILM');
    await ensureIndexTemplates(client, prefix);
    const writer = createContextWriter({ client, prefix, refresh: true });
    const later = Date.now() + 40 * DAY;
    const newDay = dayOf(later + 5 * DAY);
    await writer.write([contextWrite('r-old', 2, Date.UTC(2026, 0, 1, 12)), contextWrite('r-new', 2, later + 5 * DAY)]);
    await writer.close();
    const names = indexNames(prefix);
    // as seen 40 days from now with 30 days' retention: created 40 days before, the 2026.01.01
    // indices are past it, those of a day after then are not
    const retention = await startRetention({ client, prefix, retentionMs: 30 * DAY, ilm: false, now: () => later });
    assert.equal(retention.mode, 'kontext');
    const deleted = await retention.sweep(); // the start-up sweep, already running
    retention.stop();
    assert.deepEqual(deleted.sort(), [names.contextsDay('2026.01.01'), names.membersDay('2026.01.01')]);
    assert.deepEqual(await indicesOf(client, `${prefix}-*`), [names.contextsDay(newDay), names.membersDay(newDay)]);
    assert.deepEqual(await deleteExpired(client, prefix, 30 * DAY), [], 'nothing is past 30 days as of today');
    assert.equal((await startRetention({ client, prefix, retentionMs: 0, ilm: false })).mode, 'off');
    assert.equal((await startRetention({ client, prefix, retentionMs: DAY, ilm: true })).mode, 'ilm');
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});

test('replicas and shards: a count or an auto-expand range, on new and existing indices', async () => {
  assert.deepEqual(replicaSettings('2'), { number_of_replicas: 2, auto_expand_replicas: false });
  assert.deepEqual(replicaSettings('0-all'), { auto_expand_replicas: '0-all' });
  assert.throws(() => replicaSettings('many'), /not valid/);
  const t = loadTemplates('k', { replicas: '0-1', shards: 3 }).find((x) => x.name === 'k-members')!;
  assert.equal(t.body.template.settings.index.number_of_shards, 3);
  assert.equal(t.body.template.settings.index.auto_expand_replicas, '0-1');
  assert.equal(t.body.template.settings.index.number_of_replicas, undefined);
  const client = testClient();
  const prefix = uniquePrefix('repl');
  try {
    await ensureIndexTemplates(client, prefix, { replicas: '0', shards: 2, createContextsIndex: true });
    const names = indexNames(prefix);
    const day = names.contextsDay(dayOf(Date.now()));
    let s = (await client.indices.getSettings({ index: day }))[day]!.settings!.index!;
    assert.equal(String(s.number_of_shards), '2');
    assert.equal(String(s.number_of_replicas), '0');
    // restarted with another replica setting: existing indices follow (shards only apply to new days)
    await ensureIndexTemplates(client, prefix, { replicas: '0-1' });
    s = (await client.indices.getSettings({ index: day }))[day]!.settings!.index!;
    assert.equal(s.auto_expand_replicas, '0-1');
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});
