/**
 * Storage benchmark: one simulated audit stream stored twice in the shared Elasticsearch —
 * as raw events the way Fluent Bit's `es` output writes them (whole record + `@timestamp`,
 * Logstash_Format daily index, Replace_Dots, dynamic mapping, default codec) and as kontext
 * contexts through the context writer — then refresh, force-merge to one segment and compare
 * `store.size_in_bytes` (contexts = summaries + member documents). Verifies that every auditID
 * resolves to exactly one context through its member document, reports the write
 * amplification (bulk bytes sent per byte of `_source` stored), and scores the contexts
 * against the simulator's ground truth (oracle labels).
 */
import type { Client } from '@elastic/elasticsearch';
import { randomBytes } from 'node:crypto';
import type { BenchOptions, BenchResult } from './types.ts';
import type { AuditEvent } from '../types/audit.ts';
import { TRUTH_CONTEXT_ANNOTATION } from '../types/audit.ts';
import type { LabeledEvent } from '../types/pipeline.ts';
import { simulate } from '../simulate/index.ts';
import { createEsClient } from '../store/es-client.ts';
import { ensureIndexTemplates } from '../store/templates.ts';
import { createContextWriter } from '../store/writer.ts';
import { indexNames } from '../store/codec.ts';
import { ownersOf } from '../store/read.ts';
import { createClusterer } from '../cluster/clusterer.ts';
import { oracleLabel, reorder } from '../cluster/replay.ts';
import { evaluateContexts, formatContextEvaluation } from '../eval/contexts.ts';
import { Progress } from '../util/progress.ts';
import { putRawTemplate } from './raw-forward.ts';

const MIN = 60_000;

/** Fluent Bit `Replace_Dots On`: dots in keys become underscores (nested objects too). */
function replaceDots(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(replaceDots);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k.includes('.') ? k.replaceAll('.', '_') : k] = replaceDots(x);
    return out;
  }
  return v;
}

function logstashDay(t: number): string {
  const d = new Date(t);
  return `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** Waits until every shard's retention leases cover all operations (so merges may drop history). */
async function waitForRetentionLeases(client: Client, index: string, maxWaitMs: number): Promise<void> {
  const deadline = Date.now() + maxWaitMs;
  while (Date.now() < deadline) {
    const s: any = await client.indices.stats({ index, level: 'shards', metric: ['docs'], filter_path: ['indices.*.shards.*.seq_no', 'indices.*.shards.*.retention_leases'] } as any);
    let ok = true;
    for (const idx of Object.values<any>(s.indices ?? {})) {
      for (const copies of Object.values<any>(idx.shards ?? {})) {
        for (const sh of copies) {
          const max = sh.seq_no?.max_seq_no ?? -1;
          for (const l of sh.retention_leases?.leases ?? []) if (l.retaining_seq_no <= max) ok = false;
        }
      }
    }
    if (ok) return;
    await new Promise((res) => setTimeout(res, 2_000));
  }
}

/**
 * Bytes on disk after refresh + forcemerge to one segment, in steady state: Elasticsearch keeps
 * the history of recent operations (soft-deleted older versions of rewritten contexts and the
 * recovery source) until the shard's retention lease moves past them, which it does on a 30 s
 * sync. The merge runs after that, and is repeated while deleted documents remain.
 */
async function storeBytes(client: Client, index: string, maxWaitMs = 120_000): Promise<{ bytes: number; docs: number; deleted: number; segments: number }> {
  await client.indices.refresh({ index });
  await client.indices.flush({ index });
  await waitForRetentionLeases(client, index, maxWaitMs);
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    await client.indices.forcemerge({ index, max_num_segments: 1, wait_for_completion: true }, { requestTimeout: 600_000 });
    await client.indices.refresh({ index });
    const s = await client.indices.stats({ index, metric: ['store', 'docs', 'segments'] });
    const p = s._all.primaries;
    const r = { bytes: p?.store?.size_in_bytes ?? 0, docs: p?.docs?.count ?? 0, deleted: p?.docs?.deleted ?? 0, segments: p?.segments?.count ?? 0 };
    if (process.env.KONTEXT_BENCH_DEBUG) {
      const f = await client.indices.stats({ index, metric: ['segments'], include_segment_file_sizes: true });
      console.error(index, r, JSON.stringify(Object.fromEntries(Object.entries((f._all.primaries?.segments?.file_sizes ?? {}) as Record<string, { size_in_bytes: number }>).map(([k, v]) => [k, v.size_in_bytes]))));
    }
    if (r.deleted === 0 || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 5_000));
  }
}

export interface StorageRunOptions extends BenchOptions {
  /** simulated minutes (default 30, quick 2) */
  minutes?: number;
  seed?: number;
  url?: string;
}

export async function run(opts: StorageRunOptions): Promise<BenchResult> {
  const url = opts.url ?? process.env.ELASTICSEARCH_URL;
  if (!url) throw new Error('storage benchmark needs Elasticsearch: set ELASTICSEARCH_URL');
  const minutes = opts.minutes ?? (opts.quick ? 2 : 30);
  const seed = opts.seed ?? 7;
  const client = createEsClient({ elasticsearchUrl: url }, { requestTimeout: 120_000 });
  // raw writes on their own client, so the contexts client counts only kontext's bulk bytes
  const rawClient = createEsClient({ elasticsearchUrl: url }, { requestTimeout: 120_000 });
  const prefix = `bench-storage-${randomBytes(3).toString('hex')}`;
  const rawPrefix = `${prefix}-fluentbit`;
  const names = indexNames(prefix);
  const log = opts.log;
  try {
    await ensureIndexTemplates(client, prefix);
    const writer = createContextWriter({ client, prefix });
    // the same contexts once more with the default codec (same mappings, `index.codec: default`)
    const defPrefix = `${prefix}-dc`;
    const defNames = indexNames(defPrefix);
    await ensureIndexTemplates(client, defPrefix, { settings: { codec: 'default' } });
    const defWriter = createContextWriter({ client: rawClient, prefix: defPrefix });
    // raw events with an integration-like keyword template (no dynamic-field explosion), in both codecs
    const kwIndex = { default: `${prefix}-rawkw-default`, best_compression: `${prefix}-rawkw-best` } as const;
    await putRawTemplate(client, kwIndex.default, 'default');
    await putRawTemplate(client, kwIndex.best_compression, 'best_compression');
    let sentBytes = 0;
    const onRequest = (_err: unknown, ev: any) => {
      const p = ev?.meta?.request?.params;
      if (!p || !String(p.path).endsWith('/_bulk')) return;
      const b = p.body as string | Buffer | undefined;
      if (typeof b === 'string') sentBytes += Buffer.byteLength(b); else if (b) sentBytes += b.length;
    };
    const cl = createClusterer();
    const truth = new Map<string, string>();
    const rawIndices = new Set<string>();
    let rawBuf: unknown[] = [];
    let rawDocs = 0; let rawRejected = 0; let rawJsonBytes = 0;
    const rejectReasons = new Map<string, number>();
    const flushRaw = async () => {
      if (!rawBuf.length) return;
      const ops = rawBuf; rawBuf = [];
      const resp = await rawClient.bulk({ operations: ops });
      if (resp.errors) {
        for (const it of resp.items) {
          const err = it.create?.error;
          if (!err) continue;
          rawRejected++;
          const why = `${err.type}: ${String(err.reason ?? '').replace(/\[\d+:\d+\] /, '').slice(0, 160)}`;
          rejectReasons.set(why, (rejectReasons.get(why) ?? 0) + 1);
        }
      }
    };
    const ensureRawIndex = async (index: string) => {
      if (rawIndices.has(index)) return;
      rawIndices.add(index);
      // Elasticsearch defaults (dynamic mapping, default codec), one shard and no replica like the
      // contexts index; fields past the 1000-field limit are kept in _source but not indexed so no
      // record is rejected for mapping explosion (request/response bodies).
      await client.indices.create({ index, settings: { number_of_shards: 1, number_of_replicas: 0, 'mapping.total_fields.ignore_dynamic_beyond_limit': true } });
    };

    client.diagnostic.on('request', onRequest);
    const simOpts = { seed, durationMs: minutes * MIN };
    log(`storage: simulating ${minutes} min (seed ${seed}), writing raw events and contexts under ${prefix}-*`);
    const progress = new Progress({ label: 'storage', unit: 'events' });
    const tick = 1_000;
    let nextTick = -Infinity;
    let batch: LabeledEvent[] = [];
    let events = 0;
    const pendingWrites: Promise<unknown>[] = [];

    const source = function* (): Generator<LabeledEvent> {
      for (const a of simulate(simOpts) as Iterable<AuditEvent>) yield oracleLabel(a);
    };
    for (const e of reorder(source())) {
      const a = e.audit;
      events++;
      const ctx = a.annotations?.[TRUTH_CONTEXT_ANNOTATION];
      if (ctx) truth.set(a.auditID, ctx);
      // raw: what Fluent Bit's es output sends (Logstash_Format, Replace_Dots, @timestamp)
      const index = `${rawPrefix}-${logstashDay(e.time)}`;
      await ensureRawIndex(index);
      const doc = { '@timestamp': new Date(Date.parse(a.stageTimestamp)).toISOString(), ...(replaceDots(a) as object) };
      rawJsonBytes += JSON.stringify(a).length;
      rawBuf.push({ create: { _index: index } }, doc);
      const kwDoc = { '@timestamp': a.requestReceivedTimestamp, ...a };
      rawBuf.push({ create: { _index: kwIndex.default, _id: a.auditID } }, kwDoc, { create: { _index: kwIndex.best_compression, _id: a.auditID } }, kwDoc);
      rawDocs++;
      if (rawBuf.length >= 6_000) await flushRaw();
      // contexts: the pipeline's flush tick on event time
      if (nextTick === -Infinity) nextTick = e.time + tick;
      if (e.time >= nextTick) {
        cl.push(batch); batch = [];
        while (e.time >= nextTick) nextTick += tick;
        const writes = cl.collect(nextTick - tick);
        if (writes.length) { pendingWrites.push(writer.write(writes)); pendingWrites.push(defWriter.write(writes)); }
        if (writer.backlog > 50_000) await writer.drain();
      }
      batch.push(e);
      progress.tick(1);
    }
    cl.push(batch);
    const last = cl.collect(undefined, true);
    pendingWrites.push(writer.write(last), defWriter.write(last));
    await flushRaw();
    await Promise.all(pendingWrites);
    await writer.close();
    await defWriter.close();
    progress.finish();
    log(`storage: ${events} events, ${rawRejected} raw records rejected; measuring after refresh + forcemerge`);

    client.diagnostic.off('request', onRequest);
    // each waits for its shards' retention leases (a 30 s sync): measured side by side
    const [raw, ctx, ctxDefault, rawKwDefault, rawKwBest] = await Promise.all([
      storeBytes(client, `${rawPrefix}-*`),
      storeBytes(client, `${names.contexts},${names.members}`),
      storeBytes(client, `${defNames.contexts},${defNames.members}`),
      storeBytes(client, kwIndex.default),
      storeBytes(client, kwIndex.best_compression),
    ]);
    const perEvent = (b: number) => b / Math.max(1, events);
    const less = (a: number, b: number) => (b > 0 ? (1 - a / b) * 100 : 0);
    const codecTable = ['| stored as | codec | bytes per event | contexts: reduction vs this |', '|---|---|---|---|',
      `| raw, Fluent Bit es output (dynamic mapping) | default | ${(raw.bytes / Math.max(1, raw.docs)).toFixed(1)} | ${less(perEvent(ctxDefault.bytes), raw.bytes / Math.max(1, raw.docs)).toFixed(1)}% (contexts default codec) |`,
      `| raw, keyword template like the Kubernetes audit integration | default | ${perEvent(rawKwDefault.bytes).toFixed(1)} | ${less(perEvent(ctxDefault.bytes), perEvent(rawKwDefault.bytes)).toFixed(1)}% (contexts default codec) |`,
      `| raw, keyword template like the Kubernetes audit integration | best_compression | ${perEvent(rawKwBest.bytes).toFixed(1)} | ${less(perEvent(ctx.bytes), perEvent(rawKwBest.bytes)).toFixed(1)}% (contexts best_compression) |`,
      `| kontext contexts (summaries + member documents) | default | ${perEvent(ctxDefault.bytes).toFixed(1)} | |`,
      `| kontext contexts (summaries + member documents) | best_compression | ${perEvent(ctx.bytes).toFixed(1)} | |`].join('\n');
    // bytes finally stored: the _source of every summary and member document
    let storedSource = 0;
    {
      let r: any = await client.search({ index: `${names.contexts},${names.members}`, scroll: '1m', size: 5000, query: { match_all: {} } });
      while (r.hits.hits.length) {
        for (const h of r.hits.hits) storedSource += Buffer.byteLength(JSON.stringify(h._source));
        r = await client.scroll({ scroll_id: r._scroll_id, scroll: '1m' });
      }
      await client.clearScroll({ scroll_id: r._scroll_id }).catch(() => {});
    }
    const writeAmplification = sentBytes / Math.max(1, storedSource);
    // per event: records Elasticsearch rejected (dynamic-mapping conflicts, as with Fluent Bit)
    // are not in the raw index, so raw storage is taken per stored record
    const rawPerEvent = raw.bytes / Math.max(1, raw.docs);
    const ctxPerEvent = ctx.bytes / Math.max(1, events);
    const reduction = rawPerEvent > 0 ? (1 - ctxPerEvent / rawPerEvent) * 100 : 0;
    if (rejectReasons.size) log(`storage: raw records rejected by Elasticsearch: ${[...rejectReasons].map(([k, n]) => `${n}× ${k}`).join('; ')}`);

    // every auditID resolves to exactly one context via its member document (_id = auditID)
    const ids = [...truth.keys()];
    const predicted = new Map<string, string>();
    const multi = 0; // one member document per auditID: the index cannot hold two
    const check = new Progress({ label: 'storage: resolve auditIDs', total: ids.length, unit: 'ids' });
    for (let i = 0; i < ids.length; i += 2_000) {
      const chunk = ids.slice(i, i + 2_000);
      for (const [a, c] of await ownersOf(client, prefix, chunk)) predicted.set(a, c);
      check.tick(chunk.length);
    }
    check.finish();
    const resolved = ids.filter((id) => predicted.has(id)).length;
    const ev = evaluateContexts(predicted, truth);
    log(`storage: raw ${raw.bytes} B (${raw.docs} docs, ${raw.segments} segments), contexts ${ctx.bytes} B (${ctx.docs} docs, ${ctx.deleted} deleted, ${ctx.segments} segments), reduction ${reduction.toFixed(2)}%; write amplification ${writeAmplification.toFixed(2)} (${sentBytes} B sent / ${storedSource} B stored)`);
    log(`storage: contexts vs ground truth (oracle labels)\n${formatContextEvaluation(ev)}`);

    return {
      name: 'storage',
      description: `${minutes} simulated minutes (${events} audit events, seed ${seed}) stored as raw events (Fluent Bit es output, dynamic mapping; and with a keyword template like Elastic's Kubernetes audit integration, default and best_compression codecs) vs as kontext contexts (best_compression, and the same mappings with the default codec); bytes on disk after refresh + forcemerge to 1 segment.`,
      metrics: [
        { name: 'reduction', value: reduction, unit: '%', target: { op: '>=', value: 99 } },
        { name: 'raw_bytes', value: raw.bytes, unit: 'bytes' },
        { name: 'context_bytes', value: ctx.bytes, unit: 'bytes' },
        { name: 'raw_bytes_per_event', value: rawPerEvent, unit: 'bytes' },
        { name: 'context_bytes_per_event', value: ctxPerEvent, unit: 'bytes' },
        { name: 'raw_keyword_template_bytes_per_event_default_codec', value: perEvent(rawKwDefault.bytes), unit: 'bytes' },
        { name: 'raw_keyword_template_bytes_per_event_best_compression', value: perEvent(rawKwBest.bytes), unit: 'bytes' },
        { name: 'context_bytes_per_event_default_codec', value: perEvent(ctxDefault.bytes), unit: 'bytes' },
        { name: 'reduction_vs_keyword_template_same_codec_best_compression', value: less(perEvent(ctx.bytes), perEvent(rawKwBest.bytes)), unit: '%' },
        { name: 'reduction_vs_keyword_template_same_codec_default', value: less(perEvent(ctxDefault.bytes), perEvent(rawKwDefault.bytes)), unit: '%' },
        { name: 'auditids_resolved', value: ids.length ? (resolved / ids.length) * 100 : 0, unit: '%', target: { op: '>=', value: 100 } },
        { name: 'auditids_in_several_contexts', value: multi, unit: 'ids', target: { op: '<=', value: 0 } },
        { name: 'write_amplification', value: writeAmplification, unit: 'bytes sent per byte stored', target: { op: '<=', value: 3 } },
        { name: 'jaccard_trigger', value: ev.trigger.jaccard, unit: 'mean' },
        { name: 'ari_trigger', value: ev.trigger.ari, unit: 'index' },
        { name: 'jaccard_overall', value: ev.overall.jaccard, unit: 'mean' },
        { name: 'ari_overall', value: ev.overall.ari, unit: 'index' },
      ],
      markdown: codecTable,
      details: {
        events, rawDocs: raw.docs, rawRejected, contextBytesSent: sentBytes, contextSourceBytesStored: storedSource, rawRejectReasons: Object.fromEntries(rejectReasons), rawJsonBytes, contexts: ctx.docs, prefix,
        evaluation: ev,
        settings: { raw: 'Fluent Bit es output: Logstash_Format On, Replace_Dots On; ES dynamic mapping, default codec, 1 shard, 0 replicas', contexts: 'schema/elasticsearch/contexts.json + members.json (summaries; one member document per auditID, sorted by context and time; best_compression)' },
      },
    };
  } finally {
    await client.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
    await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
    await client.close();
    await rawClient.close();
  }
}
