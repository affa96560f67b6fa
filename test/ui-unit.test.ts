/**
 * The web UI's pure modules (ui/src/lib) and its components rendered to HTML
 * (preact-render-to-string), without a browser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { h } from 'preact';
import { render } from 'preact-render-to-string';
import { DIMENSIONS, emptyFilter, parseSearch, searchFor, toGraphqlFilter, toSearch } from '../ui/src/lib/filters.ts';
import { SseParser } from '../ui/src/lib/sse.ts';
import { groupMembers, xOf, type WaterfallMember } from '../ui/src/lib/waterfall.ts';
import { buildLanes, colorOf, extentOf, NO_NAMESPACE, type LaneContext } from '../ui/src/lib/lanes.ts';
import { codeColor, flagLabel, formatDuration, objectPath, resourcePath, FLAGGED_COLOR, OUTCOME_COLOR } from '../ui/src/lib/format.ts';
import { parseRoute, contextHref, eventHref } from '../ui/src/router.ts';
import { ContextTable, type ContextRow } from '../ui/src/views/ContextTable.tsx';
import { Waterfall } from '../ui/src/views/Context.tsx';
import { Login } from '../ui/src/views/Login.tsx';

test('filters: URL → form → URL round-trips, lists and enums normalised', () => {
  const f = parseSearch('?user=alice,%20bob&flag=secret-read,EXEC,bogus&outcome=failure&from=now-1h&q=web%20shop&junk=1');
  assert.equal(f.user, 'alice,bob');
  assert.equal(f.flag, 'SECRET_READ,EXEC');
  assert.equal(f.outcome, 'FAILURE');
  assert.equal(f.q, 'web shop');
  assert.equal(toSearch(f), 'user=alice%2Cbob&flag=SECRET_READ%2CEXEC&outcome=FAILURE&from=now-1h&q=web+shop');
  assert.deepEqual(parseSearch(toSearch(f)), f);
  assert.equal(toSearch(emptyFilter()), '');
  // repeated parameters are one list
  assert.equal(parseSearch('namespace=a&namespace=b').namespace, 'a,b');
});

test('filters: GraphQL ContextFilter uses the schema field of each dimension', () => {
  const f = parseSearch('user=alice&action=create%20apps/deployments&namespace=shop&resource=apps/deployments&name=web&flag=exec&outcome=success&from=now-24h&to=1700000000000&q=x');
  assert.deepEqual(toGraphqlFilter(f), {
    triggeredBy: ['alice'], label: ['create apps/deployments'], namespace: ['shop'], resource: ['apps/deployments'], name: ['web'],
    flag: ['EXEC'], outcome: ['SUCCESS'], from: 'now-24h', to: 1700000000000, text: 'x',
  });
  assert.deepEqual(toGraphqlFilter(emptyFilter()), {});
  assert.equal(searchFor('user', 'a b'), 'user=a+b');
  assert.equal(new Set(DIMENSIONS.map((d) => d.key)).size, DIMENSIONS.length);
});

test('SSE parser: events split across chunks, comments and CRLF', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(':keep-alive\n\nevent: next\r\ndata: {"a"'), []);
  assert.deepEqual(p.push(':1}\n\nevent: next\ndata: x\ndata: y\n\nevent: complete\n\n'), [
    { event: 'next', data: '{"a":1}' }, { event: 'next', data: 'x\ny' }, { event: 'complete', data: '' },
  ]);
});

const member = (i: number, component: string, actor: string, t: number, code = 200): WaterfallMember => ({
  auditID: `a${i}`, time: new Date(t).toISOString(), user: actor, verb: 'get', resource: 'pods', namespace: 'ns', name: `p${i}`, code, component, actor,
});

test('waterfall: components in cause order, actors by first member, members by time', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const ms = [
    member(1, 'kubelet', 'node-b', t0 + 500), member(2, 'user', 'alice', t0), member(3, 'controller-manager', 'replicaset-controller', t0 + 20),
    member(4, 'kubelet', 'node-a', t0 + 300), member(5, 'scheduler', 'system:kube-scheduler', t0 + 40), member(6, 'kubelet', 'node-b', t0 + 100),
    member(7, 'zz-new', 'x', t0 + 1),
  ];
  const g = groupMembers(ms);
  assert.deepEqual(g.map((x) => x.component), ['user', 'controller-manager', 'scheduler', 'kubelet', 'zz-new']);
  const kubelets = g.find((x) => x.component === 'kubelet')!;
  assert.equal(kubelets.label, 'kubelets');
  assert.equal(kubelets.count, 3);
  assert.deepEqual(kubelets.rows.map((r) => r.actor), ['node-b', 'node-a']);
  assert.deepEqual(kubelets.rows[0]!.members.map((m) => m.auditID), ['a6', 'a1']);
  assert.equal(g.reduce((s, x) => s + x.count, 0), ms.length);
  assert.equal(xOf(t0 + 50, t0, t0 + 100, 200), 100);
  assert.equal(xOf(t0 + 500, t0, t0 + 100, 200), 200);
  assert.equal(xOf(t0, t0, t0, 200), 0);
});

const lc = (id: string, user: string, namespaces: string[], s: number, outcome = 'SUCCESS', flags: string[] = []): LaneContext => ({
  id, action: id, start: new Date(s).toISOString(), end: new Date(s + 1000).toISOString(), outcome, flags, namespaces, trigger: { user },
});

test('lanes: per user or per namespace, biggest lanes first, flagged colour wins', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const cs = [lc('c1', 'bob', ['a'], t0 + 5000), lc('c2', 'alice', ['a', 'b'], t0), lc('c3', 'alice', [], t0 + 2000, 'FAILURE', ['EXEC'])];
  const byUser = buildLanes(cs, 'user');
  assert.deepEqual(byUser.lanes.map((l) => [l.key, l.items.map((i) => i.ctx.id)]), [['alice', ['c2', 'c3']], ['bob', ['c1']]]);
  const byNs = buildLanes(cs, 'namespace');
  assert.deepEqual(byNs.lanes.map((l) => l.key), ['a', NO_NAMESPACE, 'b']);
  assert.deepEqual(extentOf(byUser.lanes), [t0, t0 + 6000]);
  assert.equal(extentOf([]), undefined);
  assert.equal(colorOf(cs[2]!), FLAGGED_COLOR);
  assert.equal(colorOf(cs[0]!), OUTCOME_COLOR.SUCCESS);
  const many = Array.from({ length: 45 }, (_, i) => lc(`x${i}`, `u${i}`, [], t0));
  assert.equal(buildLanes(many, 'user').lanes.length, 40);
  assert.equal(buildLanes(many, 'user').hidden, 5);
  // Kubernetes components' lanes only on request
  const sys = [...cs, lc('k1', 'system:node:n1', [], t0), lc('k2', 'system:serviceaccount:kube-system:job-controller', [], t0), lc('k3', 'system:serviceaccount:ci:deployer', [], t0)];
  assert.deepEqual(buildLanes(sys, 'user').lanes.map((l) => l.key).sort(), ['alice', 'bob', 'system:serviceaccount:ci:deployer']);
  assert.equal(buildLanes(sys, 'user').hidden, 2);
  assert.equal(buildLanes(sys, 'user', { system: true }).lanes.length, 5);
});

test('lanes: overlapping contexts get their own sub-rows, the narrowest bar counts as busy', () => {
  const t0 = Date.UTC(2026, 0, 1);
  // c1 [0,1000], c2 [500,1500] overlaps c1, c3 [1200,2200] fits after c1
  const cs = [lc('c1', 'u', [], t0), lc('c2', 'u', [], t0 + 500), lc('c3', 'u', [], t0 + 1200)];
  const [lane] = buildLanes(cs, 'user').lanes;
  assert.equal(lane!.rows, 2);
  assert.deepEqual(lane!.items.map((i) => [i.ctx.id, i.row]), [['c1', 0], ['c2', 1], ['c3', 0]]);
  // with a wide minimum bar, c3 no longer fits after c1
  const [wide] = buildLanes(cs, 'user', { minGap: 5000 }).lanes;
  assert.deepEqual(wide!.items.map((i) => i.row), [0, 1, 2]);
  // never more than MAX_SUBROWS rows
  const pile = Array.from({ length: 10 }, (_, i) => lc(`p${i}`, 'u', [], t0 + i));
  assert.equal(buildLanes(pile, 'user').lanes[0]!.rows, 4);
});

test('format and routes', () => {
  assert.equal(formatDuration(250), '250 ms');
  assert.equal(formatDuration(2500), '2.50 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
  assert.equal(flagLabel('RBAC_CHANGE'), 'rbac change');
  assert.equal(codeColor(201), OUTCOME_COLOR.SUCCESS);
  assert.equal(codeColor(403), OUTCOME_COLOR.FORBIDDEN);
  assert.equal(resourcePath('pods', 'exec'), 'pods/exec');
  assert.equal(objectPath('shop', 'web'), 'shop/web');
  assert.equal(objectPath(null, 'node-1'), 'node-1');
  assert.deepEqual(parseRoute('/context/a%2Fb'), { view: 'context', id: 'a/b' });
  assert.equal(contextHref('a/b'), '/context/a%2Fb');
  assert.deepEqual(parseRoute('/event/x'), { view: 'event', auditID: 'x' });
  assert.deepEqual(parseRoute('/context/prod/abc-1'), { view: 'context', id: 'prod/abc-1' }, 'a cluster-scoped id pasted unencoded');
  assert.deepEqual(parseRoute('/event/prod/x'), { view: 'event', cluster: 'prod', auditID: 'x' });
  assert.equal(eventHref('x'), '/event/x');
  assert.equal(eventHref('x', 'prod'), '/event/prod/x');
  assert.deepEqual(parseRoute(eventHref('a b', 'prod')), { view: 'event', cluster: 'prod', auditID: 'a b' });
  assert.deepEqual(parseRoute('/event'), { view: 'event' });
  assert.deepEqual(parseRoute('/timeline'), { view: 'timeline' });
  assert.deepEqual(parseRoute('/'), { view: 'contexts' });
});

test('ContextTable renders each context with its action link, outcome and flags; HTML in data is escaped', () => {
  const row: ContextRow = {
    id: 'ctx-1', action: 'alice created deployment shop/<b>web</b>', label: 'create apps/deployments', outcome: 'FAILURE', flags: ['SECRET_READ'],
    start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:01.500Z', durationMs: 1500, eventCount: 12, state: 'CLOSED', namespaces: ['shop'],
    trigger: { user: 'alice', client: 'kubectl/v1.30.2', code: 500 },
  };
  const html = render(h(ContextTable, { rows: [row], fresh: new Set(['ctx-1']) }));
  assert.match(html, /<tr data-id="ctx-1" class="fresh">/);
  assert.match(html, /href="\/context\/ctx-1"/);
  assert.match(html, /alice created deployment shop\/&lt;b>web&lt;\/b>/);
  assert.match(html, />failure</);
  assert.match(html, />secret read</);
  assert.match(html, />1.50 s</);
  assert.match(render(h(ContextTable, { rows: [] })), /No contexts match/);
});

test('Waterfall draws one mark per member, a row per actor, a heading per component, the trigger marked', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const ms = [member(1, 'user', 'alice', t0), member(2, 'controller-manager', 'job-controller', t0 + 10), member(3, 'kubelet', 'n1', t0 + 900, 500), member(4, 'kubelet', 'n1', t0 + 1000)];
  const html = render(h(Waterfall, { members: ms, start: t0, end: t0 + 1000, width: 830, trigger: 'a1' }));
  assert.equal((html.match(/<rect class="member/g) ?? []).length, 4);
  assert.equal((html.match(/class="member trigger"/g) ?? []).length, 1);
  assert.deepEqual([...html.matchAll(/data-component="([^"]+)"/g)].map((m) => m[1]), ['user', 'controller-manager', 'kubelet']);
  assert.match(html, /kubelets \(2\)/);
  assert.match(html, /fill="#c62828"/); // the 500
  // the last member sits at the right edge of the plot (label column 230 + 600 - 2)
  assert.match(html, /x="828"/);
});

test('Login asks for a token and shows why', () => {
  const html = render(h(Login, { message: 'The token was not accepted.', onDone: () => {} }));
  assert.match(html, /type="password"/);
  assert.match(html, /role="alert">The token was not accepted\./);
});
