#!/usr/bin/env -S node --import tsx
/**
 * Write amplification of the context store: replays an audit log file through the same
 * pipeline as `kontext ingest` into a fresh index prefix, counts the bytes of every bulk
 * request body sent to Elasticsearch (a client diagnostic hook, so it measures any version
 * of the writer alike), and divides by the bytes finally stored: the `_source` JSON of every
 * document under the prefix (logical) and the primary store size after a force-merge (disk).
 *
 *   ELASTICSEARCH_URL=http://127.0.0.1:9200 node --import tsx scripts/write-amplification.ts FILE [--keep]
 *
 * Prints one JSON line; deletes its indices unless --keep.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/config.ts';
import { createEsClient } from '../src/store/es-client.ts';
import { buildPipeline } from '../src/pipeline/build.ts';
import { replayFile } from '../src/sources/file/index.ts';
import { setLogLevel } from '../src/util/log.ts';

const file = process.argv[2];
if (!file || !process.env.ELASTICSEARCH_URL) {
  process.stderr.write('usage: ELASTICSEARCH_URL=... node --import tsx scripts/write-amplification.ts FILE [--keep]\n');
  process.exit(2);
}
setLogLevel('warn');
const prefix = `wa-${randomBytes(3).toString('hex')}`;
const cfg = loadConfig({ 'index-prefix': prefix });
const client = createEsClient({ elasticsearchUrl: process.env.ELASTICSEARCH_URL }, { requestTimeout: 120_000 });
let sent = 0; let bulks = 0;
client.diagnostic.on('request', (_err, ev) => {
  const p = ev?.meta.request.params;
  if (!p || !String(p.path).endsWith('/_bulk')) return;
  const b = p.body as string | Buffer | undefined;
  if (b !== undefined) { sent += typeof b === 'string' ? Buffer.byteLength(b) : b.length; bulks++; }
});
const t0 = Date.now();
const built = await buildPipeline(cfg, client);
const r = await replayFile(file, built.pipeline, { progress: false });
await built.pipeline.flushAll();
await r.settled;
await built.pipeline.stop();
const seconds = (Date.now() - t0) / 1000;

const index = `${prefix}-*`;
await client.indices.refresh({ index });
let logical = 0; let docs = 0;
const byIndex: Record<string, number> = {};
let resp: any = await client.search({ index, scroll: '1m', size: 5000, query: { match_all: {} } });
while (resp.hits.hits.length) {
  for (const h of resp.hits.hits) {
    const n = Buffer.byteLength(JSON.stringify(h._source));
    logical += n; docs++;
    const k = String(h._index).slice(prefix.length + 1);
    byIndex[k] = (byIndex[k] ?? 0) + n;
  }
  resp = await client.scroll({ scroll_id: resp._scroll_id, scroll: '1m' });
}
await client.clearScroll({ scroll_id: resp._scroll_id }).catch(() => {});
await client.indices.forcemerge({ index, max_num_segments: 1, wait_for_completion: true }, { requestTimeout: 600_000 });
const stats = await client.indices.stats({ index, metric: ['store'] });
const disk = stats._all.primaries?.store?.size_in_bytes ?? 0;
process.stdout.write(JSON.stringify({
  file, events: r.records, seconds: Math.round(seconds), bulks, bytesSent: sent, storedSourceBytes: logical, storedDocs: docs, storedSourceByIndex: byIndex, diskBytes: disk,
  sentPerStoredByte: Number((sent / Math.max(1, logical)).toFixed(2)), sentPerDiskByte: Number((sent / Math.max(1, disk)).toFixed(2)),
}) + '\n');
if (!process.argv.includes('--keep')) {
  await client.indices.delete({ index, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
}
await client.close();
