/** GraphQL layer without Elasticsearch: schema coverage, filters, cursors, limits, auth. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type OperationDefinitionNode, getIntrospectionQuery,
  execute, getNamedType, isEnumType, isObjectType, isScalarType, parse, validate, specifiedRules,
  type GraphQLObjectType, type GraphQLSchema,
} from 'graphql';
import { createSchema } from 'graphql-yoga';
import { createResolvers, FLAGS, OUTCOMES, type ResolverDeps } from '../src/query/resolvers.ts';
import { loadTypeDefs } from '../src/query/schema.ts';
import { DEFAULT_LIMITS, costOf, costLimitRule, depthLimitRule, rootFieldLimitRule } from '../src/query/limits.ts';
import { andFilters, matchesFilter, matchesText, normalizeFilter, toEsQuery, FIELDS } from '../src/query/filter.ts';
import { decodeCursor, encodeCursor } from '../src/query/cursor.ts';
import { parseTime } from '../src/query/time.ts';
import { createAuthenticator, authFromConfig, AuthConfigError } from '../src/http/auth.ts';
import type { ContextSearch } from '../src/query/search.ts';
import type { ContextDoc } from '../src/types/context.ts';

const T0 = Date.UTC(2026, 0, 1, 12);

function sampleContext(over: Partial<ContextDoc> = {}): ContextDoc {
  return {
    id: 'ctx-1',
    label: 'create apps/deployments',
    action: 'alice created deployment shop/web',
    state: 'closed',
    trigger: {
      auditID: 'a-1', user: 'alice', groups: ['dev', 'system:authenticated'], userAgent: 'kubectl/v1.30.2 (linux/amd64)', client: 'kubectl/v1.30.2',
      sourceIPs: ['10.0.0.1'], verb: 'create', apiGroup: 'apps', resource: 'deployments', subresource: 'scale', namespace: 'shop', name: 'web', code: 201,
      impersonatedUser: 'bob',
    },
    start: T0,
    end: T0 + 1500,
    eventCount: 2,
    users: ['alice', 'system:serviceaccount:kube-system:deployment-controller'],
    namespaces: ['shop'],
    resources: ['apps/deployments', 'apps/replicasets'],
    names: ['web', 'web-5d9c'],
    verbs: ['create'],
    counts: { verbs: [{ key: 'create', count: 2 }], resources: [{ key: 'apps/deployments', count: 1 }], users: [{ key: 'alice', count: 1 }], codes: [{ key: '201', count: 2 }] },
    outcome: 'success',
    failures: 0,
    forbidden: 0,
    flags: ['rbac-change'],
    detections: [{ name: 'k8s-deployment-created', severity: 'info', auditIDs: ['a-1'] }],
    members: [
      { auditID: 'a-1', time: T0, user: 'alice', verb: 'create', resource: 'apps/deployments', subresource: 'scale', namespace: 'shop', name: 'web', code: 201 },
      { auditID: 'a-2', time: T0 + 1500, user: 'system:serviceaccount:kube-system:deployment-controller', verb: 'create', resource: 'apps/replicasets', namespace: 'shop', name: 'web-5d9c', code: 201 },
    ],
    confidence: 0.97,
    ...over,
  };
}

/** A ContextSearch stand-in returning canned results (shapes as the real one). */
function fakeSearch(): ContextSearch {
  const ctx = sampleContext();
  return {
    index: 'fake',
    contexts: async () => ({ hits: [{ ctx, sort: [ctx.start, ctx.id] }], hasNext: true, total: 7 }),
    byId: async () => ctx,
    byAuditID: async () => ctx,
    adjacent: async () => null,
    facet: async (field: any) => ({ field, buckets: [{ key: 'alice', count: 3 }], otherCount: 1, total: 4 }),
    timeline: async (_f: any, from: number, to: number, interval: any) => ({ interval, from, to, total: 3, buckets: [{ start: from, count: 3, events: 9, outcomes: [{ key: 'success', count: 3 }] }] }),
    ping: async () => true,
  } as unknown as ContextSearch;
}

function buildSchema(deps: Partial<ResolverDeps> = {}): GraphQLSchema {
  const full: ResolverDeps = { search: fakeSearch(), limits: DEFAULT_LIMITS, subscriptions: new Set(), ...deps };
  return createSchema({ typeDefs: loadTypeDefs(), resolvers: createResolvers(full) as any });
}

/**
 * Selection of every field of a type, recursively; a type already on the path (Context's links
 * to other contexts) is selected by its scalar fields only.
 */
function selectAll(t: GraphQLObjectType, depth = 0, path: ReadonlySet<string> = new Set()): string {
  assert.ok(depth < 8, 'schema nests too deeply');
  const inner = new Set([...path, t.name]);
  return '{ ' + Object.values(t.getFields()).flatMap((f) => {
    const named = getNamedType(f.type);
    if (!isObjectType(named)) return [f.name];
    if (path.has(t.name)) return [];
    return [`${f.name} ${selectAll(named, depth + 1, inner)}`];
  }).join(' ') + ' }';
}

test('every SDL field has a resolver or a property of the object it resolves on', () => {
  const schema = buildSchema();
  const c = sampleContext();
  // objects the resolvers hand to each type (default resolvers read these properties)
  const sources: Record<string, object> = {
    Context: c, Trigger: c.trigger, Member: c.members[0]!, Counts: c.counts, KeyCount: { key: 'k', count: 1 }, Detection: c.detections![0]!,
    ContextConnection: { edges: [], nodes: [], pageInfo: {}, totalCount: 0 }, ContextEdge: { cursor: '', node: c },
    PageInfo: { hasNextPage: false, endCursor: null }, Facet: { field: 'user', buckets: [], otherCount: 0, total: 0 },
    TimelineBucket: { start: 0, count: 0, events: 0, outcomes: [] }, FlagMatch: { flag: 'exec', members: [], complete: true }, Timeline: { interval: 'HOUR', from: 0, to: 0, buckets: [], total: 0 },
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (type.name === 'Query' || type.name === 'Subscription') {
        assert.ok(field.resolve || field.subscribe, `${type.name}.${field.name} has a resolver`);
        continue;
      }
      const src = sources[type.name];
      assert.ok(src, `test knows the source object of ${type.name}`);
      assert.ok(field.resolve || field.name in src, `${type.name}.${field.name}: no resolver and no property "${field.name}" on its source`);
    }
  }
  // enum values map onto the stored strings
  const flagEnum = schema.getType('Flag');
  assert.ok(isEnumType(flagEnum));
  assert.deepEqual(flagEnum.getValues().map((v) => v.value).sort(), Object.values(FLAGS).sort());
  const outcomeEnum = schema.getType('Outcome');
  assert.ok(isEnumType(outcomeEnum));
  assert.deepEqual(outcomeEnum.getValues().map((v) => v.value).sort(), Object.values(OUTCOMES).sort());
  assert.ok(isScalarType(schema.getType('DateTime')));
});

test('every field resolves without errors (all fields selected)', async () => {
  const schema = buildSchema();
  const q = schema.getQueryType()!.getFields();
  const conn = selectAll(getNamedType(q.contexts!.type) as GraphQLObjectType);
  const ctx = selectAll(getNamedType(q.context!.type) as GraphQLObjectType);
  const facet = selectAll(getNamedType(q.users!.type) as GraphQLObjectType);
  const tl = selectAll(getNamedType(q.timeline!.type) as GraphQLObjectType);
  const doc = parse(`{
    contexts(filter: { triggeredBy: ["alice"], flag: [RBAC_CHANGE], outcome: [SUCCESS], from: "now-1d" }) ${conn}
    context(id: "ctx-1") ${ctx}
    contextOfEvent(auditID: "a-2") ${ctx}
    users ${facet} actions ${facet} namespaces ${facet}
    facet(field: OUTCOME) ${facet}
    timeline(from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", interval: HOUR) ${tl}
  }`);
  assert.deepEqual(validate(schema, doc, [...specifiedRules, depthLimitRule(8), rootFieldLimitRule(10)]), []);
  const res = await execute({ schema, document: doc, contextValue: {} });
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  const data = res.data as any;
  assert.equal(data.contexts.totalCount, 7);
  assert.equal(data.contexts.edges[0].node.start, new Date(T0).toISOString());
  assert.deepEqual(data.contexts.edges[0].node.flags, ['RBAC_CHANGE']);
  assert.equal(data.contexts.edges[0].node.state, 'CLOSED');
  assert.equal(data.contexts.edges[0].node.durationMs, 1500);
  assert.equal(data.contexts.pageInfo.endCursor, data.contexts.edges[0].cursor);
  assert.equal(data.context.members.length, 2);
  assert.equal(data.context.trigger.impersonatedUser, 'bob');
  assert.equal(data.users.field, 'TRIGGERED_BY');
  assert.equal(data.timeline.buckets[0].start, '2026-01-01T00:00:00.000Z');
});

test('filters: validation with clear messages', () => {
  assert.deepEqual(normalizeFilter(null), {});
  assert.deepEqual(normalizeFilter({ user: ['a', 'a', 'b'], state: 'closed', text: '  web  ' }), { user: ['a', 'b'], state: ['closed'], text: 'web' });
  assert.throws(() => normalizeFilter({ user: [] }), /filter\.user: empty list/);
  assert.throws(() => normalizeFilter({ user: [''] }), /filter\.user: empty string/);
  assert.throws(() => normalizeFilter({ user: Array.from({ length: 101 }, (_, i) => `u${i}`) }), /at most 100 values/);
  assert.throws(() => normalizeFilter({ name: ['x'.repeat(513)] }), /longer than 512/);
  assert.throws(() => normalizeFilter({ text: 'x'.repeat(257) }), /at most 256/);
  assert.throws(() => normalizeFilter({ text: 'a\u0000b' }), /control characters/);
  assert.throws(() => normalizeFilter({ from: T0, to: T0 }), /must be before/);
});

test('filters: Elasticsearch query uses fixed fields only, values as terms', () => {
  const q = toEsQuery(normalizeFilter({ triggeredBy: ['alice'], namespace: ['a', 'b'], flag: ['exec'], flagged: true, from: 1, to: 2, text: 'web* -"kube system" | x:y' })) as any;
  const filter = q.bool.filter as any[];
  assert.deepEqual(filter[0], { term: { 'trigger.user': 'alice' } });
  assert.deepEqual(filter[1], { terms: { namespaces: ['a', 'b'] } });
  assert.deepEqual(filter[2], { term: { flags: 'exec' } });
  assert.ok(filter.some((f) => f.exists?.field === 'flags'));
  assert.ok(filter.some((f) => f.range?.start?.gte === 1 && f.range.start.lt === 2));
  const sqs = filter.find((f) => f.simple_query_string).simple_query_string;
  assert.deepEqual(sqs.fields, ['action', 'label', 'names']);
  assert.equal(sqs.query, 'web* -"kube system" | x:y'); // passed as data; simple syntax has no field or regex operators
  assert.doesNotMatch(sqs.flags, /FUZZY|SLOP|NEAR|ALL/);
  assert.deepEqual(toEsQuery({}), { match_all: {} });
  assert.deepEqual((toEsQuery({ flagged: false }) as any).bool.must_not, [{ exists: { field: 'flags' } }]);
  // every filterable field name comes from the fixed table
  for (const f of Object.values(FIELDS)) assert.match(f.es, /^[a-zA-Z.]+$/);
});

test('filters: in-memory matching agrees with the query semantics', () => {
  const c = sampleContext();
  const m = (f: Record<string, unknown>) => matchesFilter(normalizeFilter(f), c);
  assert.equal(m({}), true);
  assert.equal(m({ triggeredBy: ['alice'] }), true);
  assert.equal(m({ triggeredBy: ['system:serviceaccount:kube-system:deployment-controller'] }), false);
  assert.equal(m({ user: ['system:serviceaccount:kube-system:deployment-controller'] }), true);
  assert.equal(m({ user: ['x', 'alice'], namespace: ['shop'] }), true);
  assert.equal(m({ user: ['alice'], namespace: ['other'] }), false);
  assert.equal(m({ resource: ['apps/replicasets'], verb: ['create'], name: ['web'] }), true);
  assert.equal(m({ outcome: ['failure', 'forbidden'] }), false);
  assert.equal(m({ flag: ['exec', 'rbac-change'] }), true);
  assert.equal(m({ flagged: true }), true);
  assert.equal(m({ flagged: false }), false);
  assert.equal(m({ group: ['dev'], client: ['kubectl/v1.30.2'], label: ['create apps/deployments'], state: 'closed' }), true);
  assert.equal(m({ state: 'open' }), false);
  assert.equal(m({ from: T0, to: T0 + 1 }), true);
  assert.equal(m({ from: T0 + 1 }), false);
  assert.equal(m({ to: T0 }), false);
  assert.equal(matchesText('web', c), true); // name and action word
  assert.equal(matchesText('created deployment', c), true);
  assert.equal(matchesText('"created deployment"', c), true);
  assert.equal(matchesText('"deployment created"', c), false);
  assert.equal(matchesText('deploy*', c), true);
  assert.equal(matchesText('alice -web', c), false);
  assert.equal(matchesText('bob | alice', c), true);
  assert.equal(matchesText('"create apps/deployments"', c), true); // exact label
  assert.equal(matchesText('nothing', c), false);
  const and = andFilters(normalizeFilter({ user: ['a', 'b'], from: 5 }), normalizeFilter({ user: ['b', 'c'], from: 7, to: 9 }));
  assert.deepEqual(and, { user: ['b'], from: 7, to: 9 });
});

test('cursors round-trip and reject tampering', () => {
  const c = encodeCursor('START_DESC', [T0, 'ctx-1']);
  assert.match(c, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeCursor(c, 'START_DESC'), [T0, 'ctx-1']);
  assert.throws(() => decodeCursor(c, 'EVENT_COUNT_DESC'), /invalid cursor: it belongs to sort START_DESC/);
  assert.throws(() => decodeCursor('abc', 'START_DESC'), /invalid cursor/);
  assert.throws(() => decodeCursor('not base64!', 'START_DESC'), /invalid cursor/);
  const forged = Buffer.from(JSON.stringify({ s: 'START_DESC', v: [{ script: 1 }, 'x'] })).toString('base64url');
  assert.throws(() => decodeCursor(forged, 'START_DESC'), /wrong shape/);
  const forged2 = Buffer.from(JSON.stringify({ s: 'START_DESC', v: [1, 'x', 3] })).toString('base64url');
  assert.throws(() => decodeCursor(forged2, 'START_DESC'), /wrong shape/);
  assert.throws(() => decodeCursor('A'.repeat(2000), 'START_DESC'), /invalid cursor/);
});

test('DateTime input: ISO, epoch ms, relative; bad input rejected', () => {
  const now = () => T0;
  assert.equal(parseTime('2026-01-01T12:00:00Z', now), T0);
  assert.equal(parseTime('2026-01-01T13:00:00+01:00', now), T0);
  assert.equal(parseTime(T0, now), T0);
  assert.equal(parseTime(String(T0), now), T0);
  assert.equal(parseTime('now', now), T0);
  assert.equal(parseTime('now-24h', now), T0 - 86_400_000);
  assert.equal(parseTime('now-15m', now), T0 - 900_000);
  assert.throws(() => parseTime('yesterday', now), /cannot read/);
  assert.throws(() => parseTime('2026-01-01T12:00:00', now), /cannot read/); // no zone: ambiguous
  assert.throws(() => parseTime(-1, now), /out of range/);
  assert.throws(() => parseTime(true, now), /expected a string or a number/);
});

test('limits: depth, root fields and cost with variables', () => {
  const schema = buildSchema();
  const errs = (q: string, rules: any[]) => validate(schema, parse(q), rules).map((e) => e.message);
  const deep = '{ contexts { edges { node { counts { verbs { key } } } } } }'; // depth 6
  assert.deepEqual(errs(deep, [depthLimitRule(6)]), []);
  assert.match(errs(deep, [depthLimitRule(5)])[0]!, /nested too deeply: depth 6 exceeds the limit of 5/);
  // fragments count too, and cycles do not hang the rule
  assert.match(errs('query { ...A } fragment A on Query { contexts { edges { node { counts { verbs { key } } } } } }', [depthLimitRule(5)])[0]!, /depth 6/);
  assert.doesNotThrow(() => validate(schema, parse('query { ...A } fragment A on Query { ...A }'), [depthLimitRule(5), costLimitRule(10), rootFieldLimitRule(2)]));
  const many = '{ ' + Array.from({ length: 11 }, (_, i) => `a${i}: users { total }`).join(' ') + ' }';
  assert.match(errs(many, [rootFieldLimitRule(10)])[0]!, /too many root fields: 11 exceeds the limit of 10/);
  // introspection is not limited in depth (type references nest), but costs and counts as root fields
  const intro = '{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }';
  assert.deepEqual(errs(intro, [depthLimitRule(3)]), []);
  // introspection has its own budget, one full introspection of the schema: a part of it fits,
  // and it is costed at the schema's real sizes
  assert.deepEqual(errs(intro, [costLimitRule(10)]), []);
  const introOp = parse(intro).definitions[0] as OperationDefinitionNode;
  assert.ok(costOf(schema, introOp, {}, {}, 'introspection') > 1000);
  assert.equal(costOf(schema, introOp, {}, {}, 'data'), 0);
  // GraphiQL's full introspection query fits the default limits
  assert.deepEqual(errs(getIntrospectionQuery(), [depthLimitRule(DEFAULT_LIMITS.maxDepth), rootFieldLimitRule(DEFAULT_LIMITS.maxRootFields), costLimitRule(DEFAULT_LIMITS.maxCost)]), []);
  // ... but not many copies of it under aliases (the answer would be megabytes)
  const aliasedIntro = '{ ' + Array.from({ length: 140 }, (_, i) => `s${i}: __schema { types { name fields { name } } }`).join(' ') + ' }';
  assert.match(errs(aliasedIntro, [rootFieldLimitRule(DEFAULT_LIMITS.maxRootFields)])[0]!, /too many root fields: 140/);
  const typeRef = 'fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }';
  const fewerIntro = '{ ' + Array.from({ length: 10 }, (_, i) => `s${i}: __schema { types { name kind description fields { name description args { name type { ...T } } type { ...T } isDeprecated } } }`).join(' ') + ' } ' + typeRef;
  assert.match(errs(fewerIntro, [costLimitRule(DEFAULT_LIMITS.maxCost)])[0]!, /too expensive/);
  assert.deepEqual(errs('{ __typename a: __typename }', [rootFieldLimitRule(1), costLimitRule(2)]), []);
  const big = 'query($n: Int) { contexts(first: $n) { edges { node { id members(first: 1000) { auditID time } } } } }';
  assert.deepEqual(validate(schema, parse(big), [costLimitRule(50_000, { n: 10 })]), []);
  const tooBig = validate(schema, parse(big), [costLimitRule(50_000, { n: 500 })]);
  assert.match(tooBig[0]!.message, /too expensive: estimated cost \d+ exceeds the limit of 50000/);
  assert.equal(tooBig[0]!.extensions.code, 'QUERY_TOO_COMPLEX');
  // defaults count when arguments are omitted: 50 contexts × 100 members × 2 fields
  assert.match(errs('{ contexts { edges { node { members { auditID time } } } } }', [costLimitRule(10_000)])[0]!, /estimated cost/);
  // aliases multiply
  const aliased = '{ ' + Array.from({ length: 5 }, (_, i) => `c${i}: contexts(first: 500) { edges { node { id label action start end } } }`).join(' ') + ' }';
  assert.match(errs(aliased, [costLimitRule(10_000)])[0]!, /estimated cost/);
});

test('auth: tokens required unless noAuth, constant-time check with clear reasons', () => {
  assert.throws(() => createAuthenticator({}), (e: Error) => e instanceof AuthConfigError && /--auth-tokens/.test(e.message));
  assert.throws(() => createAuthenticator(authFromConfig({ authTokens: ' , ' })), AuthConfigError);
  assert.equal(createAuthenticator({ noAuth: true }).check(undefined), null);
  const a = createAuthenticator(authFromConfig({ authTokens: 'first-token, second-token' }));
  assert.equal(a.enabled, true);
  assert.equal(a.check('Bearer first-token'), null);
  assert.equal(a.check('bearer second-token'), null);
  assert.match(a.check(undefined)!, /missing Authorization header/);
  assert.match(a.check('Basic Zm9vOmJhcg==')!, /malformed/);
  assert.match(a.check('Bearer first-toke')!, /invalid bearer token/);
  assert.match(a.check('Bearer first-token-and-more')!, /invalid bearer token/);
});
