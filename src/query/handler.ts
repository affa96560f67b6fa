/**
 * The GraphQL endpoint: graphql-yoga over schema/kontext.graphql with kontext's resolvers,
 * bearer-token auth, query limits (size, depth, root fields, cost), masked internal errors and
 * request metrics. Mount `handler.yoga` on express at `handler.endpoint` (src/http/app.ts does),
 * or call `handler.fetch` in process.
 */
import type { Client } from '@elastic/elasticsearch';
import { GraphQLError, getOperationAST, validate, type DocumentNode } from 'graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createSchema, createYoga, type Plugin, type YogaLogger, type YogaServerInstance } from 'graphql-yoga';
import { createAuthenticator, logAuthFailure, type AuthOptions } from '../http/auth.ts';
import { log } from '../util/log.ts';
import { counter } from '../util/metrics.ts';
import { costLimitRule, depthLimitRule, rootFieldLimitRule, DEFAULT_LIMITS, type QueryLimits } from './limits.ts';
import { createResolvers, type ResolverDeps, type SubscribeClosed } from './resolvers.ts';
import { loadTypeDefs } from './schema.ts';
import { ContextSearch } from './search.ts';

export interface GraphqlHandlerOptions {
  es: Client;
  indexPrefix: string;
  /** closed contexts from the pipeline, for `subscription { contextClosed }`; absent: subscriptions answer an error */
  subscribeClosed?: SubscribeClosed;
  /** bearer tokens, or `{ noAuth: true }` (explicit); neither throws */
  auth: AuthOptions;
  limits?: Partial<QueryLimits>;
  /** serve GraphiQL to browsers at GET /graphql (the page holds no data; queries still need a token). Default true. */
  graphiql?: boolean;
}

export interface GraphqlHandler {
  endpoint: string;
  /** Node request listener (mount on express) and fetch handler */
  yoga: YogaServerInstance<Record<string, any>, Record<string, any>>;
  /** in-process request, e.g. `fetch('http://localhost/graphql', { method: 'POST', ... })` */
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  search: ContextSearch;
  limits: QueryLimits;
  /** ends every open subscription (server shutdown) */
  close(): void;
}

const ENDPOINT = '/graphql';

const requests = counter('kontext_graphql_requests_total', 'GraphQL HTTP requests by response status.');
const operations = counter('kontext_graphql_operations_total', 'GraphQL operations executed, by type.');
const errors = counter('kontext_graphql_errors_total', 'GraphQL errors returned, by code.');
const durationSum = counter('kontext_graphql_request_duration_seconds_sum', 'Total time answering GraphQL requests (seconds).');
const durationCount = counter('kontext_graphql_request_duration_seconds_count', 'GraphQL requests timed.');
const durationBuckets = counter('kontext_graphql_request_duration_seconds_bucket', 'GraphQL requests answered within `le` seconds (cumulative).');
const LE = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function yogaLogger(): YogaLogger {
  const l = log.child({ component: 'graphql' });
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return {
    debug: (...a: unknown[]) => l.debug(text(a)),
    info: (...a: unknown[]) => l.info(text(a)),
    warn: (...a: unknown[]) => l.warn(text(a)),
    error: (...a: unknown[]) => l.error(text(a)),
  };
}

function errorBody(message: string, code: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

function authPlugin(auth: AuthOptions, graphiql: boolean): Plugin {
  const authenticator = createAuthenticator(auth);
  if (!authenticator.enabled) log.warn('GraphQL authentication is disabled (--no-auth): local use only');
  return {
    onRequest({ request, endResponse, fetchAPI, serverContext }) {
      if (!authenticator.enabled) return;
      // the GraphiQL page is static; every query it sends carries its own Authorization header
      if (graphiql && request.method === 'GET' && request.headers.get('accept')?.includes('text/html')) return;
      const why = authenticator.check(request.headers.get('authorization'));
      if (why === null) return;
      errors.inc({ code: 'UNAUTHENTICATED' });
      const req = (serverContext as { req?: { socket?: { remoteAddress?: string } } } | undefined)?.req;
      logAuthFailure('/graphql', req?.socket?.remoteAddress, why);
      endResponse(new fetchAPI.Response(errorBody(why, 'UNAUTHENTICATED'), {
        status: 401,
        headers: { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'Bearer realm="kontext"' },
      }));
    },
  };
}

function limitsPlugin(limits: QueryLimits): Plugin {
  const tooComplex = (message: string) => ({ errors: [new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX' } })] });
  const costErrors = (schema: any, document: DocumentNode, variables: Record<string, unknown> | null | undefined) =>
    validate(schema, document, [costLimitRule(limits.maxCost, variables ?? {})]);
  return {
    onParams({ params, setResult }) {
      if (typeof params.query === 'string' && params.query.length > limits.maxQueryChars) {
        setResult(tooComplex(`query text is ${params.query.length} characters; the limit is ${limits.maxQueryChars}`));
      }
    },
    onValidate({ addValidationRule }) {
      addValidationRule(depthLimitRule(limits.maxDepth));
      addValidationRule(rootFieldLimitRule(limits.maxRootFields));
    },
    onExecute({ args, setResultAndStopExecution }) {
      const errs = costErrors(args.schema, args.document, args.variableValues);
      if (errs.length) setResultAndStopExecution({ errors: errs });
      else operations.inc({ type: getOperationAST(args.document, args.operationName)?.operation ?? 'unknown' });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errs = costErrors(args.schema, args.document, args.variableValues);
      if (errs.length) setResultAndStopExecution({ errors: errs });
      else operations.inc({ type: 'subscription' });
    },
  };
}

function metricsPlugin(): Plugin {
  const started = new WeakMap<Request, number>();
  return {
    onRequest({ request }) { started.set(request, performance.now()); },
    onExecutionResult({ result }) {
      if (!result || Symbol.asyncIterator in (result as object)) return;
      for (const e of (result as { errors?: readonly GraphQLError[] }).errors ?? []) {
        errors.inc({ code: String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR') });
      }
    },
    onResponse({ request, response }) {
      requests.inc({ status: String(response.status) });
      const t0 = started.get(request);
      if (t0 === undefined) return;
      const secs = (performance.now() - t0) / 1000;
      durationSum.inc(undefined, secs);
      durationCount.inc();
      for (const le of LE) if (secs <= le) durationBuckets.inc({ le: String(le) });
      durationBuckets.inc({ le: '+Inf' });
    },
  };
}

let graphiqlPage: { key: string; html: string } | undefined;
/** the bundled GraphiQL page (a few MB), rendered once per option set */
function offlineGraphiQL(opts?: Parameters<typeof renderGraphiQL>[0]): string {
  const key = JSON.stringify(opts ?? {});
  if (graphiqlPage?.key !== key) graphiqlPage = { key, html: renderGraphiQL(opts) };
  return graphiqlPage.html;
}

export function createGraphqlHandler(opts: GraphqlHandlerOptions): GraphqlHandler {
  const limits: QueryLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const graphiql = opts.graphiql ?? true;
  const search = new ContextSearch(opts.es, opts.indexPrefix);
  const deps: ResolverDeps = { search, subscribeClosed: opts.subscribeClosed, limits, subscriptions: new Set() };
  const schema = createSchema({ typeDefs: loadTypeDefs(), resolvers: createResolvers(deps) as any });
  const yoga = createYoga<Record<string, any>, Record<string, any>>({
    schema,
    graphqlEndpoint: ENDPOINT,
    graphiql: graphiql ? { title: 'kontext', defaultQuery: EXAMPLE_QUERY } : false,
    // GraphiQL's editor, workers and styles come inlined from the package: it works offline (no CDN)
    renderGraphiQL: offlineGraphiQL,
    landingPage: false,
    // no CORS headers: browsers may not read answers from other origins (GraphiQL is same-origin)
    cors: false,
    logging: yogaLogger(),
    // internal errors become "Unexpected error." without stack traces, even with NODE_ENV=development
    maskedErrors: { isDev: false },
    maxRequestBodySize: 256 * 1024,
    batching: false,
    plugins: [authPlugin(opts.auth, graphiql), metricsPlugin(), limitsPlugin(limits)],
  });
  return {
    endpoint: ENDPOINT,
    yoga,
    fetch: (input, init) => Promise.resolve(yoga.fetch(input as any, init as any)),
    search,
    limits,
    close() { for (const end of [...deps.subscriptions]) end(); },
  };
}

const EXAMPLE_QUERY = `# Contexts a user triggered in the last 24 hours (send "Authorization: Bearer <token>" in Headers)
query Recent {
  contexts(filter: { triggeredBy: ["oidc:alice@example.com"], from: "now-24h" }, first: 20) {
    totalCount
    edges { node { id action label outcome flags start eventCount } }
    pageInfo { hasNextPage endCursor }
  }
}
`;
