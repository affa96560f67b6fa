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
