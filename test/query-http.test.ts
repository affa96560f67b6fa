/** The HTTP app: auth, health/readiness/metrics, limits over HTTP, and the SSE subscription. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import type { Client } from '@elastic/elasticsearch';
import { createGraphqlHandler, type GraphqlHandler } from '../src/query/handler.ts';
import { createHttpApp, startHttpServer, type RunningServer } from '../src/http/app.ts';
import { requireBearer } from '../src/http/auth.ts';
import { ensureIndexTemplates } from '../src/store/templates.ts';
import { contextOperations } from '../src/store/codec.ts';
import type { ContextDoc } from '../src/types/context.ts';
import { testClient, uniquePrefix, deleteIndices } from './helpers/es.ts';

const TOKEN = 'test-token-123456';
let es: Client;
let prefix: string;
let handler: GraphqlHandler;
let server: RunningServer;
let ready = true;
const listeners = new Set<(c: ContextDoc) => void>();
let onListen: (() => void) | undefined;

function ctx(id: string, user: string, over: Partial<ContextDoc> = {}): ContextDoc {
  const t = Date.UTC(2026, 0, 1, 10) + Number(id.replace(/\D/g, '') || 0) * 1000;
  return {
    id, label: 'create apps/deployments', action: `${user} created deployment shop/${id}`, state: 'closed',
    trigger: { auditID: `${id}-a0`, user, groups: ['system:authenticated'], userAgent: 'kubectl/v1.30.2', client: 'kubectl/v1.30.2', sourceIPs: ['10.0.0.1'], verb: 'create', apiGroup: 'apps', resource: 'deployments', namespace: 'shop', name: id, code: 201 },
    start: t, end: t + 10, eventCount: 1, users: [user], namespaces: ['shop'], resources: ['apps/deployments'], names: [id], verbs: ['create'],
    counts: { verbs: [], resources: [], users: [], codes: [] }, outcome: 'success', failures: 0, forbidden: 0, flags: [],
    members: [{ auditID: `${id}-a0`, time: t, user, verb: 'create', resource: 'apps/deployments', namespace: 'shop', name: id, code: 201 }],
    confidence: 1, ...over,
  };
}

async function gql(query: string, variables?: Record<string, unknown>, token: string | null = TOKEN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

before(async () => {
  es = testClient();
  prefix = uniquePrefix('qhttp');
  await ensureIndexTemplates(es, prefix);
  const docs = [ctx('c1', 'alice'), ctx('c2', 'bob'), ctx('c3', 'alice', { outcome: 'forbidden', flags: ['secret-read'] })];
  await es.bulk({ refresh: true, operations: docs.flatMap((d) => contextOperations(prefix, d)) });
  handler = createGraphqlHandler({
    es, indexPrefix: prefix, auth: { tokens: [TOKEN, 'other-token-99'] }, limits: { maxDepth: 5, maxSubscriptions: 2 },
    subscribeClosed: (cb) => { listeners.add(cb); onListen?.(); return () => { listeners.delete(cb); }; },
  });
  const webhook = express.Router();
  webhook.post('/', requireBearer({ tokens: [TOKEN] }), (_req, res) => { res.json({ ok: true }); });
  const app = createHttpApp({ graphql: handler, routers: [{ path: '/webhook/audit', router: webhook }], ready: async () => ready && handler.search.ping() });
  server = await startHttpServer(app, '127.0.0.1', 0);
});

after(async () => {
  handler?.close();
  await server?.close();
  await deleteIndices(es, prefix);
  await es.close();
});

test('401 without a token, with a wrong token, and with a malformed header', async () => {
  const none = await gql('{ users { total } }', undefined, null);
  assert.equal(none.status, 401);
  assert.match(none.body.errors[0].message, /missing Authorization header/);
  assert.equal(none.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  const wrong = await gql('{ users { total } }', undefined, 'nope-nope');
  assert.equal(wrong.status, 401);
  assert.match(wrong.body.errors[0].message, /invalid bearer token/);
  const res = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Basic eDp5' }, body: '{"query":"{ users { total } }"}' });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="kontext"');
  const ok = await gql('{ users { total buckets { key count } } }', undefined, 'other-token-99');
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.data.users, { total: 3, buckets: [{ key: 'alice', count: 2 }, { key: 'bob', count: 1 }] });
  // the GraphiQL page is static and served to browsers without a token
  const page = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /kontext/);
  // ...and never runs a query without one
  const sneaky = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ users { total } }')}`, { headers: { accept: 'text/html, application/json' } });
  const html = await sneaky.text();
  assert.match(sneaky.headers.get('content-type') ?? '', /text\/html/);
  assert.doesNotMatch(html, /"total":3/);
  const get = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ users { total } }')}`, { headers: { accept: 'application/json' } });
  assert.equal(get.status, 401);
  const getOk = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ users { total } }')}`, { headers: { accept: 'application/json', authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(await getOk.json(), { data: { users: { total: 3 } } });
  // no CORS: other origins cannot read answers
  const cors = await fetch(`${server.url}/graphql`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(cors.headers.get('access-control-allow-origin'), null);
});

test('healthz, readyz, metrics, routers and 404', async () => {
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  ready = false;
  assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
  ready = true;
  const hook = await fetch(`${server.url}/webhook/audit`, { method: 'POST' });
  assert.equal(hook.status, 401);
  const hookOk = await fetch(`${server.url}/webhook/audit`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(await hookOk.json(), { ok: true });
  assert.equal((await fetch(`${server.url}/nothing-here`)).status, 404);
  await gql('{ contexts(first: 1) { totalCount } }');
  await gql('{ contexts(first: 100000) { totalCount } }');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /# TYPE kontext_graphql_requests_total counter/);
  assert.match(metrics, /kontext_graphql_requests_total\{status="200"\} \d+/);
  assert.match(metrics, /kontext_graphql_requests_total\{status="401"\} \d+/);
  assert.match(metrics, /kontext_graphql_errors_total\{code="UNAUTHENTICATED"\} \d+/);
  assert.match(metrics, /kontext_graphql_errors_total\{code="BAD_USER_INPUT"\} \d+/);
  assert.match(metrics, /kontext_graphql_operations_total\{type="query"\} \d+/);
  assert.match(metrics, /kontext_graphql_request_duration_seconds_bucket\{le="\+Inf"\} \d+/);
  assert.match(metrics, /kontext_http_requests_total\{route="\/healthz",status="200"\} \d+/);
});

test('limits and validation errors come back as clear GraphQL errors', async () => {
  const deep = await gql('{ contexts { edges { node { counts { verbs { key } } } } } }');
  assert.equal(deep.body.data, undefined);
  assert.match(deep.body.errors[0].message, /nested too deeply: depth 6|depth 6 exceeds/);
  const deeper = await gql('{ a: contexts { edges { node { counts { verbs { key } } } } } }');
  assert.match(JSON.stringify(deeper.body.errors), /QUERY_TOO_COMPLEX/);
  const cost = await gql('query($n: Int) { contexts(first: $n) { edges { node { members(first: 1000) { auditID time user } } } } }', { n: 400 });
  assert.match(cost.body.errors[0].message, /too expensive/);
  assert.equal(cost.body.errors[0].extensions.code, 'QUERY_TOO_COMPLEX');
  const huge = await gql(`{ users { total } } # ${'x'.repeat(11_000)}`);
  assert.match(huge.body.errors[0].message, /query text is \d+ characters; the limit is 10000/);
  const cursor = await gql('{ contexts(after: "eyJzIjoiU1RBUlRfREVTQyJ9") { totalCount } }');
  assert.match(cursor.body.errors[0].message, /invalid cursor/);
  assert.equal(cursor.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  const badEnum = await gql('{ contexts(filter: { flag: [NOT_A_FLAG] }) { totalCount } }');
  assert.match(badEnum.body.errors[0].message, /NOT_A_FLAG/);
  const badField = await gql('{ contexts { nope } }');
  assert.match(badField.body.errors[0].message, /Cannot query field "nope"/);
  for (const e of [...deep.body.errors, ...cost.body.errors, ...cursor.body.errors]) assert.equal(e.extensions?.stacktrace, undefined);
});

test('injection attempts are data, not query syntax', async () => {
  const r = await gql('query($t: String!, $u: String!) { contexts(filter: { text: $t, triggeredBy: [$u] }) { totalCount } }',
    { t: 'trigger.user:bob OR /.*/ OR _id:*', u: 'alice" OR "1"="1' });
  assert.equal(r.body.errors, undefined);
  assert.equal(r.body.data.contexts.totalCount, 0);
  const json = await gql('query($u: String!) { contexts(filter: { triggeredBy: [$u] }) { totalCount } }', { u: '{"match_all":{}}' });
  assert.equal(json.body.data.contexts.totalCount, 0);
});

test('subscription: closed contexts matching the filter arrive over SSE', async () => {
  const listening = new Promise<void>((r) => { onListen = r; });
  const ac = new AbortController();
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    signal: ac.signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query: 'subscription($f: ContextFilter) { contextClosed(filter: $f) { id trigger { user } outcome flags members { auditID } } }', variables: { f: { triggeredBy: ['alice'], outcome: ['FORBIDDEN'] } } }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  await listening;
  assert.equal(listeners.size, 1);
  for (const cb of listeners) {
    cb(ctx('c10', 'bob', { outcome: 'forbidden' }));           // other user
    cb(ctx('c11', 'alice'));                                    // success
    cb(ctx('c12', 'alice', { outcome: 'forbidden', state: 'open' })); // not closed yet
    cb(ctx('c13', 'alice', { outcome: 'forbidden', flags: ['forbidden-burst'] }));
  }
  let text = '';
  const dec = new TextDecoder();
  while (!/event: next\ndata: .*\n\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  const data = JSON.parse(/event: next\ndata: (.*)\n/.exec(text)![1]!);
  assert.deepEqual(data, { data: { contextClosed: { id: 'c13', trigger: { user: 'alice' }, outcome: 'FORBIDDEN', flags: ['FORBIDDEN_BURST'], members: [{ auditID: 'c13-a0' }] } } });
  ac.abort();
  await reader.cancel().catch(() => {});
  for (let i = 0; i < 50 && listeners.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(listeners.size, 0, 'unsubscribed when the client went away');
});

test('subscription: invalid filters and the subscription limit', async () => {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query: 'subscription { contextClosed(filter: { user: [] }) { id } }' }),
  });
  const text = await res.text();
  assert.match(text, /filter\.user: empty list/);
  // fill the two allowed subscriptions, the third is refused
  const open: AbortController[] = [];
  for (let i = 0; i < 2; i++) {
    const ac = new AbortController();
    open.push(ac);
    const listening = new Promise<void>((r) => { onListen = r; });
    await fetch(`${server.url}/graphql`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ query: 'subscription { contextClosed { id } }' }) });
    await listening;
  }
  const third = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ query: 'subscription { contextClosed { id } }' }) });
  assert.match(await third.text(), /too many subscriptions \(limit 2\)/);
  handler.close(); // server shutdown ends open subscriptions
  for (let i = 0; i < 50 && listeners.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(listeners.size, 0);
  for (const ac of open) ac.abort();
});
