/**
 * Elasticsearch client from configuration (the only place a Client is constructed): node URL
 * or Elastic Cloud id, API key or user/password, and TLS trust — a CA file (added to the
 * system CAs), a CA fingerprint (the chain must contain that certificate, as Elasticsearch 8+
 * prints at first start), or, for labs only, no verification at all (warned about loudly).
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import type { Config } from '../config/config.ts';
import { ConfigError } from '../config/config.ts';
import { redactUrl } from '../util/redact.ts';
import { log } from '../util/log.ts';
import { instrumentEsClient } from './es-metrics.ts';

export type EsConfig = Partial<Pick<Config,
  'elasticsearchUsername' | 'elasticsearchPassword' | 'elasticsearchApiKey' | 'elasticsearchCloudId'
  | 'elasticsearchCa' | 'elasticsearchCaFingerprint' | 'elasticsearchTlsInsecure'>> & { elasticsearchUrl?: string };

/** Client options (no connection made); throws a ConfigError for an unreadable CA file and the like. */
export function esClientOptions(cfg: EsConfig, opts: { requestTimeout?: number; maxRetries?: number } = {}): ClientOptions {
  if (!cfg.elasticsearchUrl && !cfg.elasticsearchCloudId) throw new ConfigError('Elasticsearch: give --elasticsearch-url or --elasticsearch-cloud-id');
  const tls: NonNullable<ClientOptions['tls']> = {};
  if (cfg.elasticsearchCa) {
    let pem: string;
    try { pem = readFileSync(cfg.elasticsearchCa, 'utf8'); } catch (e) {
      throw new ConfigError(`--elasticsearch-ca: cannot read ${cfg.elasticsearchCa}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`--elasticsearch-ca: ${cfg.elasticsearchCa} holds no PEM certificate`);
    tls.ca = [...rootCertificates, pem];
  }
  let caFingerprint: string | undefined;
  if (cfg.elasticsearchCaFingerprint) {
    caFingerprint = cfg.elasticsearchCaFingerprint.trim().replace(/:/g, '').toUpperCase().replace(/(..)(?!$)/g, '$1:');
    // the chain is checked against the fingerprint instead of the trust store (Elastic's documented way for a self-signed CA)
    if (!cfg.elasticsearchCa) tls.rejectUnauthorized = false;
  }
  if (cfg.elasticsearchTlsInsecure) tls.rejectUnauthorized = false;
  return {
    ...(cfg.elasticsearchCloudId ? { cloud: { id: cfg.elasticsearchCloudId } } : { node: cfg.elasticsearchUrl! }),
    auth: cfg.elasticsearchApiKey ? { apiKey: cfg.elasticsearchApiKey }
      : cfg.elasticsearchUsername ? { username: cfg.elasticsearchUsername, password: cfg.elasticsearchPassword ?? '' } : undefined,
    ...(Object.keys(tls).length ? { tls } : {}),
    ...(caFingerprint ? { caFingerprint } : {}),
    requestTimeout: opts.requestTimeout ?? 30_000,
    maxRetries: opts.maxRetries ?? 3,
    compression: false,
  };
}

export function createEsClient(cfg: EsConfig, opts: { requestTimeout?: number; maxRetries?: number } = {}): Client {
  if (cfg.elasticsearchTlsInsecure) {
    log.warn('INSECURE: --elasticsearch-tls-insecure is set: Elasticsearch\'s TLS certificate is NOT verified; anyone on the network path can read and alter what kontext stores. Use --elasticsearch-ca or --elasticsearch-ca-fingerprint outside a lab.', { elasticsearch: cfg.elasticsearchUrl ? redactUrl(cfg.elasticsearchUrl) : 'cloud id' });
  }
  return instrumentEsClient(new Client(esClientOptions(cfg, opts)));
}

/** A one-line reason for a failed connection, naming the TLS cause when there is one. */
export function connectionHint(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const causes: string[] = [];
  let e: any = err;
  for (let i = 0; e && i < 5; i++) { if (e.code) causes.push(String(e.code)); e = e.cause; }
  const all = `${msg} ${causes.join(' ')}`;
  if (/fingerprint does not match/i.test(all)) return `${msg} (the certificate chain does not contain the CA of --elasticsearch-ca-fingerprint)`;
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_|unable to verify|self[- ]signed/i.test(all)) {
    return `${msg} (Elasticsearch's TLS certificate is not trusted: give its CA with --elasticsearch-ca or --elasticsearch-ca-fingerprint)`;
  }
  if (/ERR_TLS_CERT_ALTNAME|altname|Hostname\/IP does not match/i.test(all)) return `${msg} (the certificate does not name this host: use the host name it was issued for)`;
  return msg;
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
      // a refused certificate never heals by waiting: a configuration error, one line
      if (connectionHint(e) !== (e as Error)?.message) throw new ConfigError(`Elasticsearch not reachable: ${connectionHint(e)}`);
      if (status === 401 || status === 403) {
        throw new EsUnreachableError(`${where} refused the credentials (HTTP ${status}); check --elasticsearch-username/--elasticsearch-password or --elasticsearch-api-key`);
      }
    }
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) break;
    opts.onRetry?.({ attempt, error: errText(last), remainingMs });
    await new Promise((r) => setTimeout(r, Math.min(opts.intervalMs ?? 1000, remainingMs)));
  }
  throw new EsUnreachableError(`${where} not reachable after ${Math.round((Date.now() - started) / 1000)} s (${attempt} attempt${attempt === 1 ? '' : 's'}): ${errText(connectionHint(last))}; check --elasticsearch-url / ELASTICSEARCH_URL, or leave it unset for a local Elasticsearch`);
}
