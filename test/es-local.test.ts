import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testClient, uniquePrefix, deleteIndices } from './helpers/es.ts';

test('indexes into and reads back from the real Elasticsearch', async () => {
  const client = testClient();
  const prefix = uniquePrefix('smoke');
  const index = `${prefix}-docs`;
  try {
    await client.index({ index, id: 'a1', document: { user: 'alice', n: 1 }, refresh: 'wait_for' });
    const got = await client.get<{ user: string; n: number }>({ index, id: 'a1' });
    assert.deepEqual(got._source, { user: 'alice', n: 1 });
    const found = await client.search({ index, query: { term: { 'user.keyword': 'alice' } } });
    assert.equal((found.hits.total as { value: number }).value, 1);
  } finally {
    await deleteIndices(client, prefix);
    await client.close();
  }
});
