/**
 * GraphQL against the real Elasticsearch, over contexts built from simulator ground truth:
 * simulated events grouped by their `sim.kontext.io/context` annotation, summarized, written
 * with the index templates applied. Every answer is checked against that ground truth.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@elastic/elasticsearch';
import { simulate } from '../src/simulate/index.ts';
import { summarize } from '../src/cluster/summary.ts';
import { ensureIndexTemplates } from '../src/store/templates.ts';
import { contextOperations, indexNames } from '../src/store/codec.ts';
import { createGraphqlHandler, type GraphqlHandler } from '../src/query/handler.ts';
import { matchesFilter, normalizeFilter } from '../src/query/filter.ts';
import { FLAGS, OUTCOMES } from '../src/query/resolvers.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION, type AuditEvent } from '../src/types/audit.ts';
import { parseLabelKey } from '../src/types/label.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';
import type { ContextDoc } from '../src/types/context.ts';
import { testClient, uniquePrefix, deleteIndices } from './helpers/es.ts';

const START = Date.UTC(2026, 0, 1);
const DURATION = 15 * 60_000;
let es: Client;
let prefix: string;
let handler: GraphqlHandler;
let docs: ContextDoc[] = [];
const contextOfAudit = new Map<string, string>();

const FLAG_ENUM = Object.fromEntries(Object.entries(FLAGS).map(([k, v]) => [v, k]));
const OUTCOME_ENUM = Object.fromEntries(Object.entries(OUTCOMES).map(([k, v]) => [v, k]));

async function gql(query: string, variables?: Record<string, unknown>): Promise<any> {
  const res = await handler.fetch('http://test.local/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer query-test-token' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json() as { data?: any; errors?: any[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Every context id matching a filter, following cursors. */
async function allIds(filter: Record<string, unknown> | undefined, sort = 'START_DESC', first = 500): Promise<{ ids: string[]; nodes: any[]; total: number }> {
  const ids: string[] = []; const nodes: any[] = [];
  let after: string | null = null; let total = -1;
  for (let page = 0; page < 1000; page++) {
    const d: any = await gql(`query($f: ContextFilter, $s: ContextSort, $n: Int, $a: String) {
      contexts(filter: $f, sort: $s, first: $n, after: $a) { totalCount edges { cursor node { id start eventCount } } pageInfo { hasNextPage endCursor } } }`,
    { f: filter, s: sort, n: first, a: after });
    total = d.contexts.totalCount;
    for (const e of d.contexts.edges) { ids.push(e.node.id); nodes.push(e.node); }
    if (!d.contexts.pageInfo.hasNextPage) break;
    after = d.contexts.pageInfo.endCursor;
  }
  return { ids, nodes, total };
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

before(async () => {
  es = testClient();
  prefix = uniquePrefix('query');
  const groups = new Map<string, LabeledEvent[]>();
  for (const audit of simulate({ seed: 11, start: START, durationMs: DURATION, actionsPerMinute: 30, users: 6 }) as Iterable<AuditEvent>) {
    const id = audit.annotations?.[TRUTH_CONTEXT_ANNOTATION];
    const key = audit.annotations?.[TRUTH_LABEL_ANNOTATION];
    assert.ok(id && key, 'simulated events carry truth annotations');
    const label = parseLabelKey(key);
    const ev: LabeledEvent = { audit, time: Date.parse(audit.requestReceivedTimestamp), label, labelKey: key, labelSource: 'rule', confidence: 1 };
    let g = groups.get(id);
    if (!g) groups.set(id, (g = []));
    g.push(ev);
    contextOfAudit.set(audit.auditID, id);
  }
  docs = [...groups].map(([id, events]) => summarize(id, events, 'closed'));
  assert.ok(docs.length > 100, `enough contexts simulated (${docs.length})`);
  await ensureIndexTemplates(es, prefix);
  const index = indexNames(prefix).contexts;
  for (let i = 0; i < docs.length; i += 500) {
    const res = await es.bulk({ operations: docs.slice(i, i + 500).flatMap((d) => contextOperations(prefix, d)) });
    assert.equal(res.errors, false, 'bulk indexing succeeded');
  }
  await es.indices.refresh({ index: [index, indexNames(prefix).members] });
  handler = createGraphqlHandler({ es, indexPrefix: prefix, auth: { tokens: ['query-test-token'] } });
});

after(async () => {
  handler?.close();
  await deleteIndices(es, prefix);
  await es.close();
});

test('"which contexts did user X trigger" returns exactly the simulator\'s contexts of X', async () => {
  const users = [...new Set(docs.map((d) => d.trigger.user))];
  const humans = users.filter((u) => !u.startsWith('system:'));
  assert.ok(humans.length >= 3, `several human users (${humans.join(', ')})`);
  for (const u of users) {
    const expected = docs.filter((d) => d.trigger.user === u).map((d) => d.id);
    const got = await allIds({ triggeredBy: [u] });
    assert.deepEqual(sorted(got.ids), sorted(expected), `contexts triggered by ${u}`);
    assert.equal(got.total, expected.length);
  }
  // "user" is anyone with an event in the context: a superset of what they triggered
  const u = humans[0]!;
  const any = await allIds({ user: [u] });
  assert.deepEqual(sorted(any.ids), sorted(docs.filter((d) => d.users.includes(u)).map((d) => d.id)));
});

test('cursor pagination covers every context once, in order, for each sort', async () => {
  const all = sorted(docs.map((d) => d.id));
  for (const sort of ['START_DESC', 'START_ASC', 'EVENT_COUNT_DESC']) {
    const got = await allIds(undefined, sort, 37);
    assert.equal(new Set(got.ids).size, got.ids.length, `${sort}: no duplicates`);
    assert.deepEqual(sorted(got.ids), all, `${sort}: all contexts`);
    assert.equal(got.total, docs.length);
    const starts = got.nodes.map((n) => Date.parse(n.start));
    for (let i = 1; i < got.nodes.length; i++) {
      if (sort === 'START_DESC') assert.ok(starts[i - 1]! >= starts[i]!);
      if (sort === 'START_ASC') assert.ok(starts[i - 1]! <= starts[i]!);
      if (sort === 'EVENT_COUNT_DESC') assert.ok(got.nodes[i - 1].eventCount >= got.nodes[i].eventCount);
    }
  }
});

test('filters match the ground truth (and the in-memory filter agrees)', async () => {
  const pick = <T>(xs: T[], i: number) => xs[i % xs.length]!;
  const nsAll = [...new Set(docs.flatMap((d) => d.namespaces))];
  const resAll = [...new Set(docs.flatMap((d) => d.resources))];
  const verbAll = [...new Set(docs.flatMap((d) => d.verbs))];
  const labelAll = [...new Set(docs.map((d) => d.label))];
  const flagAll = [...new Set(docs.flatMap((d) => d.flags))];
  const groupAll = [...new Set(docs.flatMap((d) => d.trigger.groups))];
  const clientAll = [...new Set(docs.map((d) => d.trigger.client).filter(Boolean))];
  const nameAll = [...new Set(docs.flatMap((d) => d.names))];
  const mid = START + DURATION / 2;
  const cases: Array<{ gql: Record<string, unknown>; expect: (d: ContextDoc) => boolean }> = [
    { gql: { namespace: [pick(nsAll, 1)] }, expect: (d) => d.namespaces.includes(pick(nsAll, 1)) },
    { gql: { namespace: [pick(nsAll, 0), pick(nsAll, 2)] }, expect: (d) => d.namespaces.includes(pick(nsAll, 0)) || d.namespaces.includes(pick(nsAll, 2)) },
    { gql: { resource: ['apps/deployments'] }, expect: (d) => d.resources.includes('apps/deployments') },
    { gql: { resource: [pick(resAll, 3)], verb: [pick(verbAll, 1)] }, expect: (d) => d.resources.includes(pick(resAll, 3)) && d.verbs.includes(pick(verbAll, 1)) },
    { gql: { verb: ['delete'] }, expect: (d) => d.verbs.includes('delete') },
    { gql: { label: [pick(labelAll, 2)] }, expect: (d) => d.label === pick(labelAll, 2) },
    { gql: { name: [pick(nameAll, 5)] }, expect: (d) => d.names.includes(pick(nameAll, 5)) },
    { gql: { group: [pick(groupAll, 0)] }, expect: (d) => d.trigger.groups.includes(pick(groupAll, 0)) },
    { gql: { outcome: ['FAILURE', 'FORBIDDEN'] }, expect: (d) => d.outcome === 'failure' || d.outcome === 'forbidden' },
    { gql: { outcome: ['SUCCESS'] }, expect: (d) => d.outcome === 'success' },
    { gql: { flagged: true }, expect: (d) => d.flags.length > 0 },
    { gql: { flagged: false }, expect: (d) => d.flags.length === 0 },
    { gql: { from: new Date(mid).toISOString() }, expect: (d) => d.start >= mid },
    { gql: { from: START + 60_000, to: new Date(mid).toISOString() }, expect: (d) => d.start >= START + 60_000 && d.start < mid },
    { gql: { state: 'CLOSED', triggeredBy: [docs[0]!.trigger.user], to: mid }, expect: (d) => d.trigger.user === docs[0]!.trigger.user && d.start < mid },
  ];
  if (flagAll.length) cases.push({ gql: { flag: [FLAG_ENUM[flagAll[0]!]] }, expect: (d) => d.flags.includes(flagAll[0]!) });
  if (clientAll.length) cases.push({ gql: { client: [clientAll[0]] }, expect: (d) => d.trigger.client === clientAll[0] });
  let nonEmpty = 0;
  for (const c of cases) {
    const expected = docs.filter(c.expect).map((d) => d.id);
    if (expected.length) nonEmpty++;
    const got = await allIds(c.gql);
    assert.deepEqual(sorted(got.ids), sorted(expected), `filter ${JSON.stringify(c.gql)}`);
    // the subscription filter (in memory) gives the same answer
    const internal: Record<string, unknown> = { ...c.gql };
    if (internal.outcome) internal.outcome = (internal.outcome as string[]).map((o) => OUTCOMES[o as keyof typeof OUTCOMES]);
    if (internal.flag) internal.flag = (internal.flag as string[]).map((f) => FLAGS[f]);
    if (internal.state) internal.state = String(internal.state).toLowerCase();
    for (const k of ['from', 'to'] as const) if (typeof internal[k] === 'string') internal[k] = Date.parse(internal[k] as string);
    const f = normalizeFilter(internal);
    assert.deepEqual(sorted(docs.filter((d) => matchesFilter(f, d)).map((d) => d.id)), sorted(expected), `in-memory ${JSON.stringify(c.gql)}`);
  }
  assert.ok(nonEmpty >= cases.length - 3, 'most filter cases select something');
});

test('free text searches action, label and names', async () => {
  const withName = docs.find((d) => d.names.some((n) => /^[a-z][a-z0-9-]{3,}$/.test(n)))!;
  const name = withName.names.find((n) => /^[a-z][a-z0-9-]{3,}$/.test(n))!;
  const got = await allIds({ text: name });
  for (const d of docs.filter((x) => x.names.includes(name))) assert.ok(got.ids.includes(d.id), `text ${name} finds ${d.id}`);
  for (const id of got.ids) {
    const d = docs.find((x) => x.id === id)!;
    const hay = `${d.action} ${d.label} ${d.names.join(' ')}`.toLowerCase();
    for (const part of name.split('-')) assert.ok(hay.includes(part), `${id} mentions ${part}`);
  }
  const user = docs.find((d) => !d.trigger.user.startsWith('system:'))!.trigger.user;
  const byAction = await allIds({ text: `"${user}"` });
  assert.ok(byAction.ids.length > 0, 'actions mention their user');
  const nothing = await allIds({ text: 'zzqx-no-such-thing' });
  assert.equal(nothing.ids.length, 0);
  // syntax characters are harmless
  await allIds({ text: 'a:b OR (c AND "d) \\ / * ~2 ^3 [x TO y] {z}' });
});

test('context and contextOfEvent return the right context with members', async () => {
  const auditIDs = [...contextOfAudit.keys()];
  for (let i = 0; i < 25; i++) {
    const auditID = auditIDs[(i * 7919) % auditIDs.length]!;
    const d = await gql('query($a: ID!) { contextOfEvent(auditID: $a) { id eventCount a: members(first: 1000) { auditID } b: members(first: 1000, offset: 1000) { auditID } } }', { a: auditID });
    assert.equal(d.contextOfEvent.id, contextOfAudit.get(auditID), `context of ${auditID}`);
    const members = [...d.contextOfEvent.a, ...d.contextOfEvent.b];
    assert.ok(members.some((m: any) => m.auditID === auditID));
    if (d.contextOfEvent.eventCount <= 2000) assert.equal(members.length, d.contextOfEvent.eventCount);
  }
  const big = [...docs].filter((x) => x.eventCount <= 1000).sort((a, b) => b.eventCount - a.eventCount)[0]!;
  const d = await gql('query($id: ID!) { context(id: $id) { id label action outcome flags eventCount trigger { user auditID } members(first: 1000) { auditID time user verb resource namespace name code } } }', { id: big.id });
  assert.equal(d.context.id, big.id);
  assert.equal(d.context.label, big.label);
  assert.equal(d.context.outcome, OUTCOME_ENUM[big.outcome]);
  assert.deepEqual(d.context.flags, big.flags.map((f) => FLAG_ENUM[f]));
  assert.deepEqual(d.context.members.map((m: any) => m.auditID), big.members.map((m) => m.auditID));
  assert.equal(d.context.members[0].time, new Date(big.members[0]!.time).toISOString());
  const page = await gql('query($id: ID!) { context(id: $id) { members(first: 2, offset: 1) { auditID } } }', { id: big.id });
  assert.deepEqual(page.context.members.map((m: any) => m.auditID), big.members.slice(1, 3).map((m) => m.auditID));
  assert.equal((await gql('{ context(id: "no-such-context") { id } }')).context, null);
  assert.equal((await gql('{ contextOfEvent(auditID: "no-such-event") { id } }')).contextOfEvent, null);
  // members also resolve in lists (fetched only when selected)
  const list = await gql('query($u: String!) { contexts(filter: { triggeredBy: [$u] }, first: 3) { nodes { id eventCount members(first: 1000) { auditID } } } }', { u: big.trigger.user });
  for (const n of list.contexts.nodes) assert.equal(n.members.length, Math.min(1000, n.eventCount));
});

test('list queries read the same values from doc values as from _source', async () => {
  const fields = 'id label action state start end durationMs eventCount failures forbidden outcome users namespaces resources names verbs flags trigger { auditID user client verb apiGroup resource subresource namespace name code impersonatedUser }';
  // `confidence` needs _source, which switches the whole page to the _source path
  const dv = await gql(`{ contexts(first: 500, sort: EVENT_COUNT_DESC) { nodes { ${fields} } } }`);
  const src = await gql(`{ contexts(first: 500, sort: EVENT_COUNT_DESC) { nodes { ${fields} confidence } } }`);
  assert.equal(dv.contexts.nodes.length, Math.min(500, docs.length));
  assert.deepEqual(dv.contexts.nodes, src.contexts.nodes.map(({ confidence: _c, ...rest }: any) => rest));
  const byId = new Map(docs.map((d) => [d.id, d]));
  for (const n of dv.contexts.nodes) {
    const d = byId.get(n.id)!;
    assert.equal(n.action, d.action);
    assert.equal(n.trigger.user, d.trigger.user);
    assert.equal(n.trigger.code, d.trigger.code);
    assert.equal(n.trigger.name ?? undefined, d.trigger.name);
    assert.deepEqual(n.users, [...new Set(d.users)].sort());
    assert.equal(Date.parse(n.end) - Date.parse(n.start), n.durationMs);
  }
});

test('facets count contexts like the ground truth', async () => {
  const count = (keys: string[][]) => {
    const m = new Map<string, number>();
    for (const ks of keys) for (const k of new Set(ks)) m.set(k, (m.get(k) ?? 0) + 1);
    return m;
  };
  const asMap = (buckets: Array<{ key: string; count: number }>) => new Map(buckets.map((b) => [b.key, b.count]));
  const d = await gql(`{
    users(first: 1000) { field total otherCount buckets { key count } }
    actions(first: 1000) { total buckets { key count } }
    namespaces(first: 1000) { total buckets { key count } }
    outcome: facet(field: OUTCOME) { buckets { key count } }
    top: users(first: 2) { otherCount buckets { key count } }
  }`);
  assert.equal(d.users.field, 'TRIGGERED_BY');
  assert.equal(d.users.total, docs.length);
  assert.deepEqual(asMap(d.users.buckets), count(docs.map((x) => [x.trigger.user])));
  assert.equal(d.users.otherCount, 0);
  assert.deepEqual(asMap(d.actions.buckets), count(docs.map((x) => [x.label])));
  assert.deepEqual(asMap(d.namespaces.buckets), count(docs.map((x) => x.namespaces)));
  assert.deepEqual(asMap(d.outcome.buckets), count(docs.map((x) => [x.outcome])));
  // the top 2 and the rest add up; buckets are ordered by count
  assert.equal(d.top.buckets.length, 2);
  assert.ok(d.top.buckets[0].count >= d.top.buckets[1].count);
  assert.equal(d.top.buckets[0].count + d.top.buckets[1].count + d.top.otherCount, docs.length);
  // filtered facet
  const u = d.users.buckets[0].key;
  const f = await gql('query($u: String!) { namespaces(filter: { triggeredBy: [$u] }, first: 1000) { total buckets { key count } } }', { u });
  assert.deepEqual(asMap(f.namespaces.buckets), count(docs.filter((x) => x.trigger.user === u).map((x) => x.namespaces)));
});

test('timeline buckets add up to the ground truth', async () => {
  const from = START; const to = START + DURATION + 60_000;
  const d = await gql('query($from: DateTime!, $to: DateTime) { timeline(from: $from, to: $to, interval: MINUTE) { interval from to total buckets { start count events outcomes { key count } } } }',
    { from: new Date(from).toISOString(), to: new Date(to).toISOString() });
  const inRange = docs.filter((x) => x.start >= from && x.start < to);
  assert.equal(d.timeline.interval, 'MINUTE');
  assert.equal(d.timeline.buckets.length, 16);
  assert.equal(d.timeline.total, inRange.length);
  assert.equal(d.timeline.buckets.reduce((s: number, b: any) => s + b.count, 0), inRange.length);
  assert.equal(d.timeline.buckets.reduce((s: number, b: any) => s + b.events, 0), inRange.reduce((s, x) => s + x.eventCount, 0));
  for (const b of d.timeline.buckets) {
    const t = Date.parse(b.start);
    assert.equal(b.count, docs.filter((x) => x.start >= t && x.start < t + 60_000).length, `bucket ${b.start}`);
    assert.equal(b.outcomes.reduce((s: number, o: any) => s + o.count, 0), b.count);
  }
  const user = docs.find((x) => !x.trigger.user.startsWith('system:'))!.trigger.user;
  const u = await gql('query($u: String, $from: DateTime!) { timeline(user: $u, from: $from, to: "2026-01-01T01:00:00Z", interval: FIVE_MINUTES) { total buckets { count } } }', { u: user, from: '2026-01-01T00:00:00Z' });
  assert.equal(u.timeline.buckets.length, 12);
  assert.equal(u.timeline.total, docs.filter((x) => x.users.includes(user)).length);
  await assert.rejects(gql('{ timeline(from: "2026-01-01T00:00:00Z", to: "2026-03-01T00:00:00Z", interval: MINUTE) { total } }'), /buckets of 1m exceed the limit of 1000/);
  await assert.rejects(gql('{ timeline(from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z") { total } }'), /from must be before to/);
});

test('invalid input gives clear errors, not Elasticsearch errors', async () => {
  await assert.rejects(gql('{ contexts(after: "bm90LWEtY3Vyc29y") { totalCount } }'), /invalid cursor/);
  const page = await gql('{ contexts(first: 1) { pageInfo { endCursor } } }');
  await assert.rejects(gql('query($a: String) { contexts(after: $a, sort: START_ASC) { totalCount } }', { a: page.contexts.pageInfo.endCursor }), /belongs to sort START_DESC/);
  await assert.rejects(gql('{ contexts(first: -1) { totalCount } }'), /first: must be between 0 and 500/);
  await assert.rejects(gql('{ contexts(filter: { from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" }) { totalCount } }'), /from .* must be before to/);
  await assert.rejects(gql('{ users(first: 5000) { total } }'), /first: must be between 0 and 1000/);
  const zero = await gql('{ contexts(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }');
  assert.deepEqual(zero.contexts, { totalCount: docs.length, edges: [], pageInfo: { hasNextPage: true } });
});
