/** Elasticsearch client from configuration (the only place a Client is constructed). */
import { Client } from '@elastic/elasticsearch';
import type { Config } from '../config/config.ts';
import { instrumentEsClient } from './es-metrics.ts';

export type EsConfig = Partial<Pick<Config, 'elasticsearchUsername' | 'elasticsearchPassword' | 'elasticsearchApiKey'>> & { elasticsearchUrl: string };

export function createEsClient(cfg: EsConfig, opts: { requestTimeout?: number; maxRetries?: number } = {}): Client {
  return instrumentEsClient(new Client({
    node: cfg.elasticsearchUrl,
    auth: cfg.elasticsearchApiKey ? { apiKey: cfg.elasticsearchApiKey }
      : cfg.elasticsearchUsername ? { username: cfg.elasticsearchUsername, password: cfg.elasticsearchPassword ?? '' } : undefined,
    requestTimeout: opts.requestTimeout ?? 30_000,
    maxRetries: opts.maxRetries ?? 3,
    compression: false,
  }));
}

/** Waits until the cluster answers (yellow or better), for start-up ordering. */
export async function waitForEs(client: Client, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await client.cluster.health({ wait_for_status: 'yellow', timeout: '5s' });
      return;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`Elasticsearch not reachable within ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
}
