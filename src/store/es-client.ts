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

/** Elasticsearch did not answer, or refused kontext, at start-up: the message is one line to act on. */
export class EsUnreachableError extends Error {
  constructor(message: string) { super(message); this.name = 'EsUnreachableError'; }
}

const errText = (e: unknown): string => {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]!.slice(0, 300);
};

/**
 * Waits until the cluster answers (yellow or better), for start-up ordering. Every failed try is
 * reported through `onRetry` (the CLI logs it) so a wrong URL is never silent; refused
 * credentials (401/403) fail at once; after `timeoutMs` an EsUnreachableError names the URL,
 * the attempts and the last error.
 */
export async function waitForEs(client: Client, timeoutMs = 60_000, opts: { url?: string; onRetry?: (info: { attempt: number; error: string; remainingMs: number }) => void; intervalMs?: number } = {}): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const where = opts.url ? `Elasticsearch at ${redactUrl(opts.url)}` : 'Elasticsearch';
  let last: unknown;
  let attempt = 0;
  while (attempt === 0 || Date.now() < deadline) {
    attempt++;
    try {
      await client.cluster.health({ wait_for_status: 'yellow', timeout: '5s' }, { requestTimeout: Math.max(1000, Math.min(10_000, deadline - Date.now())), maxRetries: 0 });
      return;
    } catch (e) {
      last = e;
      const status = (e as { meta?: { statusCode?: number } }).meta?.statusCode;
      if (status === 401 || status === 403) {
        throw new EsUnreachableError(`${where} refused the credentials (HTTP ${status}); check --elasticsearch-username/--elasticsearch-password or --elasticsearch-api-key`);
      }
    }
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) break;
    opts.onRetry?.({ attempt, error: errText(last), remainingMs });
    await new Promise((r) => setTimeout(r, Math.min(opts.intervalMs ?? 1000, remainingMs)));
  }
  throw new EsUnreachableError(`${where} not reachable after ${Math.round((Date.now() - started) / 1000)} s (${attempt} attempt${attempt === 1 ? '' : 's'}): ${errText(last)}; check --elasticsearch-url / ELASTICSEARCH_URL, or leave it unset for a local Elasticsearch`);
}

/** the URL without credentials, for messages */
function redactUrl(u: string): string {
  try { const x = new URL(u); x.username = ''; x.password = ''; return x.toString().replace(/\/$/, ''); } catch { return u; }
}
