/**
 * GraphiQL at /graphql works with no network: headless Chromium (Debian's chromium, driven by
 * playwright-core) loads the page with every non-loopback request aborted, sees the editor with
 * the example query, and runs the schema introspection against kontext itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { chromium } from 'playwright-core';
import { createGraphqlHandler } from '../src/query/handler.ts';
import { createHttpApp, startHttpServer } from '../src/http/app.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

test('GraphiQL loads offline in headless Chromium and shows the editor', { timeout: 120_000 }, async (t) => {
  assert.ok(CHROMIUM, 'no Chromium found: install Debian\'s chromium (apt-get install -y chromium) or set CHROMIUM_PATH');
  // the page and the introspection never touch Elasticsearch; the client only has to exist
  const es = new Client({ node: 'http://127.0.0.1:9' });
  const handler = createGraphqlHandler({ es, indexPrefix: 'kontext-graphiql-test', auth: { tokens: ['graphiql-token'] }, subscribeClosed: () => () => {} });
  const server = await startHttpServer(createHttpApp({ graphql: handler, ready: () => true }), '127.0.0.1', 0);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  t.after(async () => { await browser.close(); handler.close(); await server.close(); await es.close(); });

  const html = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } }).then((r) => r.text());
  assert.doesNotMatch(html, /<script[^>]+src="https?:\/\//, 'no script from a CDN');
  assert.doesNotMatch(html, /<link[^>]+href="https?:\/\//, 'no stylesheet from a CDN');

  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 }, extraHTTPHeaders: { authorization: 'Bearer graphiql-token' } });
  const blocked: string[] = [];
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:' || LOOPBACK.has(u.hostname)) return route.continue();
    blocked.push(u.href);
    return route.abort('internetdisconnected');
  });
  const page = await ctx.newPage();
  const introspected = page.waitForResponse((r) => r.url().startsWith(`${server.url}/graphql`) && r.request().method() === 'POST' && /IntrospectionQuery/.test(r.request().postData() ?? ''));
  await page.goto(`${server.url}/graphql`);
  await page.waitForSelector('.graphiql-container', { timeout: 60_000 });
  await page.waitForFunction(() => /contexts/.test(document.querySelector('.graphiql-query-editor, .graphiql-editor')?.textContent ?? ''), undefined, { timeout: 60_000 });
  const r = await introspected;
  assert.equal(r.status(), 200);
  assert.match(await page.title(), /kontext/);
  assert.doesNotMatch(await page.evaluate(() => document.body.innerText), /__TITLE__|Loading/);
  assert.deepEqual(blocked, [], 'GraphiQL needs nothing beyond kontext itself');
});
