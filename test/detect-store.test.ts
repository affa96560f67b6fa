/**
 * Detections in the store and out of it: stored on the context document, filtered and
 * faceted over GraphQL (real Elasticsearch), and POSTed by the alert webhook to a local
 * receiver: delivery, retry after a 500, no duplicate after a restart.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@elastic/elasticsearch';
import { summarize } from '../src/cluster/summary.ts';
import { ensureIndexTemplates } from '../src/store/templates.ts';
import { contextIndexOf, toEsDoc } from '../src/store/codec.ts';
import { createGraphqlHandler, type GraphqlHandler } from '../src/query/handler.ts';
import { WebhookAlerter, type AlertPayload } from '../src/alert/webhook.ts';
import type { ContextDoc } from '../src/types/context.ts';
import { setLogSink } from '../src/util/log.ts';
import { ev } from './cluster-fixtures.ts';
import { testClient, uniquePrefix, deleteIndices, getDoc } from './helpers/es.ts';

const logLines: string[] = [];
setLogSink((line) => { logLines.push(line); });

const T0 = Date.UTC(2026, 0, 1, 9);
let es: Client;
let prefix: string;
let handler: GraphqlHandler;
let docs: ContextDoc[];

const privileged = { containers: [{ name: 'c', image: 'evil/miner', securityContext: { privileged: true } }] };
function contexts(): ContextDoc[] {
  const mk = (id: string, i: number, spec: Omit<Parameters<typeof ev>[0], 'time'>) => summarize(id, [ev({ ...spec, id: `${id}-a`, time: T0 + i * 60_000 })], 'closed');
  return [
    mk('c-priv', 0, { label: 'create pods', user: 'mallory', verb: 'create', code: 201, ref: { resource: 'pods', namespace: 'shop', name: 'miner' }, requestObject: { spec: privileged } }),
    mk('c-secret', 1, { label: 'get-list secrets', user: 'eve', verb: 'get', code: 200, ref: { resource: 'secrets', namespace: 'shop', name: 'db' } }),
    mk('c-exec', 2, { label: 'create pods/exec', user: 'bob', verb: 'create', code: 101, ref: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web' } }),
    mk('c-deploy', 3, { label: 'create apps/deployments', user: 'system:serviceaccount:kube-system:ci', verb: 'create', code: 201, ref: { apiGroup: 'apps', resource: 'deployments', namespace: 'shop', name: 'web' } }),
    mk('c-quiet', 4, { label: 'get-list pods', user: 'system:kube-scheduler', verb: 'get', code: 200, ref: { resource: 'pods', namespace: 'shop', name: 'web' } }),
  ];
}

async function gql(query: string, variables?: Record<string, unknown>): Promise<any> {
  const res = await handler.fetch('http://test.local/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json() as { data?: any; errors?: any[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

before(async () => {
  es = testClient();
  prefix = uniquePrefix('detect');
  docs = contexts();
  await ensureIndexTemplates(es, prefix);
  const res = await es.bulk({ refresh: true, operations: docs.flatMap((d) => [{ index: { _index: contextIndexOf(prefix, d), _id: d.id } }, toEsDoc(d)]) });
  assert.equal(res.errors, false);
  handler = createGraphqlHandler({ es, indexPrefix: prefix, auth: { tokens: ['t'] } });
});

after(async () => {
  handler?.close();
  await deleteIndices(es, prefix);
  await es.close();
});

const names = (d: ContextDoc) => (d.detections ?? []).map((x) => x.name);

test('contexts carry their detections; GraphQL returns them and filters by detection and severity', async () => {
  const byId = new Map(docs.map((d) => [d.id, d]));
  assert.ok(names(byId.get('c-priv')!).includes('create-privileged-pod'));
  assert.ok(names(byId.get('c-secret')!).includes('secret-get-successfully'));
  assert.deepEqual(names(byId.get('c-quiet')!), []);
  assert.ok(byId.get('c-priv')!.flags.includes('privileged-pod'), 'flags are kept');

  const one = await gql('{ context(id: "c-priv") { detections { name severity auditIDs } } }');
  assert.deepEqual(one.context.detections, byId.get('c-priv')!.detections!.map((d) => ({ ...d, severity: d.severity.toUpperCase() })));

  const ids = async (filter: Record<string, unknown>) => (await gql('query($f: ContextFilter) { contexts(filter: $f, first: 50) { nodes { id } } }', { f: filter })).contexts.nodes.map((n: any) => n.id).sort();
  assert.deepEqual(await ids({ detection: ['create-privileged-pod'] }), ['c-priv']);
  assert.deepEqual(await ids({ detection: ['attach-exec-pod', 'secret-get-successfully'] }), ['c-exec', 'c-secret']);
  assert.deepEqual(await ids({ severity: ['HIGH'] }), ['c-secret']);
  const atLeastMedium = docs.filter((d) => (d.detections ?? []).some((x) => ['critical', 'high', 'medium'].includes(x.severity))).map((d) => d.id).sort();
  assert.ok(atLeastMedium.length >= 2);
  assert.deepEqual(await ids({ minSeverity: 'MEDIUM' }), atLeastMedium);
  assert.deepEqual(await ids({ minSeverity: 'HIGH', severity: ['MEDIUM'] }), [], 'minSeverity and severity AND together');

  const facet = await gql('{ facet(field: DETECTION, first: 100) { buckets { key count } total } sev: facet(field: SEVERITY) { buckets { key count } } }');
  const expected = new Map<string, number>();
  for (const d of docs) for (const n of new Set(names(d))) expected.set(n, (expected.get(n) ?? 0) + 1);
  assert.deepEqual(new Map(facet.facet.buckets.map((b: any) => [b.key, b.count])), expected);
  assert.ok(facet.sev.buckets.some((b: any) => b.key === 'high'));
});

// ---- alert webhook -----------------------------------------------------------------------------

interface Receiver { url: string; received: AlertPayload[]; failNext: number; requests: number; close(): Promise<void> }
async function receiver(): Promise<Receiver> {
  const r: Receiver = { url: '', received: [], failNext: 0, requests: 0, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      assert.equal(req.method, 'POST');
      assert.equal(req.headers['content-type'], 'application/json');
      if (r.failNext > 0) { r.failNext--; res.writeHead(500).end('boom'); return; }
      r.received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  r.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return r;
}

test('alert webhook: one Falco-style POST per detection, retried after a 500, never repeated (also after a restart)', async () => {
  const rx = await receiver();
  const alertPrefix = uniquePrefix('alerts');
  const make = () => new WebhookAlerter({ url: rx.url, client: es, indexPrefix: alertPrefix, minSeverity: 'medium', retryBaseMs: 20, maxAttempts: 5,
    describe: (n) => ({ desc: `desc of ${n}`, tags: ['k8s'] }) });
  try {
    const priv = docs.find((d) => d.id === 'c-priv')!;
    const due = priv.detections!.filter((d) => ['critical', 'high', 'medium'].includes(d.severity));
    assert.ok(due.length >= 2, 'create-privileged-pod and disallowed-k8s-user');
    rx.failNext = 1; // the first POST gets a 500
    const a1 = make();
    a1.push(priv);
    a1.push({ ...priv, id: 'c-open', state: 'open' }); // open contexts are never alerted
    a1.push(docs.find((d) => d.id === 'c-quiet')!); // no detections
    await a1.idle();
    assert.equal(rx.requests, due.length + 1, 'one retry');
    assert.deepEqual(rx.received.map((p) => p.rule).sort(), due.map((d) => d.name).sort());
    const p = rx.received.find((x) => x.rule === 'create-privileged-pod')!;
    assert.equal(p.priority, 'Warning');
    assert.equal(p.source, 'kontext');
    assert.equal(p.uuid, 'c-priv:create-privileged-pod');
    assert.equal(p.output_fields['ka.user.name'], 'mallory');
    assert.deepEqual(p.output_fields['kontext.audit_ids'], ['c-priv-a']);
    assert.equal(p.context.id, 'c-priv');
    assert.match(p.output, /create-privileged-pod: mallory created pod shop\/miner — desc of create-privileged-pod/);
    assert.ok(!Number.isNaN(Date.parse(p.time)));
    assert.equal(a1.sent.delivered, due.length);

    // the same closed context again (re-written after a late event): nothing new
    a1.push(priv);
    await a1.idle();
    assert.equal(rx.received.length, due.length);
    await a1.close();

    // a restart: a new alerter knows from <prefix>-alerts what was delivered
    const a2 = make();
    a2.push(priv);
    await a2.idle();
    assert.equal(rx.received.length, due.length, 'no duplicate after a restart');
    assert.equal(a2.sent.duplicates, due.length);
    // a detection the context did not have before is alerted
    a2.push({ ...priv, detections: [...priv.detections!, { name: 'exec-into-privileged-pod', severity: 'critical', auditIDs: ['x'] }] });
    await a2.idle();
    assert.equal(rx.received.length, due.length + 1);
    assert.equal(rx.received.at(-1)!.priority, 'Critical');
    await a2.close();

    // a receiver that keeps failing: given up after maxAttempts, not recorded, logged
    rx.failNext = 100;
    const before = rx.requests;
    const a3 = make();
    a3.push(docs.find((d) => d.id === 'c-secret')!);
    await a3.idle();
    assert.equal(rx.requests - before, 5 * a3.sent.failed);
    assert.ok(a3.sent.failed >= 1);
    assert.ok(logLines.some((l) => l.includes('alert given up')));
    await a3.close();
  } finally {
    await rx.close();
    await deleteIndices(es, alertPrefix);
  }
});

test('the running service: detections reach the stored context, and the alert is POSTed after storage', { timeout: 180_000 }, async (t) => {
  const { loadConfig } = await import('../src/config/config.ts');
  const { startService } = await import('../src/pipeline/service.ts');
  const { audit } = await import('./cluster-fixtures.ts');
  const { esUrl } = await import('./helpers/es.ts');
  const rx = await receiver();
  const svcPrefix = uniquePrefix('detect-svc');
  const cfg = loadConfig({
    'index-prefix': svcPrefix, 'forward-host': '127.0.0.1', 'forward-port': '0', 'http-host': '127.0.0.1', 'http-port': '0',
    'auth-tokens': 'svc-token', 'flush-interval': '200ms', 'reorder-wait': '200ms', 'alert-webhook-url': rx.url, 'alert-min-severity': 'critical',
    'context-idle': '2s',
  }, { ELASTICSEARCH_URL: esUrl() });
  // what the receiver saw stored at the moment each alert arrived
  const storedAtAlert: Array<Promise<boolean>> = [];
  const check = rx.received.push.bind(rx.received);
  rx.received.push = (...items: AlertPayload[]) => {
    for (const p of items) {
      // asked the moment the alert arrives (after a refresh: sees every acknowledged write)
      storedAtAlert.push(getDoc(es, `${svcPrefix}-contexts`, p.context.id).then((d) => d.found, () => false));
    }
    return check(...items);
  };
  const svc = await startService(cfg);
  t.after(async () => { await rx.close(); await deleteIndices(es, svcPrefix); });
  const now = Date.now() - 60_000;
  const events = [
    audit({ time: now, user: 'alice', verb: 'create', code: 201, ref: { resource: 'pods', namespace: 'shop', name: 'debug' },
      requestObject: { metadata: { name: 'debug', namespace: 'shop' }, spec: privileged } }),
    audit({ time: now + 20_000, user: 'bob', verb: 'create', code: 101, ref: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'debug' }, id: 'svc-exec' }),
  ].map((a) => ({ ...a, level: 'RequestResponse' as const }));
  const res = await fetch(`${svc.http.url}/webhook/audit`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer svc-token' },
    body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events }),
  });
  assert.equal(res.status, 200, await res.text());
  // a context is alerted once it is closed (on event time: idle 2 s, the clock moves on while the
  // input is quiet) and stored; a stop leaves open contexts open for the next start
  for (let i = 0; i < 300 && !rx.received.some((p) => p.rule === 'exec-into-privileged-pod'); i++) await new Promise((r) => setTimeout(r, 100));
  await svc.stop();
  const alerts = rx.received.filter((p) => p.rule === 'exec-into-privileged-pod');
  assert.equal(alerts.length, 1, `alerts: ${JSON.stringify(rx.received.map((p) => p.rule))}`);
  assert.deepEqual(alerts[0]!.output_fields['kontext.audit_ids'], ['svc-exec']);
  assert.equal(rx.received.length, 1, 'only critical detections with --alert-min-severity critical');
  assert.deepEqual(await Promise.all(storedAtAlert), [true], 'the context was in Elasticsearch when its alert arrived');
  const stored = await getDoc<{ detections: Array<{ name: string }> }>(es, `${svcPrefix}-contexts`, alerts[0]!.context.id);
  assert.ok(stored._source!.detections.some((d) => d.name === 'exec-into-privileged-pod'));
});
