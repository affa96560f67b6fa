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
  return new Client(esClientOptions(cfg, opts));
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

/** Waits until the cluster answers (yellow or better), for start-up ordering. */
export async function waitForEs(client: Client, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await client.cluster.health({ wait_for_status: 'yellow', timeout: '5s' });
      return;
    } catch (e) {
      last = e;
      // a refused certificate never heals by waiting: a configuration error, one line
      if (connectionHint(e) !== (e as Error)?.message) throw new ConfigError(`Elasticsearch not reachable: ${connectionHint(e)}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`Elasticsearch not reachable within ${timeoutMs} ms: ${connectionHint(last)}`);
}
