/**
 * Builds the whole pipeline from configuration: Elasticsearch (a configured cluster, or a
 * local one started for the run), index templates, and the stages. `serve` and `ingest` both
 * start here so they behave the same.
 */
import type { Client } from '@elastic/elasticsearch';
import type { Config } from '../config/config.ts';
import { createEsClient, waitForEs } from '../store/es-client.ts';
import { ensureIndexTemplates } from '../store/templates.ts';
import { createContextWriter, type ContextWriter } from '../store/writer.ts';
import { Normalizer } from '../normalize/index.ts';
import { createLabeler, type Labeler } from '../label/index.ts';
import { createClusterer, clustererOptions, type Clusterer } from '../cluster/index.ts';
import { Pipeline } from './pipeline.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, runningLocalEs, startLocalEs, type LocalEs } from '../es-local/local-es.ts';
import { log } from '../util/log.ts';

export interface EsConnection {
  client: Client;
  url: string;
  /** the local Elasticsearch this process started, if any (stopped by `close`) */
  local?: LocalEs;
  close(): Promise<void>;
}

/**
 * Connects to ELASTICSEARCH_URL, or — when it is unset — to a local Elasticsearch started by
 * `kontext es start`, or starts one (downloaded from Maven Central on first use) and leaves it
 * running for the next run unless `stopLocalOnClose`.
 */
export async function connectEs(cfg: Config, opts: { stopLocalOnClose?: boolean } = {}): Promise<EsConnection> {
  let url = cfg.elasticsearchUrl;
  let local: LocalEs | undefined;
  if (!url) {
    const running = await runningLocalEs();
    if (running) {
      url = running.url;
      log.info('using the local Elasticsearch', { url });
    } else {
      log.info('ELASTICSEARCH_URL is unset: starting a local Elasticsearch (first start downloads it from Maven Central)');
      local = await startLocalEs({ port: 9200 });
      url = local.url;
      log.info('local Elasticsearch is up', { url, dataDir: local.dataDir });
    }
  }
  const client = createEsClient({ ...cfg, elasticsearchUrl: url });
  await waitForEs(client);
  return {
    client, url, local,
    async close() {
      await client.close();
      if (local && opts.stopLocalOnClose) await local.stop();
    },
  };
}

/** A relative model directory is looked up in the working directory, then in kontext's own folder (the shipped model). */
export function resolveModelDir(dir: string): string {
  if (path.isAbsolute(dir) || existsSync(dir)) return dir;
  const shipped = path.join(PROJECT_ROOT, dir);
  return existsSync(shipped) ? shipped : dir;
}

export interface BuiltPipeline {
  pipeline: Pipeline;
  normalize: Normalizer;
  labeler: Labeler;
  cluster: Clusterer;
  writer: ContextWriter;
}

export async function buildPipeline(cfg: Config, client: Client, opts: { refresh?: boolean | 'wait_for' } = {}): Promise<BuiltPipeline> {
  await ensureIndexTemplates(client, cfg.indexPrefix);
  const labeler = await createLabeler({ modelDir: resolveModelDir(cfg.model), backend: cfg.backend as 'auto' | 'tensorflow' | 'wasm' | 'cpu' });
  const normalize = new Normalizer({ reorderHorizon: cfg.reorderHorizon, reorderWait: cfg.reorderWait, maxPending: Math.max(cfg.maxInFlight, 1000), maxBytes: cfg.maxBuffer });
  const cluster = createClusterer(clustererOptions(cfg));
  const writer = createContextWriter({ client, prefix: cfg.indexPrefix, rawRetentionMs: cfg.rawRetention, refresh: opts.refresh });
  const pipeline = new Pipeline({ normalize, label: labeler, cluster, sink: writer }, {
    flushInterval: cfg.flushInterval,
    maxInFlight: cfg.maxInFlight,
    clockQuiet: Math.max(cfg.flushInterval, cfg.reorderWait),
  });
  return { pipeline, normalize, labeler, cluster, writer };
}
