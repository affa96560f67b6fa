/** Test access to the real Elasticsearch started by scripts/test.mjs (or ELASTICSEARCH_URL). */
import { randomBytes } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { createEsClient } from '../../src/store/es-client.ts';

export function esUrl(): string {
  const url = process.env.ELASTICSEARCH_URL;
  if (!url) throw new Error('ELASTICSEARCH_URL is not set: run the tests with `npm test`, which starts Elasticsearch');
  return url;
}

export function testClient(): Client {
  return createEsClient({ elasticsearchUrl: esUrl() });
}

/** A fresh index prefix per test so tests never see each other's data. */
export function uniquePrefix(name = 't'): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}

export async function deleteIndices(client: Client, prefix: string): Promise<void> {
  await client.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
}

/**
 * A document by id through a read alias spanning daily indices (a get needs one concrete
 * index): refreshes, then searches by id. Same shape as a get's answer.
 */
export async function getDoc<T = any>(client: Client, alias: string, id: string): Promise<{ found: boolean; _id: string; _index?: string; _version?: number; _source?: T }> {
  await client.indices.refresh({ index: alias, ignore_unavailable: true, allow_no_indices: true });
  const res: any = await client.search({ index: alias, ignore_unavailable: true, allow_no_indices: true, version: true, size: 2, query: { ids: { values: [id] } } });
  const hits: any[] = res.hits.hits;
  if (hits.length > 1) throw new Error(`${id} is stored in ${hits.length} indices behind ${alias}: ${hits.map((h) => h._index).join(', ')}`);
  const h = hits[0];
  return h ? { found: true, _id: h._id, _index: h._index, _version: h._version, _source: h._source } : { found: false, _id: id };
}
