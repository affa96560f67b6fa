/**
 * What the web UI needs from the server, against the real Elasticsearch: the GraphQL fields it
 * reads (member component/actor, flagMatches, previous/next context of the same user, the same
 * object's other contexts), their cost, and the HTTP mount (SPA routes, assets, security
 * headers) next to the API routes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import express from 'express';
import { simulate } from '../src/simulate/index.ts';
import { eventFlags, summarize } from '../src/cluster/summary.ts';
import { ensureIndexTemplates } from '../src/store/templates.ts';
import { indexNames, toEsDoc } from '../src/store/codec.ts';
import { createGraphqlHandler, type GraphqlHandler } from '../src/query/handler.ts';
import { FLAGS } from '../src/query/resolvers.ts';
import { memberSource } from '../src/query/members.ts';
import { createHttpApp, startHttpServer, type RunningServer } from '../src/http/app.ts';
import { mountUi, UI_DIST } from '../src/http/ui.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION, type AuditEvent } from '../src/types/audit.ts';
import { parseLabelKey } from '../src/types/label.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';
import type { ContextDoc, SecurityFlag } from '../src/types/context.ts';
import { testClient, uniquePrefix, deleteIndices } from './helpers/es.ts';

const TOKEN = 'ui-api-token';
const START = Date.UTC(2026, 1, 1);
const FLAG_ENUM = Object.fromEntries(Object.entries(FLAGS).map(([k, v]) => [v, k])) as Record<SecurityFlag, string>;
let es: Client;
let prefix: string;
let handler: GraphqlHandler;
let docs: ContextDoc[] = [];
const raw = new Map<string, AuditEvent[]>();

async function gql(query: string, variables?: Record<string, unknown>): Promise<{ data?: any; errors?: any[] }> {
  const res = await handler.fetch('http://test.local/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  return await res.json() as { data?: any; errors?: any[] };
}
async function data(query: string, variables?: Record<string, unknown>): Promise<any> {
  const b = await gql(query, variables);
  if (b.errors) throw new Error(`GraphQL errors: ${JSON.stringify(b.errors)}`);
  return b.data;
}

before(async () => {
  es = testClient();
  prefix = uniquePrefix('ui-api');
  const groups = new Map<string, LabeledEvent[]>();
  for (const audit of simulate({ seed: 23, start: START, durationMs: 8 * 60_000, actionsPerMinute: 30, users: 4 }) as Iterable<AuditEvent>) {
    const id = audit.annotations![TRUTH_CONTEXT_ANNOTATION]!;
    const key = audit.annotations![TRUTH_LABEL_ANNOTATION]!;
    const ev: LabeledEvent = { audit, time: Date.parse(audit.requestReceivedTimestamp), label: parseLabelKey(key), labelKey: key, labelSource: 'rule', confidence: 1 };
    let g = groups.get(id);
    if (!g) { groups.set(id, (g = [])); raw.set(id, []); }
    g.push(ev);
    raw.get(id)!.push(audit);
  }
  docs = [...groups].map(([id, events]) => summarize(id, events, 'closed'));
  await ensureIndexTemplates(es, prefix);
  const index = indexNames(prefix).contexts;
  for (let i = 0; i < docs.length; i += 500) {
    const res = await es.bulk({ operations: docs.slice(i, i + 500).flatMap((d) => [{ index: { _index: index, _id: d.id } }, toEsDoc(d)]) });
    assert.equal(res.errors, false);
  }
  await es.indices.refresh({ index });
  handler = createGraphqlHandler({ es, indexPrefix: prefix, auth: { tokens: [TOKEN] } });
});

after(async () => {
  handler?.close();
  await deleteIndices(es, prefix);
  await es.close();
});

test('previousOfUser / nextOfUser follow the same user\'s contexts in start order, ends are null', async () => {
  const humans = [...new Set(docs.map((d) => d.trigger.user))].filter((u) => !u.startsWith('system:'));
  assert.ok(humans.length >= 2);
  let checked = 0;
  for (const u of humans) {
    const mine = docs.filter((d) => d.trigger.user === u).sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
    assert.ok(mine.length >= 3, `${u} triggered ${mine.length} contexts`);
    for (const i of [0, 1, mine.length - 1]) {
      const d = await data('query($id: ID!) { context(id: $id) { previousOfUser { id trigger { user } } nextOfUser { id } } }', { id: mine[i]!.id });
      assert.equal(d.context.previousOfUser?.id ?? null, i > 0 ? mine[i - 1]!.id : null, `previous of #${i} of ${u}`);
      assert.equal(d.context.nextOfUser?.id ?? null, i < mine.length - 1 ? mine[i + 1]!.id : null, `next of #${i} of ${u}`);
      if (d.context.previousOfUser) assert.equal(d.context.previousOfUser.trigger.user, u);
      checked++;
    }
  }
  assert.ok(checked >= 6);
});

test('sameObject lists the other contexts that touched the trigger\'s object, newest first', async () => {
  const named = docs.filter((d) => d.trigger.name && !d.trigger.user.startsWith('system:'));
  const withOthers = named.map((d) => {
    const res = d.trigger.apiGroup ? `${d.trigger.apiGroup}/${d.trigger.resource}` : d.trigger.resource;
    const others = docs.filter((o) => o.id !== d.id && o.names.includes(d.trigger.name!) && o.resources.includes(res)
      && (!d.trigger.namespace || o.namespaces.includes(d.trigger.namespace)));
    return { d, others: others.sort((a, b) => b.start - a.start || b.id.localeCompare(a.id)) };
  }).filter((x) => x.others.length > 0);
  assert.ok(withOthers.length >= 3, 'the simulator touches some objects more than once');
  for (const { d, others } of withOthers.slice(0, 8)) {
    const got = await data('query($id: ID!) { context(id: $id) { sameObject(first: 5) { id } } }', { id: d.id });
    assert.deepEqual(got.context.sameObject.map((c: any) => c.id), others.slice(0, 5).map((o) => o.id), d.action);
  }
  const clusterScoped = docs.find((d) => !d.trigger.name);
  if (clusterScoped) assert.deepEqual((await data('query($id: ID!) { context(id: $id) { sameObject { id } } }', { id: clusterScoped.id })).context.sameObject, []);
});

test('flagMatches names the members that raised each flag; body-only flags say they cannot', async () => {
  const flagged = docs.filter((d) => d.flags.length);
  assert.ok(flagged.length >= 5);
  const seen = new Set<string>();
  for (const d of flagged) {
    const got = (await data('query($id: ID!) { context(id: $id) { flags flagMatches { flag members complete } } }', { id: d.id })).context;
    assert.deepEqual(got.flagMatches.map((f: any) => f.flag), got.flags);
    for (const fm of got.flagMatches) {
      const flag = Object.entries(FLAG_ENUM).find(([, e]) => e === fm.flag)![0] as SecurityFlag;
      seen.add(flag);
      const expected = flag === 'forbidden-burst'
        ? d.members.filter((m) => m.code === 403).map((m) => m.auditID)
        : d.members.filter((m) => eventFlags(raw.get(d.id)!.find((e) => e.auditID === m.auditID)!).includes(flag)).map((m) => m.auditID);
      if (flag === 'privileged-pod') {
        assert.deepEqual(fm.members, [], 'a pod spec is not kept in members');
        assert.equal(fm.complete, false);
      } else if (flag === 'anonymous' || flag === 'impersonation') {
        for (const a of fm.members) assert.ok(expected.includes(a), `${flag}: ${a} did raise it`);
      } else {
        assert.deepEqual(fm.members, expected, `${flag} in ${d.action}`);
        assert.equal(fm.complete, true);
      }
    }
  }
  assert.ok(seen.size >= 2, `flags seen: ${[...seen].join(', ')}`);
  const plain = docs.find((d) => !d.flags.length)!;
  assert.deepEqual((await data('query($id: ID!) { context(id: $id) { flagMatches { flag } } }', { id: plain.id })).context.flagMatches, []);
});

test('members carry the component that made them', async () => {
  assert.deepEqual(memberSource('system:node:ip-10-0-1-7'), { component: 'kubelet', actor: 'ip-10-0-1-7' });
  assert.deepEqual(memberSource('system:kube-scheduler'), { component: 'scheduler', actor: 'system:kube-scheduler' });
  assert.deepEqual(memberSource('system:serviceaccount:kube-system:replicaset-controller'), { component: 'controller-manager', actor: 'replicaset-controller' });
  assert.deepEqual(memberSource('system:serviceaccount:kube-system:generic-garbage-collector'), { component: 'controller-manager', actor: 'generic-garbage-collector' });
  assert.deepEqual(memberSource('system:serviceaccount:kube-system:coredns'), { component: 'kube-system', actor: 'coredns' });
  assert.deepEqual(memberSource('system:apiserver'), { component: 'apiserver', actor: 'system:apiserver' });
  assert.deepEqual(memberSource('alice@example.com'), { component: 'user', actor: 'alice@example.com' });
  assert.deepEqual(memberSource('system:serviceaccount:ci:deployer'), { component: 'user', actor: 'system:serviceaccount:ci:deployer' });
  const big = docs.find((d) => !d.trigger.user.startsWith('system:') && d.users.some((u) => u.startsWith('system:node:')) && d.users.some((u) => /kube-system:.*-controller$/.test(u)))!;
  assert.ok(big, 'a user action with a controller and kubelet cascade');
  const got = (await data('query($id: ID!) { context(id: $id) { members(first: 1000) { user component actor } } }', { id: big.id })).context.members;
  assert.equal(got.length, Math.min(1000, big.eventCount));
  const components = new Set(got.map((m: any) => m.component));
  for (const c of ['user', 'controller-manager', 'kubelet']) assert.ok(components.has(c), `${c} among ${[...components].join(', ')}`);
  for (const m of got) assert.deepEqual({ component: m.component, actor: m.actor }, memberSource(m.user));
});

test('fields that search per context are costed: a page of 500 with previousOfUser is refused', async () => {
  const b = await gql('{ contexts(first: 500) { nodes { id previousOfUser { id } } } }');
  assert.equal(b.errors?.[0]?.extensions?.code, 'QUERY_TOO_COMPLEX');
  const ok = await gql('{ contexts(first: 20) { nodes { id previousOfUser { id } } } }');
  assert.equal(ok.errors, undefined);
});

test('HTTP: the UI at / and its client routes, assets with security headers, API routes untouched', async (t) => {
  const app = createHttpApp({ graphql: handler, routers: [{ path: '/webhook/audit', router: express.Router().post('/', (_q, r) => { r.status(401).json({ error: 'webhook' }); }) }], ready: () => true });
  const srv: RunningServer = await startHttpServer(app, '127.0.0.1', 0);
  t.after(() => srv.close());
  for (const p of ['/', '/contexts?user=alice', '/timeline', '/context/some-id', '/event/abc']) {
    const r = await fetch(srv.url + p);
    assert.equal(r.status, 200, p);
    assert.match(r.headers.get('content-type') ?? '', /text\/html/);
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'.*connect-src 'self'/);
    const html = await r.text();
    assert.match(html, /<div id="app">/);
    assert.doesNotMatch(html, /https?:\/\//, 'nothing loaded from elsewhere');
  }
  const assets = readdirSync(path.join(UI_DIST, 'assets'));
  const js = assets.find((f) => f.endsWith('.js'))!;
  const a = await fetch(`${srv.url}/assets/${js}`);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type') ?? '', /javascript/);
  assert.match(a.headers.get('cache-control') ?? '', /immutable/);
  assert.equal((await fetch(`${srv.url}/assets/missing.js`)).status, 404);
  assert.equal((await fetch(`${srv.url}/not-a-route`)).status, 404);
  const g = await fetch(`${srv.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' });
  assert.equal(g.status, 401);
  const w = await fetch(`${srv.url}/webhook/audit`, { method: 'POST' });
  assert.deepEqual(await w.json(), { error: 'webhook' });
  const h = await fetch(`${srv.url}/healthz`);
  assert.doesNotMatch(h.headers.get('content-type') ?? '', /html/);
});

test('HTTP: without a build the UI routes explain how to build it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kontext-ui-'));
  const app = express();
  mountUi(app, dir);
  const srv = await startHttpServer(app, '127.0.0.1', 0);
  t.after(async () => { await srv.close(); rmSync(dir, { recursive: true, force: true }); });
  const r = await fetch(srv.url + '/');
  assert.equal(r.status, 503);
  assert.match(await r.text(), /npm run build:ui/);
});
