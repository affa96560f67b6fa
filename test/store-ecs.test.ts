/**
 * ECS fields of context summaries (src/store/ecs.ts): derived from the summary on every write,
 * dropped on every read, named as Elastic's Kubernetes audit integration names them; and the
 * migration of summaries written by the previous template (client-side, at start-up and by
 * `kontext migrate`), checked against the real Elasticsearch with ECS queries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testClient, uniquePrefix, deleteIndices, getDoc } from './helpers/es.ts';
import { contextIndexOf, fromEsDoc, indexNames, memberIndexOf, toEsDoc, toEsMember } from '../src/store/codec.ts';
import { ECS_KEYS, ECS_VERSION, ecsFieldsOf, ecsOutcome, ecsTypes, stripEcs } from '../src/store/ecs.ts';
import { countWithoutEcs, migrateEcsFields } from '../src/store/migrate-ecs.ts';
import { ensureIndexTemplates, SCHEMA_DIR } from '../src/store/templates.ts';
import { summarize } from '../src/cluster/summary.ts';
import { summariesOf } from '../src/store/read.ts';
import { ev } from './cluster-fixtures.ts';
import type { ContextDoc } from '../src/types/context.ts';

const T0 = Date.UTC(2026, 4, 20, 9, 30);

function deployment(id: string, opts: { code?: number; user?: string; impersonate?: string; n?: number } = {}): ContextDoc {
  const n = opts.n ?? 3;
  const events = Array.from({ length: n }, (_, i) => ev({
    id: i === 0 ? id : `${id}-m${i}`, time: T0 + i * 250, label: 'create apps/deployments',
    user: i === 0 ? (opts.user ?? 'alice') : 'system:serviceaccount:kube-system:deployment-controller',
    groups: i === 0 ? ['devs', 'system:authenticated'] : ['system:serviceaccounts'],
    sourceIPs: i === 0 ? ['192.0.2.10', '10.0.0.1'] : ['10.0.0.2'],
    verb: 'create', ref: { resource: i === 0 ? 'deployments' : 'replicasets', apiGroup: 'apps', namespace: 'shop', name: 'web' },
    code: i === 0 ? (opts.code ?? 201) : 201, ...(i === 0 && opts.impersonate ? { impersonate: opts.impersonate } : {}),
  }));
  return summarize(id, events, 'closed');
}

test('ecs: a summary carries the ECS fields of its trigger, named as the Kubernetes audit integration names them', () => {
  const doc = { ...deployment('ecs-a', { impersonate: 'bob' }), cluster: 'prod-eu' } as ContextDoc & { cluster: string };
  const es: any = toEsDoc(doc);
  assert.equal(es['@timestamp'], new Date(T0).toISOString());
  assert.equal(es.ecs.version, ECS_VERSION);
  assert.deepEqual(es.event, {
    kind: 'event', module: 'kontext', dataset: 'kontext.context', category: ['api'], type: ['creation'], action: 'create', outcome: 'success',
    start: new Date(T0).toISOString(), end: new Date(T0 + 500).toISOString(), duration: 500 * 1e6,
  });
  assert.deepEqual(es.user, { name: 'alice', group: { name: ['devs', 'system:authenticated'] }, effective: { name: 'bob' } });
  assert.equal(es.user_agent.original, doc.trigger.userAgent);
  assert.deepEqual(es.source, { ip: '192.0.2.10' }, 'the requester, not the proxy after it');
  assert.deepEqual(es.orchestrator, { type: 'kubernetes', cluster: { name: 'prod-eu' }, namespace: 'shop', resource: { type: 'deployments', name: 'web' } });
  assert.deepEqual(es.kubernetes.audit, {
    auditID: 'ecs-a', verb: 'create', level: 'Metadata',
    user: { username: 'alice', groups: ['devs', 'system:authenticated'] }, impersonatedUser: { username: 'bob' },
    responseStatus: { code: 201 }, objectRef: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' },
    userAgent: doc.trigger.userAgent, sourceIPs: ['192.0.2.10', '10.0.0.1'],
  });
  // kontext's own fields are all still there, unchanged
  for (const [k, v] of Object.entries(doc)) if (k !== 'members') assert.deepEqual(es[k], v, k);
  // readers get the ContextDoc back without any ECS key
  const back = fromEsDoc(es, doc.members);
  assert.deepEqual(back, doc);
  for (const k of ECS_KEYS) assert.equal(k in back, false, k);
});

test('ecs: no cluster, no namespace, no source IP: the fields are left out rather than empty', () => {
  const doc = deployment('ecs-b');
  const t = { ...doc.trigger, sourceIPs: [], userAgent: '', groups: [] };
  delete (t as any).namespace; delete (t as any).name;
  const f: any = ecsFieldsOf({ ...doc, trigger: t });
  assert.deepEqual(f.orchestrator, { type: 'kubernetes', resource: { type: 'deployments' } });
  assert.equal(f.source, undefined);
  assert.equal(f.user_agent, undefined);
  assert.deepEqual(f.user, { name: 'alice' });
  // a subresource is part of the resource type (pods/exec is not a pod)
  const exec: any = ecsFieldsOf({ ...doc, trigger: { ...doc.trigger, verb: 'get', resource: 'pods', subresource: 'exec' } });
  assert.equal(exec.orchestrator.resource.type, 'pods/exec');
  assert.deepEqual(exec.kubernetes.audit.objectRef, { resource: 'pods', subresource: 'exec', apiGroup: 'apps', namespace: 'shop', name: 'web' });
});

test('ecs: event.outcome is the trigger\'s answer at and past 400; background traffic answers for its members', () => {
  const base = { outcome: 'success' as const, label: 'create apps/deployments' };
  assert.equal(ecsOutcome({ ...base, trigger: { code: 399 } }), 'success');
  assert.equal(ecsOutcome({ ...base, trigger: { code: 400 } }), 'failure');
  assert.equal(ecsOutcome({ ...base, outcome: 'partial', trigger: { code: 201 } }), 'success', 'the action succeeded; some caused events failed');
  assert.equal(ecsOutcome({ ...base, outcome: 'forbidden', trigger: { code: 403 } }), 'failure');
  const bg = { label: 'background update coordination.k8s.io/leases', trigger: { code: 200 } };
  assert.equal(ecsOutcome({ ...bg, outcome: 'success' }), 'success');
  assert.equal(ecsOutcome({ ...bg, outcome: 'partial' }), 'unknown');
  assert.equal(ecsOutcome({ ...bg, outcome: 'failure' }), 'failure');
  assert.equal(ecsOutcome({ ...bg, outcome: 'forbidden' }), 'failure');
});

test('ecs: event.type by verb, denied only for 403; RBAC, service accounts and CSRs are iam', () => {
  assert.deepEqual(ecsTypes({ verb: 'patch', code: 200 }, ['api']), ['change']);
  assert.deepEqual(ecsTypes({ verb: 'deletecollection', code: 200 }, ['api']), ['deletion']);
  assert.deepEqual(ecsTypes({ verb: 'list', code: 403 }, ['api']), ['access', 'denied']);
  assert.deepEqual(ecsTypes({ verb: 'list', code: 401 }, ['api']), ['access'], '401 is an authentication failure, not an authorization denial');
  assert.deepEqual(ecsTypes({ verb: 'get', code: 200 }, ['api', 'iam']), ['info']);
  assert.deepEqual(ecsTypes({ verb: 'frobnicate', code: 200 }, ['api']), ['info']);
  const doc = deployment('ecs-c');
  const cat = (apiGroup: string, resource: string) => (ecsFieldsOf({ ...doc, trigger: { ...doc.trigger, apiGroup, resource } }) as any).event.category;
  assert.deepEqual(cat('rbac.authorization.k8s.io', 'clusterrolebindings'), ['api', 'iam']);
  assert.deepEqual(cat('', 'serviceaccounts'), ['api', 'iam']);
  assert.deepEqual(cat('certificates.k8s.io', 'certificatesigningrequests'), ['api', 'iam']);
  assert.deepEqual(cat('', 'secrets'), ['api']);
  assert.deepEqual(cat('example.com', 'serviceaccounts'), ['api'], 'a CRD named like a core resource is not one');
});

test('ecs: a summary read back with an older ECS block is written with a fresh one', () => {
  const doc = deployment('ecs-d');
  const stale = { ...toEsDoc(doc), ecs: { version: '1.0.0' }, event: { action: 'wrong' }, user: { name: 'mallory' } } as any;
  const again: any = toEsDoc(stale);
  assert.equal(again.ecs.version, ECS_VERSION);
  assert.equal(again.event.action, 'create');
  assert.equal(again.user.name, 'alice');
  assert.deepEqual(stripEcs(again), stripEcs(toEsDoc(doc)));
});

/** The templates as the previous kontext shipped them: contexts v3 and members v2, without the ECS fields. */
function previousTemplates(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kontext-old-templates-'));
  for (const f of readdirSync(SCHEMA_DIR).filter((x) => x.endsWith('.json'))) {
    const body = JSON.parse(readFileSync(path.join(SCHEMA_DIR, f), 'utf8'));
    if (f === 'contexts.json' || f === 'members.json') {
      body.version = f === 'contexts.json' ? 3 : 2;
      for (const k of [...ECS_KEYS]) delete body.template.mappings.properties[k];
      delete body.template.settings.index['mapping.total_fields.limit'];
    }
    writeFileSync(path.join(dir, f), JSON.stringify(body));
  }
  return dir;
}

test('ecs migration: summaries of the previous template get the ECS fields in place, at their version, and ECS queries find them', async () => {
  const client = testClient();
  const prefix = uniquePrefix('ecs');
  const names = indexNames(prefix);
  const oldDir = previousTemplates();
  try {
    await ensureIndexTemplates(client, prefix, { dir: oldDir });
    const docs = [deployment('old-1'), deployment('old-2', { code: 403, user: 'eve' }), deployment('old-3', { n: 1 })];
    // two days, so the migration spans several day indices behind the read alias
    docs[2] = { ...docs[2]!, start: T0 + 86_400_000, end: T0 + 86_400_000, members: docs[2]!.members.map((m) => ({ ...m, time: T0 + 86_400_000 })) };
    const ops: unknown[] = [];
    for (const d of docs) {
      // the previous codec: kontext's fields only
      ops.push({ index: { _index: contextIndexOf(prefix, d), _id: d.id, version: 2 * d.eventCount + 1, version_type: 'external_gte' } }, stripEcs(toEsDoc(d)));
      for (const m of d.members) ops.push({ create: { _index: memberIndexOf(prefix, m), _id: m.auditID } }, toEsMember(d.id, m));
    }
    const r = await client.bulk({ operations: ops, refresh: true });
    assert.equal(r.errors, false);
    assert.equal(await countWithoutEcs(client, prefix), 3);
    const ecsHits = async (query: object) => {
      await client.indices.refresh({ index: names.contexts });
      const res: any = await client.search({ index: names.contexts, query, size: 10, sort: [{ id: 'asc' }] });
      return res.hits.hits.map((h: any) => h._id);
    };
    assert.deepEqual(await ecsHits({ term: { 'user.name': 'alice' } }), [], 'nothing to find before the migration');

    // the next start: templates upgraded in place, then the summaries migrated
    await ensureIndexTemplates(client, prefix);
    const tpl: any = await client.indices.getIndexTemplate({ name: `${prefix}-contexts` });
    assert.equal(tpl.index_templates[0].index_template.version, 4);
    assert.equal(await countWithoutEcs(client, prefix), 0);
    assert.deepEqual(await ecsHits({ term: { 'user.name': 'alice' } }), ['old-1', 'old-3']);
    assert.deepEqual(await ecsHits({ term: { 'event.action': 'create' } }), ['old-1', 'old-2', 'old-3']);
    assert.deepEqual(await ecsHits({ bool: { filter: [{ term: { 'event.outcome': 'failure' } }, { term: { 'event.type': 'denied' } }] } }), ['old-2']);
    assert.deepEqual(await ecsHits({ term: { 'kubernetes.audit.auditID': 'old-2' } }), ['old-2']);
    assert.deepEqual(await ecsHits({ term: { 'kubernetes.audit.objectRef.resource': 'deployments' } }), ['old-1', 'old-2', 'old-3']);
    assert.deepEqual(await ecsHits({ term: { 'source.ip': '192.0.2.0/24' } }), ['old-1', 'old-2', 'old-3'], 'source.ip is an ip field');
    assert.deepEqual(await ecsHits({ term: { 'orchestrator.namespace': 'shop' } }), ['old-1', 'old-2', 'old-3']);
    assert.deepEqual(await ecsHits({ range: { '@timestamp': { gte: new Date(T0 + 3_600_000).toISOString() } } }), ['old-3']);
    assert.deepEqual(await ecsHits({ range: { 'event.duration': { gte: 500 * 1e6 } } }), ['old-1', 'old-2']);
    // member documents: @timestamp is an alias of their time
    const m: any = await client.search({ index: names.members, query: { range: { '@timestamp': { gte: T0 + 3_600_000 } } } });
    assert.deepEqual(m.hits.hits.map((h: any) => h._id), ['old-3']);

    // rewritten at its own version, every kontext field kept, read back unchanged
    const got = await getDoc(client, names.contexts, 'old-1');
    assert.equal(got._version, 2 * 3 + 1);
    assert.deepEqual(fromEsDoc(got._source as any, docs[0]!.members), docs[0]);

    // the writer's conflict path reads summaries back without the block (it derives it afresh)
    const back = (await summariesOf(client, prefix, [{ id: 'old-1', start: docs[0]!.start }, 'old-2'])) as Map<string, { doc: any }>;
    for (const id of ['old-1', 'old-2']) for (const k of ECS_KEYS) assert.equal(k in back.get(id)!.doc, false, `${id} ${k}`);

    // idempotent: nothing left, a second run (kontext migrate) rewrites nothing
    const again = await migrateEcsFields(client, prefix);
    assert.deepEqual(again, { total: 0, migrated: 0, skipped: 0 });
  } finally {
    rmSync(oldDir, { recursive: true, force: true });
    await deleteIndices(client, prefix);
    await client.close();
  }
});
