/**
 * The running service: pipeline + forward input + HTTP (webhook, GraphQL, health, metrics).
 * `kontext serve` is this plus signal handling; tests start it in-process.
 */
import { ConfigError, type Config } from '../config/config.ts';
import { log } from '../util/log.ts';
import { connectEs, buildPipeline, detectionsFromConfig, type BuiltPipeline, type EsConnection } from './build.ts';
import { alertsFromConfig, type WebhookAlerter } from '../alert/index.ts';
import { ForwardServer, forwardExposure, forwardOptionsFromConfig } from '../sources/forward/index.ts';
import { createWebhookRouter } from '../sources/webhook/index.ts';
import type { SimulatedSource, SimulatedSourceOptions } from '../sources/simulated/index.ts';
import { createGraphqlHandler, type GraphqlHandler } from '../query/handler.ts';
import { authFromConfig, createAuthenticator } from '../http/auth.ts';
import { createHttpApp, startHttpServer, type RunningServer } from '../http/app.ts';
import { HealthBoard, monitorReadiness, startHealthServer, type HealthServer } from '../http/health.ts';

export interface ServiceOptions {
  /** feed simulated traffic too (demo) */
  simulate?: SimulatedSourceOptions;
}

export interface Service {
  es: EsConnection;
  built: BuiltPipeline;
  forward: { host: string; port: number };
  http: RunningServer;
  /** /healthz and /readyz off the main event loop (with --health-port) */
  health?: HealthServer;
  graphql: GraphqlHandler;
  /** the alert webhook output, when --alert-webhook-url is set */
  alerts?: WebhookAlerter;
  /** graceful: stops inputs, writes everything held, closes Elasticsearch */
  stop(): Promise<void>;
}

export async function startService(cfg: Config, opts: ServiceOptions = {}): Promise<Service> {
  const auth = authFromConfig(cfg);
  if (!auth.noAuth && !auth.tokens?.length) {
    throw new ConfigError('--auth-tokens (KONTEXT_AUTH_TOKENS) is required: GraphQL and the webhook need bearer tokens; use --no-auth only for local use');
  }
  const exposure = forwardExposure(cfg);
  if (exposure.error) throw new ConfigError(exposure.error);
  if (exposure.auth === 'insecure') {
    log.warn(`INSECURE: the forward input on ${cfg.forwardHost}:${cfg.forwardPort} accepts events from anyone who reaches it, without a shared key or client certificates (--forward-insecure); use it in a lab only`);
  }
  const detections = detectionsFromConfig(cfg); // an invalid rules file stops the start-up here
  const es = await connectEs(cfg);
  const built = await buildPipeline(cfg, es.client, { detections, live: true });
  const { pipeline } = built;
  const alerts = alertsFromConfig(cfg, es.client, detections, (cb) => pipeline.subscribeClosed(cb));
  const forwardServer = new ForwardServer(pipeline, forwardOptionsFromConfig(cfg));
  const forward = await forwardServer.listen();
  const graphql = createGraphqlHandler({
    es: es.client, indexPrefix: cfg.indexPrefix, auth,
    subscribeClosed: (cb) => pipeline.subscribeClosed(cb),
  });
  const webhook = createWebhookRouter({
    downstream: pipeline, auth, maxBodyBytes: cfg.maxMessageBytes, maxDepth: cfg.maxDepth, maxDecompressionRatio: cfg.maxDecompressionRatio,
  });
  const board = new HealthBoard();
  const stopMonitor = monitorReadiness(board, {
    pingEs: () => es.client.cluster.health({ timeout: '2s' }, { requestTimeout: 3000 }),
    writer: built.writer,
  });
  const app = createHttpApp({
    graphql,
    routers: [{ path: '/webhook/audit', router: webhook }],
    ready: () => board.readiness(),
    details: () => ({ stream: pipeline.capabilities.report() }),
    metricsAuth: cfg.metricsPublic ? undefined : createAuthenticator(auth),
  });
  const http = await startHttpServer(app, cfg.httpHost, cfg.httpPort);
  const health = cfg.healthPort !== undefined ? await startHealthServer(board, cfg.httpHost, cfg.healthPort) : undefined;
  // loaded only with --simulate: the simulator is not part of the runtime package
  const sim: SimulatedSource | undefined = opts.simulate
    ? (await import('../sources/simulated/index.ts')).startSimulatedSource(pipeline, opts.simulate) : undefined;
  board.set('starting', false);
  log.info('kontext is running', {
    ui: `${http.url}/`, graphql: `${http.url}/graphql`, webhook: `${http.url}/webhook/audit`, forward: `${forward.host}:${forward.port}`,
    elasticsearch: es.url, labeler: built.labeler.mode, auth: cfg.noAuth ? 'off' : 'bearer', forwardAuth: exposure.auth,
    metrics: cfg.metricsPublic ? 'public' : 'bearer', health: health?.url,
  });
  let stopping: Promise<void> | undefined;
  return {
    es, built, forward, http, health, graphql, alerts,
    stop() {
      stopping ??= (async () => {
        board.set('stopping', true);
        await sim?.stop();
        // write what is held so pending forward chunks and webhook batches get their acks;
        // open contexts stay open in the store for the next start to take back (a restart
        // does not split them), and the next start's sweeper closes any left past their age
        await pipeline.flushAll({ close: false });
        await forwardServer.close({ graceMs: 5000 });
        graphql.close();
        await http.close();
        await pipeline.stop({ close: false });
        await alerts?.close();
        stopMonitor();
        await health?.close();
        await es.close();
      })();
      return stopping;
    },
  };
}
