/**
 * The raw path of the end-to-end benchmark, the one kontext replaces: a forward input (the
 * same decoder kontext uses) whose records are bulk-indexed as they are, one document per
 * audit event (`_id` = auditID), into one index with a template like Elastic's Kubernetes
 * audit integration (keywords, request/response objects `flattened`, no dynamic-field
 * explosion). A chunk is acked only after Elasticsearch acknowledged its bulk, as kontext does.
 *
 * Run as a child process by src/bench/e2e.ts:
 *   node --import tsx src/bench/raw-forward.ts <elasticsearch-url> <index>
 * prints `forward <port>` on stdout once listening; SIGTERM stops it.
 */
import type { Client } from '@elastic/elasticsearch';
import { createEsClient } from '../store/es-client.ts';
import { ForwardServer } from '../sources/forward/index.ts';
import type { Downstream, Receipt } from '../types/pipeline.ts';

/** Index template of the raw baseline: what an integration-like mapping of audit events looks like. */
export function rawTemplate(index: string, codec: 'default' | 'best_compression' = 'default'): Record<string, unknown> {
  return {
    index_patterns: [index],
    priority: 500,
    template: {
      settings: { number_of_shards: 1, number_of_replicas: 0, 'index.codec': codec, 'index.mapping.total_fields.limit': 2000 },
      mappings: {
        dynamic_templates: [{ strings: { match_mapping_type: 'string', mapping: { type: 'keyword', ignore_above: 1024 } } }],
        properties: {
          '@timestamp': { type: 'date' },
          requestReceivedTimestamp: { type: 'date' },
          stageTimestamp: { type: 'date' },
          auditID: { type: 'keyword' },
          verb: { type: 'keyword' },
          requestURI: { type: 'keyword', ignore_above: 2048 },
          userAgent: { type: 'keyword', ignore_above: 1024 },
          sourceIPs: { type: 'ip' },
          annotations: { type: 'flattened' },
          requestObject: { type: 'flattened', ignore_above: 1024 },
          responseObject: { type: 'flattened', ignore_above: 1024 },
          responseStatus: { properties: { code: { type: 'long' }, status: { type: 'keyword' }, reason: { type: 'keyword' }, message: { type: 'text' }, details: { type: 'flattened' } } },
          user: { properties: { username: { type: 'keyword' }, uid: { type: 'keyword' }, groups: { type: 'keyword' }, extra: { type: 'flattened' } } },
          impersonatedUser: { type: 'flattened' },
          objectRef: { type: 'flattened' },
        },
      },
    },
  };
}

export async function putRawTemplate(client: Client, index: string, codec: 'default' | 'best_compression' = 'default'): Promise<void> {
  await client.indices.putIndexTemplate({ name: `${index}-template`, ...(rawTemplate(index, codec) as any) });
}

/** a Downstream that bulk-indexes every record and settles the receipt when Elasticsearch answered */
export function rawDownstream(client: Client, index: string): Downstream & { stored: number; failed: number } {
  let inFlight = 0;
  const drains: Array<() => void> = [];
  const state = {
    stored: 0,
    failed: 0,
    get saturated() { return inFlight > 100_000; },
    onDrain(cb: () => void) { if (inFlight <= 100_000) cb(); else drains.push(cb); },
    push(records: unknown[], receipt?: Receipt) {
      inFlight += records.length;
      const ops: string[] = [];
      for (const r of records) {
        const id = (r as { auditID?: unknown }).auditID;
        const ts = (r as { requestReceivedTimestamp?: unknown }).requestReceivedTimestamp;
        ops.push(JSON.stringify({ create: { _index: index, ...(typeof id === 'string' ? { _id: id } : {}) } }), JSON.stringify({ '@timestamp': ts, ...(r as object) }));
      }
      client.bulk({ operations: (ops.join('\n') + '\n') as any }).then((resp) => {
        let bad = 0;
        for (const it of resp.items) { const st = it.create?.status ?? 0; if (st >= 300 && st !== 409) bad++; }
        state.stored += records.length - bad;
        state.failed += bad;
        if (bad) receipt?.fail(new Error(`${bad} raw documents refused`)); else receipt?.settle(records.length);
      }, (err: unknown) => { state.failed += records.length; receipt?.fail(err as Error); })
        .finally(() => { inFlight -= records.length; if (inFlight <= 100_000) for (const cb of drains.splice(0)) cb(); });
    },
  };
  return state;
}

async function main(): Promise<void> {
  const [url, index] = process.argv.slice(2);
  if (!url || !index) throw new Error('usage: raw-forward.ts <elasticsearch-url> <index>');
  const client = createEsClient({ elasticsearchUrl: url });
  await putRawTemplate(client, index);
  const down = rawDownstream(client, index);
  const server = new ForwardServer(down, { host: '127.0.0.1', port: 0, hostname: 'kontext-bench-raw', idleTimeout: 600_000 });
  const { port } = await server.listen();
  process.stdout.write(`forward ${port}\n`);
  process.once('SIGTERM', () => {
    void server.close({ graceMs: 0 }).then(() => client.close()).then(() => {
      process.stdout.write(`stored ${down.stored} failed ${down.failed}\n`);
      process.exit(0);
    });
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!)) {
  main().catch((e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`); process.exit(1); });
}
