/**
 * The web UI end to end in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against a running kontext with simulated traffic in the real Elasticsearch:
 * auth is enforced, a search by user finds that user's contexts, the context page shows the
 * trigger and every member, an auditID leads to its context, the timeline draws, and the live
 * list grows while traffic flows. Every request the browser makes is checked to stay on
 * loopback (anything else is aborted and fails the test). Screenshots of each view go to
 * .kontext/screenshots/, or to KONTEXT_SCREENSHOTS (the README's: docs/screenshots).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { loadConfig } from '../src/config/config.ts';
import { startService, type Service } from '../src/pipeline/service.ts';
import { createGraphqlHandler } from '../src/query/handler.ts';
import { createHttpApp, startHttpServer } from '../src/http/app.ts';
import { simulate } from '../src/simulate/index.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import { parseLabelKey } from '../src/types/label.ts';
import { summarize } from '../src/cluster/summary.ts';
import { contextOperations } from '../src/store/codec.ts';
import { membersOf } from '../src/store/read.ts';
import { setLogLevel } from '../src/util/log.ts';
import { deleteIndices, esUrl, testClient, uniquePrefix } from './helpers/es.ts';

const TOKEN = 'ui-e2e-token';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = path.resolve(ROOT, process.env.KONTEXT_SCREENSHOTS ?? '.kontext/screenshots') + path.sep;
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

async function postEvents(svc: Service, events: AuditEvent[], chunk = 2000): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) {
    const r = await fetch(`${svc.http.url}/webhook/audit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events.slice(i, i + chunk) }),
    });
    assert.equal(r.status, 200, await r.text());
  }
}

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage });
}

test('web UI in headless Chromium: auth, search, context, lookup, timeline, live', { timeout: 180_000 }, async (t) => {
  assert.ok(CHROMIUM, 'no Chromium found: install Debian\'s chromium (apt-get install -y chromium) or set CHROMIUM_PATH');
  setLogLevel('warn');
  mkdirSync(SHOTS, { recursive: true });
  const prefix = uniquePrefix('ui-e2e');
  const cfg = loadConfig({
    'index-prefix': prefix, 'forward-host': '127.0.0.1', 'forward-port': '0', 'http-host': '127.0.0.1', 'http-port': '0',
    'auth-tokens': TOKEN, 'flush-interval': '200ms', lateness: '1s', 'context-idle': '5s',
  }, { ELASTICSEARCH_URL: esUrl() });
  const svc = await startService(cfg);
  const es = testClient();
  const index = `${prefix}-contexts`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  t.after(async () => { await browser.close(); await svc.stop(); await deleteIndices(es, prefix); await es.close(); });

  // recorded traffic: first 3 simulated minutes, 30 minutes ago
  const t0 = Date.now() - 30 * 60_000;
  const sim = { users: 3, actionsPerMinute: 20, nodes: 3 };
  const first = [...simulate({ ...sim, seed: 31, start: t0, durationMs: 3 * 60_000 })];
  await postEvents(svc, first);
  await es.indices.refresh({ index });

  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const requested: string[] = [];
  const blocked: string[] = [];
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    requested.push(u.href);
    if (u.protocol === 'data:' || LOOPBACK.has(u.hostname)) return route.continue();
    blocked.push(u.href);
    return route.abort('internetdisconnected');
  });
  const page = await ctx.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const base = svc.http.url;

  await t.test('auth is enforced: prompt, a wrong token is refused, the right one kept for the tab', async () => {
    await page.goto(`${base}/contexts`);
    await page.waitForSelector('form.login input[name=token]');
    assert.equal(await page.locator('table.contexts').count(), 0, 'no data before sign-in');
    const status = await page.evaluate(() => fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ contexts { totalCount } }"}' }).then((r) => r.status));
    assert.equal(status, 401);
    await shot(page, 'login');
    await page.fill('input[name=token]', 'wrong-token');
    await page.click('form.login button[type=submit]');
    await page.waitForSelector('form.login [role=alert]');
    assert.match(await page.textContent('form.login [role=alert]') ?? '', /not accepted/);
    await page.fill('input[name=token]', TOKEN);
    await page.click('form.login button[type=submit]');
    await page.waitForSelector('table.contexts tbody tr');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('kontext.token')), TOKEN);
    await page.reload();
    await page.waitForSelector('table.contexts tbody tr');
    assert.equal(await page.locator('form.login').count(), 0, 'no prompt after a reload in the same tab');
  });

  // the human user with the most contexts in the recorded traffic
  const agg: any = await es.search({ index, size: 0, query: { bool: { must_not: { prefix: { 'trigger.user': 'system:' } } } }, aggs: { u: { terms: { field: 'trigger.user', size: 1 } } } });
  const user: string = agg.aggregations.u.buckets[0].key;
  const ofUser: any = await es.search({ index, size: 1000, query: { term: { 'trigger.user': user } }, _source: ['id', 'eventCount', 'trigger', 'members', 'action'] });
  const expected = ofUser.hits.hits.map((h: any) => h._source);
  // members live in their own index (one document per auditID)
  const membersById = await membersOf(es, prefix, expected.map((c: any) => c.id));
  for (const c of expected) c.members = membersById.get(c.id) ?? [];
  assert.ok(expected.length >= 2 && expected.length <= 50, `${user} triggered ${expected.length} contexts`);

  await t.test('search by user finds exactly that user\'s contexts, and the URL holds the search', async () => {
    await page.fill('form.search input[name=user]', user);
    await page.click('form.search button[type=submit]');
    await page.waitForURL((u) => u.searchParams.get('user') === user);
    await page.waitForFunction((n) => document.querySelector('[data-testid=total]')?.textContent === `${n} contexts`, expected.length);
    const rows = await page.$$eval('table.contexts tbody tr', (trs) => trs.map((tr) => ({ id: tr.getAttribute('data-id'), user: tr.children[2]!.textContent })));
    assert.deepEqual(rows.map((r) => r.id).sort(), expected.map((c: any) => c.id).sort());
    for (const r of rows) assert.equal(r.user, user);
    await shot(page, 'contexts');
    // the same URL in a new tab of the session shows the same search
    const again = await ctx.newPage();
    await again.goto(page.url());
    await again.evaluate((tok) => sessionStorage.setItem('kontext.token', tok), TOKEN);
    await again.reload();
    await again.waitForFunction((n) => document.querySelector('[data-testid=total]')?.textContent === `${n} contexts`, expected.length);
    assert.equal(await again.inputValue('form.search input[name=user]'), user);
    await again.close();
  });

  // the one with the widest cascade (most distinct users: controllers, scheduler, kubelets)
  const spread = (c: any) => new Set(c.members.map((m: any) => m.user)).size;
  const target = [...expected].sort((a: any, b: any) => spread(b) - spread(a) || b.eventCount - a.eventCount)[0];
  await t.test('the context page shows the trigger and every member', async () => {
    await page.click(`table.contexts tbody tr[data-id="${target.id}"] a`);
    await page.waitForURL(`${base}/context/${encodeURIComponent(target.id)}`);
    await page.waitForSelector('[data-testid=trigger]');
    const trigger = await page.textContent('[data-testid=trigger]') ?? '';
    for (const s of [target.trigger.user, target.trigger.userAgent, ...target.trigger.sourceIPs, String(target.trigger.code), target.trigger.auditID]) {
      assert.ok(trigger.includes(s), `trigger panel shows ${s}`);
    }
    for (const g of target.trigger.groups) assert.ok(trigger.includes(g), `group ${g}`);
    assert.equal(await page.textContent('[data-testid=action]'), target.action);
    const shown = await page.$$eval('[data-testid=members] tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-audit-id')));
    assert.deepEqual(shown.sort(), target.members.map((m: any) => m.auditID).sort(), 'every member listed');
    assert.equal(await page.locator('[data-testid=waterfall] rect.member').count(), target.eventCount, 'one waterfall mark per member');
    assert.equal(await page.locator('[data-testid=members] tr.trigger').count(), 1);
    await shot(page, 'context', true);
    // the waterfall zooms into the control-plane burst
    const ticks = () => page.$$eval('[data-testid=waterfall] > g > text', (ts) => ts.map((x) => x.textContent).join(' '));
    const before = await ticks();
    const box = (await page.locator('[data-testid=waterfall]').boundingBox())!;
    await page.mouse.move(box.x + 260, box.y + 40);
    await page.mouse.wheel(0, -800);
    await page.waitForFunction((b) => [...document.querySelectorAll('[data-testid=waterfall] > g > text')].map((x) => x.textContent).join(' ') !== b, before);
  });

  await t.test('a very large context loads its members page by page', async () => {
    // one context of 1500 events (more than a page of members), stored as the pipeline stores contexts
    // (its own auditIDs: an auditID is stored in one context only)
    const events = first.slice(0, 1500).map((a, i) => ({ ...a, auditID: `ui-e2e-big-${String(i).padStart(4, '0')}` })).map((audit) => ({ audit, time: Date.parse(audit.requestReceivedTimestamp), label: parseLabelKey('create apps/deployments'), labelKey: 'create apps/deployments', labelSource: 'rule' as const, confidence: 1 }));
    const big = summarize('ui-e2e-big', events, 'closed');
    const stored = await es.bulk({ operations: contextOperations(prefix, big), refresh: true });
    assert.equal(stored.errors, false);
    try {
      await page.goto(`${base}/context/${big.id}`);
      await page.waitForSelector('[data-testid=members] tbody tr');
      assert.equal(await page.locator('[data-testid=members] tbody tr').count(), 1000);
      await page.click('text=Load 500 more');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=members] tbody tr').length === 1500);
      const shown = await page.$$eval('[data-testid=members] tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-audit-id')));
      assert.deepEqual(shown, big.members.map((m) => m.auditID), 'every member once, in time order');
      assert.equal(await page.locator('[data-testid=waterfall] rect.member').count(), 1500);
      assert.equal(await page.locator('text=/Load \\d+ more/').count(), 0);
    } finally {
      // its events belong to other contexts too: gone before the lookups below
      // documents live in daily indices behind the aliases: delete each in its own index
      await es.indices.refresh({ index: [index, `${prefix}-members`] });
      const held: any = await es.search({ index: [index, `${prefix}-members`], size: 10_000, _source: false, query: { bool: { should: [{ ids: { values: [big.id] } }, { term: { contextId: big.id } }] } } });
      await es.bulk({ operations: held.hits.hits.map((h: any) => ({ delete: { _index: h._index, _id: h._id } })), refresh: true });
    }
  });

  await t.test('event lookup: an auditID leads to its context', async () => {
    const other = expected.find((c: any) => c.id !== target.id) ?? target;
    const member = other.members[other.members.length - 1];
    await page.click('header nav a[href="/event"]');
    await page.fill('input[name=auditID]', member.auditID);
    await shot(page, 'event-lookup');
    await page.click('form.lookup button[type=submit]');
    await page.waitForURL(`${base}/context/${encodeURIComponent(other.id)}`);
    await page.waitForSelector(`[data-testid=members] tr[data-audit-id="${member.auditID}"]`);
    await page.goto(`${base}/event/no-such-audit-id`);
    await page.waitForSelector('[role=alert]');
    assert.match(await page.textContent('[role=alert]') ?? '', /No stored context holds the event no-such-audit-id/);
  });

  await t.test('timeline draws the contexts as swimlanes and zooms', async () => {
    const from = new Date(t0).toISOString();
    const to = new Date(t0 + 4 * 60_000).toISOString();
    await page.goto(`${base}/timeline?from=${from}&to=${to}&by=user`);
    await page.waitForSelector('[data-testid=timeline] rect.ctx');
    await shot(page, 'timeline');
    const ticks = async () => page.$$eval('[data-testid=timeline] > g > text', (ts) => ts.map((x) => x.textContent).join(' '));
    const before = await ticks();
    await page.hover('[data-testid=timeline]');
    await page.mouse.wheel(0, -600);
    await page.waitForFunction((b) => [...document.querySelectorAll('[data-testid=timeline] > g > text')].map((x) => x.textContent).join(' ') !== b, before);
    // with the Kubernetes components' lanes, one bar per context of the range
    const people = await page.locator('[data-testid=timeline] rect.ctx').count();
    await page.click('input[name=system]');
    await page.waitForURL((u) => u.searchParams.get('system') === '1');
    const total: any = await es.count({ index, query: { range: { start: { gte: t0, lt: t0 + 4 * 60_000 } } } });
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=timeline] rect.ctx').length === n, Math.min(2000, total.count));
    assert.ok(people > 0 && people < total.count, `${people} of ${total.count} contexts are people's`);
  });

  await t.test('the live list grows while simulated traffic flows', async () => {
    await page.goto(`${base}/contexts`);
    await page.waitForSelector('table.contexts tbody tr');
    await page.waitForSelector('.live .dot.on');
    const rowsBefore = await page.locator('table.contexts tbody tr').count();
    // the next simulated minutes, sent as they would arrive
    const next = [...simulate({ ...sim, seed: 32, start: t0 + 3 * 60_000 + 1000, durationMs: 2 * 60_000 })];
    let stop = false;
    const sending = (async () => {
      for (let i = 0; i < next.length && !stop; i += 250) {
        await postEvents(svc, next.slice(i, i + 250));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await page.waitForFunction(() => Number.parseInt(document.querySelector('[data-testid=fresh]')?.textContent ?? '0', 10) >= 5, undefined, { timeout: 60_000 });
    } finally {
      stop = true;
      await sending;
    }
    const fresh = await page.$$eval('table.contexts tbody tr.fresh', (trs) => trs.map((tr) => tr.getAttribute('data-id')!));
    assert.ok(fresh.length >= 5);
    assert.ok(await page.locator('table.contexts tbody tr').count() > rowsBefore, 'more rows than before');
    await es.indices.refresh({ index });
    const stored: any = await es.search({ index, size: fresh.length, query: { ids: { values: fresh } }, _source: ['state'] });
    assert.equal(stored.hits.hits.length, fresh.length, 'every live row is a stored context');
    for (const h of stored.hits.hits) assert.equal(h._source.state, 'closed');
    await shot(page, 'contexts-live');
  });

  await t.test('under --no-auth the UI asks for nothing', async (t2) => {
    const open = createGraphqlHandler({ es, indexPrefix: prefix, auth: { noAuth: true } });
    const srv = await startHttpServer(createHttpApp({ graphql: open, ready: () => true }), '127.0.0.1', 0);
    t2.after(async () => { open.close(); await srv.close(); });
    const p = await ctx.newPage();
    await p.goto(`${srv.url}/contexts?user=${encodeURIComponent(user)}`);
    // the live step added contexts of this user since
    await es.indices.refresh({ index });
    const now: any = await es.count({ index, query: { term: { 'trigger.user': user } } });
    await p.waitForFunction((n) => document.querySelector('[data-testid=total]')?.textContent === `${n} contexts`, now.count);
    assert.equal(await p.locator('form.login').count(), 0);
    assert.equal(await p.locator('button.signout').count(), 0);
    await p.close();
  });

  await t.test('no request left loopback, no page errors', () => {
    assert.deepEqual(blocked, []);
    assert.ok(requested.length > 10);
    assert.deepEqual(pageErrors, []);
  });
});
