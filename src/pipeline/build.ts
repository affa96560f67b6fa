/**
 * Builds the whole pipeline from configuration: Elasticsearch (a configured cluster, or a
 * local one started for the run), index templates, and the stages. `serve` and `ingest` both
 * start here so they behave the same.
 */
import type { Client } from '@elastic/elasticsearch';
import { ConfigError, OPTIONS, type Config, type OptionSpec } from '../config/config.ts';
import { createEsClient, waitForEs } from '../store/es-client.ts';
import { ensureIlmPolicy, hasIlm, startRetention, type Retention } from '../store/retention.ts';
import { redactUrl } from '../util/redact.ts';
import { ensureIndexTemplates } from '../store/templates.ts';
import { createContextWriter, type ContextWriter } from '../store/writer.ts';
import { createDeadLetterSink, type EsDeadLetterSink } from '../store/dead-letter.ts';
import { loadRecentContexts, sweepStaleOpen } from '../store/restore.ts';
import { restoreContexts, snapshotText } from '../cluster/restore.ts';
import { StaleSweeper } from '../store/sweeper.ts';
import { Checkpointer } from '../store/checkpoint.ts';
import { Normalizer } from '../normalize/index.ts';
import { createLabelerFactory, type BackendChoice, type Labeler, type PredictFn } from '../label/index.ts';
import { ModelThread } from './model-thread.ts';
import { createClusterer, clustererOptions, type Clusterer } from '../cluster/index.ts';
import { ClusterClusterers, ClusterLabelers } from '../clusters/router.ts';
import { DEFAULT_CLUSTER, parseClusterList, scopedId } from '../clusters/names.ts';
import { migrateToClusterIds } from '../store/migrate-clusters.ts';
import { Pipeline } from './pipeline.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, runningLocalEs, startLocalEs, type LocalEs } from '../es-local/local-es.ts';
import { log } from '../util/log.ts';
import { createDetectionEngine, logDetections, observeBefore, rulesFilesOf, RulesError, type DetectionEngine } from '../detect/index.ts';

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
  let url = cfg.elasticsearchUrl ?? (cfg.elasticsearchCloudId ? 'Elastic Cloud' : undefined);
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
  const client = createEsClient({ ...cfg, elasticsearchUrl: cfg.elasticsearchCloudId ? undefined : url });
  await waitForEs(client, cfg.elasticsearchWait, {
    url,
    onRetry: ({ attempt, error, remainingMs }) => log.warn(`Elasticsearch not reachable yet, retrying (attempt ${attempt}, giving up in ${Math.ceil(remainingMs / 1000)} s): ${error}`, { attempt, error }),
  });
  return {
    client, url: redactUrl(url), local,
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

/**
 * A model directory named explicitly (--model / KONTEXT_MODEL) must hold a model: a typo is a
 * ConfigError before anything starts. The default directory missing only warns later (labeling
 * falls back to rules and object links).
 */
export function checkModelDir(cfg: Pick<Config, 'model'>): void {
  const def = (OPTIONS as readonly OptionSpec[]).find((o) => o.key === 'model')?.default;
  if (cfg.model === def) return;
  const dir = resolveModelDir(cfg.model);
  if (!existsSync(dir)) throw new ConfigError(`--model: no such directory: ${cfg.model}`);
  if (!existsSync(path.join(dir, 'model.json'))) throw new ConfigError(`--model: ${cfg.model} is not a labeling model (no model.json; \`kontext train --out DIR\` makes one)`);
}

/**
 * The detection engine of the configuration (shipped rules, then --rules files). Call it
 * before anything else starts: an invalid rules file is a ConfigError naming file and line.
 */
export function detectionsFromConfig(cfg: Pick<Config, 'rules'>): DetectionEngine {
  try {
    return createDetectionEngine(rulesFilesOf(cfg.rules));
  } catch (e) {
    if (e instanceof RulesError) throw new ConfigError(`--rules: invalid detection rules: ${e.message}`);
    throw e;
  }
}

export interface BuiltPipeline {
  pipeline: Pipeline;
  normalize: Normalizer;
  labeler: Labeler;
  cluster: Clusterer;
  writer: ContextWriter;
  /** `<prefix>-dead-letter`: inputs that can never be stored, with their reason */
  deadLetters: EsDeadLetterSink;
  /** contexts taken back from Elasticsearch at start-up, and stale open ones closed */
  restored: { contexts: number; swept: number };
  detections: DetectionEngine;
  /** the restart checkpoint of the labeler, detection and clusterer session memory (`<prefix>-state`), and what was taken back */
  checkpoint: Checkpointer;
  resumed: { labeler: boolean; detections: boolean; cluster: boolean };
  /** closes documents left open by another instance while this one runs (live input with a sweep interval) */
  sweeper?: StaleSweeper;
  /** deletion of daily indices past --retention (or ILM's) */
  retention: Retention;
  /** the model's inference on a worker thread (--workers 1 and a model loaded) */
  modelThread?: ModelThread;
}

/** Background aggregates stay open up to this long (the clusterer's default window). */
const BACKGROUND_WINDOW_MS = 1_800_000;
/** the periodic sweeper waits this much event time past the horizon (late events of a live context) */
const SWEEP_MARGIN_MS = 300_000;

export interface BuildOptions {
  refresh?: boolean | 'wait_for';
  /**
   * Take open-context state back from Elasticsearch (default true): open contexts younger than
   * `context-max-age` (background windows: 30 min) and contexts closed within `context-idle`
   * come back into the clusterer, so late and re-sent events join the same context; stored
   * contexts left open past that by a crash are closed.
   */
  restore?: boolean;
  /** live input (serve): event time continues from the store's newest event, so restored contexts close on the clock */
  live?: boolean;
  /** the detections engine (default: from --rules and the shipped rules) */
  detections?: DetectionEngine;
}

export async function buildPipeline(cfg: Config, client: Client, opts: BuildOptions = {}): Promise<BuiltPipeline> {
  const detections = opts.detections ?? detectionsFromConfig(cfg);
  logDetections(detections, log);
  const retention = await setUpIndices(client, cfg);
  const modelDir = resolveModelDir(cfg.model);
  const backend = cfg.backend as BackendChoice;
  let modelThread: ModelThread | undefined;
  const predictor = cfg.workers > 0
    ? async (local: PredictFn) => {
      try {
        modelThread = await ModelThread.start({ modelDir, fallback: local });
        return modelThread.predict;
      } catch (e) {
        log.warn('the model worker did not start: labeling runs on the main thread', { err: e as Error });
        return local;
      }
    }
    : undefined;
  // one labeler and one clusterer per Kubernetes cluster (src/clusters/router.ts), sharing one model
  const labeler = new ClusterLabelers(await createLabelerFactory({ modelDir, backend, predictor }), cfg.clusterName);
  if (modelThread) log.info('labeling model inference runs on a worker thread', { workers: 1, backend: modelThread.backend });
  const owned = parseClusterList(cfg.clusters);
  const deadLetters = createDeadLetterSink({ client, prefix: cfg.indexPrefix, refresh: opts.refresh });
  const normalize = new Normalizer({ deadLetters, reorderHorizon: cfg.reorderHorizon, reorderWait: cfg.reorderWait, maxPending: Math.max(cfg.maxInFlight, 1000), maxBytes: cfg.maxBuffer, clusterName: cfg.clusterName, clusterKey: cfg.clusterKey, clusters: owned });
  const cluster = observeBefore(new ClusterClusterers((name) => createClusterer({ ...clustererOptions(cfg), detections: detections.forCluster(name) }), cfg.clusterName), detections);
  const restored = { contexts: 0, swept: 0 };
  // one checkpoint per replica: replicas sharing the prefix own different clusters (--clusters)
  const checkpoint = new Checkpointer({ client, prefix: cfg.indexPrefix, intervalMs: cfg.checkpointInterval, refresh: opts.refresh, id: owned.length ? `pipeline:${[...owned].sort().join(',')}` : undefined });
  checkpoint.add({ name: 'labeler', snapshot: () => labeler.snapshot() });
  checkpoint.add({ name: 'detections', snapshot: () => detections.snapshot() });
  checkpoint.add({ name: 'cluster', snapshot: () => snapshotText(cluster) });
  const resumed = { labeler: false, detections: false, cluster: false };
  if (opts.restore !== false) {
    const openHorizonMs = Math.max(cfg.contextMaxAge, BACKGROUND_WINDOW_MS);
    const { docs, watermark } = await loadRecentContexts(client, cfg.indexPrefix, { openHorizonMs, closedHorizonMs: cfg.contextIdle, clusters: owned.length ? owned : undefined });
    const ck = await checkpoint.load();
    // the contexts first, then the clusterer's session memory on top of them (it refers to them by id)
    const back = restoreContexts(cluster, docs, opts.live ? watermark : undefined, ck?.parts.cluster);
    restored.contexts = back.contexts;
    resumed.cluster = back.sessions;
    restored.swept = await sweepStaleOpen(client, cfg.indexPrefix, openHorizonMs, { refresh: opts.refresh });
    if (ck) {
      // an event the checkpoint's memory already took in: stored before it was taken, and now
      // re-sent (its unit was not acknowledged) or a member of a restored context
      const limit = ck.newest ?? -Infinity;
      // labelers ask with <cluster>/<auditID>, the detection memory with the bare auditID
      let stored: Set<string> | undefined = new Set(docs.flatMap((d) => d.members.flatMap((m) => [m.auditID, scopedId(d.cluster ?? cfg.clusterName, m.auditID)])));
      const covered = (id: string, t: number): boolean => {
        if (!stored) return false;
        if (t > limit + cfg.reorderHorizon) { stored = undefined; return false; }
        return t <= limit && stored.has(id);
      };
      if (ck.parts.labeler !== undefined) resumed.labeler = labeler.restore(ck.parts.labeler, { covered });
      if (ck.parts.detections !== undefined) resumed.detections = detections.restore(ck.parts.detections, { covered });
      log.info('took back the labeler, detection and clusterer memory of the last checkpoint', { ...resumed, takenAt: new Date(ck.time).toISOString(), newestEvent: ck.newest === null ? null : new Date(ck.newest).toISOString() });
    }
    if (restored.contexts) log.info('took back contexts stored before the restart', { contexts: restored.contexts, open: docs.filter((d) => d.state === 'open').length, events: docs.reduce((n, d) => n + d.members.length, 0) });
  }
  const writer = createContextWriter({ client, prefix: cfg.indexPrefix, deadLetters, rawRetentionMs: cfg.rawRetention, refresh: opts.refresh });
  const pipeline = new Pipeline({ normalize, label: labeler, cluster, sink: writer }, {
    flushInterval: cfg.flushInterval,
    maxInFlight: cfg.maxInFlight,
    clockQuiet: Math.max(cfg.flushInterval, cfg.reorderWait),
    inputEndQuiet: Math.max(cfg.backlogEndWait, cfg.flushInterval, cfg.reorderWait),
    checkpoint: opts.restore !== false ? checkpoint : undefined,
  });
  let sweeper: StaleSweeper | undefined;
  if (opts.live && opts.restore !== false && cfg.sweepInterval > 0) {
    sweeper = new StaleSweeper({ client, prefix: cfg.indexPrefix, horizonMs: Math.max(cfg.contextMaxAge, BACKGROUND_WINDOW_MS) + SWEEP_MARGIN_MS, intervalMs: cfg.sweepInterval, refresh: opts.refresh });
    sweeper.start();
  }
  const closeWriter = writer.close.bind(writer);
  writer.close = async (o) => { retention.stop(); try { return await closeWriter(o); } finally { await modelThread?.close(); } };
  return { pipeline, normalize, labeler, cluster, writer, deadLetters, restored, detections, sweeper, checkpoint, resumed, retention, modelThread };
}

/**
 * Index templates (versioned, upgraded in place), the single-index migration, today's
 * indices, and retention: the ILM policy where Elasticsearch has ILM, else kontext's own
 * deletion of expired day indices.
 */
export async function setUpIndices(client: Client, cfg: Pick<Config, 'indexPrefix' | 'retention' | 'indexReplicas' | 'indexShards'> & Partial<Pick<Config, 'clusterName'>>): Promise<Retention> {
  const ilm = cfg.retention > 0 && await hasIlm(client);
  const lifecyclePolicy = ilm ? await ensureIlmPolicy(client, cfg.indexPrefix, cfg.retention) : undefined;
  await ensureIndexTemplates(client, cfg.indexPrefix, { replicas: cfg.indexReplicas, shards: cfg.indexShards, lifecyclePolicy });
  // documents stored before clusters become this instance's default cluster's
  await migrateToClusterIds(client, cfg.indexPrefix, cfg.clusterName ?? DEFAULT_CLUSTER);
  const retention = await startRetention({ client, prefix: cfg.indexPrefix, retentionMs: cfg.retention, ilm });
  log.info('indices ready', { prefix: cfg.indexPrefix, retention: retention.mode, retentionDays: cfg.retention / 86_400_000, replicas: cfg.indexReplicas, shards: cfg.indexShards });
  return retention;
}
