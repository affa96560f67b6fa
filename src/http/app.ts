/**
 * The HTTP server: GraphQL at /graphql, extra routers (e.g. the audit webhook) at their paths,
 * /healthz (process alive), /readyz (Elasticsearch and pipeline ready, with the reasons when
 * not; `?verbose` answers JSON with details such as what the audit stream carries), /metrics
 * (Prometheus text format; behind the bearer token unless made public) and the web UI at /
 * (ui.ts). The same /healthz and /readyz are also served off the main event loop by the health
 * worker (health.ts) when a health port is configured.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import type { GraphqlHandler } from '../query/handler.ts';
import { requireBearer, type Authenticator } from './auth.ts';
import type { Readiness } from './health.ts';
import { log } from '../util/log.ts';
import { counter, renderMetrics, METRICS_CONTENT_TYPE } from '../util/metrics.ts';
import { redactText } from '../util/redact.ts';
import { mountUi } from './ui.ts';

export interface HttpAppOptions {
  graphql: Pick<GraphqlHandler, 'endpoint' | 'yoga'>;
  /** mounted as is (they bring their own auth and body parsing) */
  routers?: Array<{ path: string; router: Router }>;
  /** readiness: Elasticsearch reachable and the pipeline started (a Readiness names the reasons) */
  ready: () => Promise<boolean | Readiness> | boolean | Readiness;
  /** extra readiness details for `/readyz?verbose` (JSON) */
  details?: () => Record<string, unknown>;
  /** bearer auth for /metrics; absent: public */
  metricsAuth?: Authenticator;
}

const httpRequests = counter('kontext_http_requests_total', 'HTTP requests by route and status.');
const READY_TIMEOUT_MS = 5000;

function routeOf(path: string, known: string[]): string {
  for (const k of known) if (path === k || path.startsWith(k + '/')) return k;
  return 'other';
}

export function createHttpApp(opts: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const routes = ['/graphql', '/healthz', '/readyz', '/metrics', ...(opts.routers ?? []).map((r) => r.path)];
  if (opts.graphql.endpoint !== '/graphql') routes.push(opts.graphql.endpoint);

  app.use((req: Request, res: Response, next: NextFunction) => {
    res.on('finish', () => httpRequests.inc({ route: routeOf(req.path, routes), status: String(res.statusCode) }));
    next();
  });

  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok\n'); });

  app.get('/readyz', async (req, res) => {
    let r: Readiness = { ready: false, reasons: ['readiness check timed out'] };
    try {
      const v = await Promise.race([
        Promise.resolve(opts.ready()),
        new Promise<Readiness>((resolve) => setTimeout(() => resolve(r), READY_TIMEOUT_MS).unref()),
      ]);
      r = typeof v === 'boolean' ? { ready: v, reasons: [] } : v;
    } catch (e) {
      log.warn('readiness check failed', { err: e instanceof Error ? e.message : String(e) });
      r = { ready: false, reasons: ['readiness check failed'] };
    }
    if (req.query.verbose !== undefined) { res.status(r.ready ? 200 : 503).json({ ready: r.ready, ...(r.ready ? {} : { reasons: r.reasons }), ...(opts.details?.() ?? {}) }); return; }
    res.status(r.ready ? 200 : 503).type('text/plain')
      .send(r.ready ? 'ready\n' : r.reasons.length ? `not ready: ${r.reasons.join('; ')}\n` : 'not ready\n');
  });

  const metrics = (_req: Request, res: Response, next: NextFunction) => {
    renderMetrics().then((text) => { res.type(METRICS_CONTENT_TYPE).send(redactText(text)); }, next);
  };
  if (opts.metricsAuth?.enabled) app.get('/metrics', requireBearer(opts.metricsAuth, '/metrics'), metrics);
  else app.get('/metrics', metrics);

  for (const { path, router } of opts.routers ?? []) app.use(path, router);

  // yoga reads the body itself; no express body parser runs before it
  app.use(opts.graphql.endpoint, opts.graphql.yoga as unknown as (req: Request, res: Response) => void);

  mountUi(app);

  app.use((_req, res) => { res.status(404).type('text/plain').send('not found\n'); });
  // errors from routers: log, never leak stacks
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 500;
    if (status >= 500) log.error('http request failed', { err: err instanceof Error ? err.message : String(err) });
    if (res.headersSent) { res.end(); return; }
    res.status(status).json({ error: status >= 500 ? 'internal error' : (err as Error)?.message ?? 'bad request' });
  });
  return app;
}

export interface RunningServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Listens on host:port (port 0 picks one); `close` stops accepting and ends open connections (SSE included). */
export async function startHttpServer(app: Express, host: string, port: number): Promise<RunningServer> {
  const server = app.listen(port, host);
  await once(server, 'listening');
  const addr = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${addr.port}`,
    server,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeIdleConnections();
      // long-lived responses (subscriptions) would keep close() waiting forever
      setTimeout(() => server.closeAllConnections(), 1000).unref();
    }),
  };
}
