/**
 * `kontext migrate`: summaries of the embedded-members layout (members inside the summary,
 * an indexed memberIds) are moved to member documents; a second run finds nothing to do; a
 * member already stored is left where it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testClient, uniquePrefix, deleteIndices } from './helpers/es.ts';
import { indexNames } from '../src/store/codec.ts';
import { membersOf } from '../src/store/read.ts';
import { countOldLayout, migrateEmbeddedMembers } from '../src/store/migrate-embedded.ts';

const T0 = Date.UTC(2026, 0, 1, 10);

function oldDoc(id: string, n: number) {
  const members = Array.from({ length: n }, (_, i) => ({ auditID: `${id}-m${i}`, time: T0 + i, user: 'alice', verb: 'create', resource: 'apps/deployments', namespace: 'shop', name: `d${i}`, code: 201 }));
  return { id, label: 'create apps/deployments', state: 'closed', start: T0, end: T0 + n, eventCount: n, members, memberIds: members.map((m) => m.auditID) };
}

test('migrate: embedded members become member documents, idempotently, keeping what is stored', async () => {
  const client = testClient();
  const prefix = uniquePrefix('migrate');
  const names = indexNames(prefix);
  try {
    // an index created by the old layout
    await client.indices.create({ index: names.contexts, mappings: { dynamic: false, properties: { id: { type: 'keyword' }, state: { type: 'keyword' }, end: { type: 'date' }, members: { type: 'object', enabled: false }, memberIds: { type: 'keyword' } } } });
    const docs = [oldDoc('a', 3), oldDoc('b', 250), oldDoc('c', 1)];
    await client.bulk({ refresh: true, operations: docs.flatMap((d) => [{ index: { _index: names.contexts, _id: d.id, version: 2 * d.eventCount + 1, version_type: 'external' } }, d]) });
    // one member the pipeline stored already (in its context)
    await client.index({ index: names.members, id: 'c-m0', document: { contextId: 'c', auditID: 'c-m0', time: T0, user: 'alice', verb: 'create', resource: 'apps/deployments', code: 201 }, refresh: true });
    assert.equal(await countOldLayout(client, prefix), 3);
    // index set-up (every start, and kontext migrate) moves the single-index layout into day
    // indices and splits the embedded members into member documents on the way
    const p = await migrateEmbeddedMembers(client, prefix, { pageSize: 2, refresh: true });
    assert.equal(p.total, 0, 'nothing left in the embedded layout after index set-up');
    assert.equal(await countOldLayout(client, prefix), 0);
    const got = await membersOf(client, prefix, ['a', 'b', 'c']);
    assert.deepEqual(['a', 'b', 'c'].map((id) => got.get(id)?.length), [3, 250, 1]);
    const found: any = await client.search({ index: names.contexts, query: { ids: { values: ['b'] } }, version: true });
    const summary = found.hits.hits[0];
    assert.equal(summary._source!.members, undefined, 'the summary is small again');
    assert.equal(summary._version, 501, 'rewritten at its own version');
    assert.equal(summary._source!.eventCount, 250);
    const again = await migrateEmbeddedMembers(client, prefix, { refresh: true });
    assert.equal(again.total, 0, 'a second run has nothing to do');
    assert.equal((await client.count({ index: names.members })).count, 254);
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});
