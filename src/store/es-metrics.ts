/**
 * Elasticsearch request latency as a histogram (`kontext_es_request_duration_seconds`), by
 * endpoint (`_bulk`, `_search`, `_doc`, … the path's last `_` segment) and outcome, measured from
 * the first attempt to the final answer (client retries included).
 */
import type { Client } from '@elastic/elasticsearch';
import { histogram } from '../util/metrics.ts';

const esLatency = histogram('kontext_es_request_duration_seconds', 'Elasticsearch request latency (retries included), by endpoint and outcome.', { labelNames: ['endpoint', 'outcome'] });

/** `/kontext-contexts/_bulk` → `_bulk`; `/` → `root` */
export function endpointOf(path: string | undefined): string {
  const segs = (path ?? '').split('?')[0]!.split('/').filter(Boolean);
  for (let i = segs.length - 1; i >= 0; i--) if (segs[i]!.startsWith('_')) return segs[i]!;
  return segs.length ? 'index' : 'root';
}

interface DiagMeta { meta?: { request?: { id?: unknown; params?: { path?: string } } } }

export function instrumentEsClient(client: Client): Client {
  const started = new Map<unknown, number>();
  client.diagnostic.on('request', (_err, ev) => {
    const id = (ev as DiagMeta | null)?.meta?.request?.id;
    if (id === undefined || started.has(id)) return;
    if (started.size > 10_000) started.clear(); // answers never came (cannot happen in practice); stay bounded
    started.set(id, performance.now());
  });
  client.diagnostic.on('response', (err, ev) => {
    const meta = (ev as DiagMeta | null)?.meta;
    const id = meta?.request?.id;
    const t0 = started.get(id);
    if (t0 === undefined) return;
    started.delete(id);
    esLatency.observe((performance.now() - t0) / 1000, { endpoint: endpointOf(meta?.request?.params?.path), outcome: err ? 'error' : 'ok' });
  });
  return client;
}
