/**
 * End to end, as deployed: a real forward peer (@fluent-org/logger, PackedForward with acks and
 * a shared key) and the apiserver webhook send simulated audit traffic to a running kontext
 * (forward input → normalize → label → cluster → Elasticsearch), then GraphQL answers from the
 * real Elasticsearch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownersOf, summariesOf } from '../src/store/read.ts';
import { FluentClient } from '@fluent-org/logger';
import { loadConfig } from '../src/config/config.ts';
import { startService, type Service } from '../src/pipeline/service.ts';
import { simulate } from '../src/simulate/index.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION, type AuditEvent } from '../src/types/audit.ts';
import { esUrl, uniquePrefix, deleteIndices, testClient } from './helpers/es.ts';
import { setLogLevel } from '../src/util/log.ts';

const TOKEN = 'e2e-token';
const SHARED_KEY = 'e2e-shared-key';

async function gql<T = any>(svc: Service, query: string, variables: Record<string, unknown> = {}, token = TOKEN): Promise<{ status: number; body: { data?: T; errors?: { message: string }[] } }> {
  const r = await fetch(`${svc.http.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: r.status, body: await r.json() as any };
}

test('forward peer + webhook → contexts in Elasticsearch → GraphQL', { timeout: 240_000 }, async (t) => {
  setLogLevel('warn');
  const prefix = uniquePrefix('e2e');
  const cfg = loadConfig({
    'index-prefix': prefix, 'forward-host': '127.0.0.1', 'forward-port': '0', 'http-host': '127.0.0.1', 'http-port': '0',
    'forward-shared-key': SHARED_KEY, 'auth-tokens': TOKEN, 'flush-interval': '200ms', 'reorder-wait': '1s',
  }, { ELASTICSEARCH_URL: esUrl() });
  const svc = await startService(cfg);
  const es = testClient();
  t.after(async () => { await svc.stop(); await deleteIndices(es, prefix); await es.close(); });

  const events: AuditEvent[] = [...simulate({ seed: 42, durationMs: 4 * 60_000, users: 3, actionsPerMinute: 20 })];
  assert.ok(events.length > 1000, `simulated ${events.length} events`);
  const viaWebhook = events.slice(-200);
  const viaForward = events.slice(0, -200);

  const client = new FluentClient('kube.audit', {
    socket: { host: '127.0.0.1', port: svc.forward.port, timeout: -1 },
    eventMode: 'PackedForward',
    ack: { ackTimeout: 60_000 },
    security: { clientHostname: 'fluent-bit.test', sharedKey: SHARED_KEY },
    flushInterval: 20,
  });
  try {
    await Promise.all(viaForward.map((e) => client.emit(e as unknown as Record<string, unknown>)));
  } finally {
    await client.disconnect();
  }
  // every emit resolved = every chunk acked = every event durably stored
  const wh = await fetch(`${svc.http.url}/webhook/audit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: viaWebhook }),
  });
  assert.equal(wh.status, 200, await wh.text());

  // acks mean stored: after a refresh every auditID resolves to a context, none twice
  await es.indices.refresh({ index: [`${prefix}-contexts`, `${prefix}-members`] });
  const ids = events.map((e) => e.auditID);
  // one member document per auditID (its _id), naming the one context that holds it
  const owner = await ownersOf(es, prefix, ids);
  const owning = [...new Set(owner.values())];
  const summaries = await summariesOf(es, prefix, owning);
  assert.ok(owning.every((id) => summaries.has(id)), 'every owning context has a summary');
  assert.equal([...summaries.values()].reduce((n, s) => n + s.doc.eventCount, 0), ids.length, 'summaries count every event once');
  const missing = ids.filter((id) => !owner.has(id));
  assert.equal(missing.length, 0, `${missing.length} acknowledged events are not stored, e.g. ${missing.slice(0, 3).join(', ')}`);

  // GraphQL: contextOfEvent resolves every sampled event
  for (const e of events.filter((_, i) => i % 97 === 0)) {
    const r = await gql(svc, 'query($id: ID!) { contextOfEvent(auditID: $id) { id members { auditID } } }', { id: e.auditID });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    assert.equal(r.body.data.contextOfEvent.id, owner.get(e.auditID));
  }

  // "which contexts did user X trigger": every user action of X (simulator ground truth) is
  // found as the trigger of one of the returned contexts
  // the simulator names each user action's context after its trigger request's auditID
  const users = new Map<string, string>(); // trigger auditID → user
  for (const e of events) {
    const ctx = e.annotations?.[TRUTH_CONTEXT_ANNOTATION];
    const label = e.annotations?.[TRUTH_LABEL_ANNOTATION];
    if (ctx === e.auditID && label && !label.startsWith('background')) users.set(ctx, e.user.username);
  }
  const human = [...users.values()].find((u) => !u.startsWith('system:'));
  assert.ok(human, 'simulation has a human user');
  const expected = [...users.entries()].filter(([, u]) => u === human).map(([c]) => c);
  const got = new Set<string>();
  let after: string | null = null;
  for (;;) {
    const r: { status: number; body: { data?: any; errors?: { message: string }[] } } = await gql(svc, `query($u: [String!], $after: String) {
      contexts(filter: { triggeredBy: $u }, first: 100, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { trigger { auditID user } } }
      } }`, { u: [human], after });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const c = r.body.data.contexts;
    for (const edge of c.edges) { assert.equal(edge.node.trigger.user, human); got.add(edge.node.trigger.auditID); }
    if (!c.pageInfo.hasNextPage) break;
    after = c.pageInfo.endCursor;
  }
  const found = expected.filter((id) => got.has(id)).length;
  assert.ok(found / expected.length >= 0.95, `${found}/${expected.length} of ${human}'s actions found as context triggers`);

  // auth is on
  const denied = await gql(svc, '{ contexts(first: 1) { totalCount } }', {}, 'wrong');
  assert.equal(denied.status, 401);
  const health = await fetch(`${svc.http.url}/readyz`);
  assert.equal(health.status, 200);
  assert.equal((await fetch(`${svc.http.url}/metrics`)).status, 401, '/metrics needs the token unless --metrics-public');
  const metrics = await (await fetch(`${svc.http.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  assert.match(metrics, /kontext_pipeline_events_total\{stage="store"\} \d+/);
});
