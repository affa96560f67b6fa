/**
 * The running service: pipeline + forward input + HTTP (webhook, GraphQL, health, metrics).
 * `kontext serve` is this plus signal handling; tests start it in-process.
 */
import { ConfigError, type Config } from '../config/config.ts';
import { log } from '../util/log.ts';
import { connectEs, buildPipeline, detectionsFromConfig, type BuiltPipeline, type EsConnection } from './build.ts';
import { alertsFromConfig, type WebhookAlerter } from '../alert/index.ts';
import { ForwardServer, forwardOptionsFromConfig } from '../sources/forward/index.ts';
import { createWebhookRouter } from '../sources/webhook/index.ts';
import { startSimulatedSource, type SimulatedSource, type SimulatedSourceOptions } from '../sources/simulated/index.ts';
import { createGraphqlHandler, type GraphqlHandler } from '../query/handler.ts';
import { authFromConfig } from '../http/auth.ts';
import { createHttpApp, startHttpServer, type RunningServer } from '../http/app.ts';

export interface ServiceOptions {
  /** feed simulated traffic too (demo) */
  simulate?: SimulatedSourceOptions;
}

export interface Service {
  es: EsConnection;
  built: BuiltPipeline;
  forward: { host: string; port: number };
  http: RunningServer;
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
  const webhook = createWebhookRouter({ downstream: pipeline, auth, maxBodyBytes: cfg.maxMessageBytes });
  let started = false;
  const app = createHttpApp({
    graphql,
    routers: [{ path: '/webhook/audit', router: webhook }],
    ready: async () => {
      if (!started || !built.writer.healthy) return false;
      try { await es.client.cluster.health({ timeout: '2s' }); return true; } catch { return false; }
    },
    details: () => ({ stream: pipeline.capabilities.report() }),
  });
  const http = await startHttpServer(app, cfg.httpHost, cfg.httpPort);
  const sim: SimulatedSource | undefined = opts.simulate ? startSimulatedSource(pipeline, opts.simulate) : undefined;
  started = true;
  log.info('kontext is running', {
    ui: `${http.url}/`, graphql: `${http.url}/graphql`, webhook: `${http.url}/webhook/audit`, forward: `${forward.host}:${forward.port}`,
    elasticsearch: es.url, labeler: built.labeler.mode, auth: cfg.noAuth ? 'off' : 'bearer',
  });
  let stopping: Promise<void> | undefined;
  return {
    es, built, forward, http, graphql, alerts,
    stop() {
      stopping ??= (async () => {
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
        await es.close();
      })();
      return stopping;
    },
  };
}
