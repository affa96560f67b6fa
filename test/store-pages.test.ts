/**
 * Paged searches of the store (real Elasticsearch): every hit exactly once across pages of a
 * fresh search and of a point-in-time view, `maxPages` stops early, a rewrite loop that moves
 * documents out of the query still sees each remaining one, and a missing index is no pages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testClient, uniquePrefix, deleteIndices } from './helpers/es.ts';
import { searchPages } from '../src/store/pages.ts';

test('searchPages: all hits once, in sort order, across short and full pages; maxPages; point in time; missing index', async () => {
  const client = testClient();
  const prefix = uniquePrefix('pages');
  const index = `${prefix}-docs`;
  try {
    const ops = [];
    for (let i = 0; i < 23; i++) ops.push({ index: { _index: index, _id: `d${String(i).padStart(2, '0')}` } }, { id: `d${String(i).padStart(2, '0')}`, n: i, todo: true });
    await client.indices.create({ index, mappings: { properties: { id: { type: 'keyword' }, n: { type: 'integer' }, todo: { type: 'boolean' } } } });
    await client.bulk({ operations: ops, refresh: true });
    const q = { index, query: { match_all: {} }, sort: [{ id: 'asc' }] };

    const pages: string[][] = [];
    for await (const hits of searchPages(client, { ...q, size: 5 })) pages.push(hits.map((h) => h._id));
    assert.deepEqual(pages.map((p) => p.length), [5, 5, 5, 5, 3]);
    assert.deepEqual(pages.flat(), Array.from({ length: 23 }, (_, i) => `d${String(i).padStart(2, '0')}`));

    // a size that divides the total ends on an empty page, not an endless loop
    let n = 0;
    for await (const hits of searchPages(client, { index, query: { range: { n: { lt: 20 } } }, sort: [{ id: 'asc' }], size: 5 })) n += hits.length;
    assert.equal(n, 20);

    const limited: number[] = [];
    for await (const hits of searchPages(client, { ...q, size: 5, maxPages: 2, version: true })) {
      limited.push(hits.length);
      for (const h of hits) assert.equal(typeof h._version, 'number');
    }
    assert.deepEqual(limited, [5, 5]);

    // point in time: documents added during the scan are not seen
    const seen = new Set<string>();
    let added = false;
    for await (const hits of searchPages(client, { index, query: { match_all: {} }, size: 10, pointInTime: '1m' })) {
      for (const h of hits) seen.add(h._id);
      if (!added) { added = true; await client.index({ index, id: 'late', document: { id: 'late', n: 99 }, refresh: true }); }
    }
    assert.equal(seen.size, 23);
    assert.ok(!seen.has('late'));

    // a rewrite loop: each page moves its documents out of the query; every one is still visited once
    const rewritten: string[] = [];
    for await (const hits of searchPages(client, { index, query: { term: { todo: true } }, sort: [{ id: 'asc' }], size: 4 })) {
      await client.bulk({ refresh: true, operations: hits.flatMap((h) => [{ update: { _index: index, _id: h._id } }, { doc: { todo: false } }]) });
      rewritten.push(...hits.map((h) => h._id));
    }
    assert.equal(rewritten.length, 23);
    assert.equal(new Set(rewritten).size, 23);

    let none = 0;
    for await (const hits of searchPages(client, { index: `${prefix}-missing`, query: { match_all: {} }, sort: [{ id: 'asc' }], size: 5 })) none += hits.length;
    assert.equal(none, 0);
  } finally {
    await deleteIndices(client, prefix);
  }
});
