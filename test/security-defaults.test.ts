/**
 * Closed by default: the forward input refuses a non-loopback address without authentication,
 * docker-compose publishes nothing insecure and requires its secrets, /metrics and GraphQL
 * introspection behave as configured, and health probes are answered while the main loop is busy.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import { createHttpApp, startHttpServer } from '../src/http/app.ts';
import { createAuthenticator } from '../src/http/auth.ts';
import { HealthBoard, monitorReadiness, startHealthServer, LOOP_STALL_READY_MS } from '../src/http/health.ts';
import { startService } from '../src/pipeline/service.ts';
import { createGraphqlHandler } from '../src/query/handler.ts';
import { forwardExposure, isLoopback } from '../src/sources/forward/index.ts';
import { setLogLevel } from '../src/util/log.ts';
import { ROOT } from './helpers/hostile.ts';
import { captureLogs } from './sources-helpers.ts';

setLogLevel('error');

describe('forward input: closed by default', () => {
  test('loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'kontext.svc', '128.0.0.1']) assert.ok(!isLoopback(h), h);
  });

  test('a non-loopback address needs a shared key or client certificates, or --forward-insecure', () => {
    const cfg = (flags: Record<string, string | boolean>) => loadConfig(flags, {});
    assert.match(forwardExposure(cfg({})).error ?? '', /--forward-shared-key/, 'the default 0.0.0.0 without a key is refused');
    assert.equal(forwardExposure(cfg({ 'forward-host': '127.0.0.1' })).auth, 'loopback');
    assert.equal(forwardExposure(cfg({ 'forward-shared-key': 'k' })).auth, 'shared-key');
    assert.equal(forwardExposure({ forwardHost: '0.0.0.0', forwardTlsCa: 'ca.pem', forwardSharedKey: undefined, forwardInsecure: false }).auth, 'mtls');
    const insecure = forwardExposure(cfg({ 'forward-insecure': true }));
    assert.equal(insecure.auth, 'insecure');
    assert.equal(insecure.error, undefined);
    assert.throws(() => cfg({ 'forward-tls-ca': 'ca.pem' }), /--forward-tls-ca needs --forward-tls-cert/);
  });

  test('startService refuses before connecting anywhere', async () => {
    const cfg = loadConfig({ 'auth-tokens': 't', 'elasticsearch-url': 'http://127.0.0.1:1' }, {});
    await assert.rejects(startService(cfg), (e: Error) => e instanceof ConfigError && /unauthenticated events on 0\.0\.0\.0/.test(e.message));
  });

  test('`kontext serve` on 0.0.0.0 without a shared key exits with the reason', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/kontext.js'), 'serve', '--forward-host', '0.0.0.0', '--auth-tokens', 't', '--http-port', '0', '--forward-port', '0'], {
      env: { ...process.env, ELASTICSEARCH_URL: 'http://127.0.0.1:1' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => { err += String(d); });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.notEqual(code, 0);
    assert.match(err, /--forward-shared-key/);
    assert.match(err, /--forward-insecure/);
  });
});

describe('docker-compose.yml', () => {
  const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
  /** the text of one service (up to the next top-level service key) */
  const service = (name: string) => {
    const start = compose.indexOf(`\n  ${name}:\n`);
    assert.ok(start >= 0, `service ${name}`);
    const next = compose.slice(start + 1).search(/\n {2}[a-z][a-z0-9-]*:\n|\n[a-z]/);
    return compose.slice(start, next < 0 ? undefined : start + 1 + next);
  };
  const ports = (svc: string) => [...(/\n {4}ports: \[([^\]]*)\]/.exec(service(svc))?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]!);

  test('Elasticsearch and Kibana run with security on; Elasticsearch is not published, Kibana only on loopback', () => {
    assert.match(service('elasticsearch'), /xpack\.security\.enabled=true/);
    assert.doesNotMatch(compose, /xpack\.security\.enabled=false/);
    assert.deepEqual(ports('elasticsearch'), [], 'Elasticsearch publishes no port');
    for (const p of ports('kibana')) assert.match(p, /^127\.0\.0\.1:/, `Kibana port ${p} bound to loopback`);
    assert.match(service('kibana'), /ELASTICSEARCH_USERNAME=kibana_system/);
    assert.match(service('kontext'), /ELASTICSEARCH_PASSWORD=\$\{ELASTIC_PASSWORD:\?/);
  });

  test('every secret is required (${VAR:?...}), none has a default or a literal value', () => {
    const secrets = ['ELASTIC_PASSWORD', 'KIBANA_PASSWORD', 'KIBANA_ENCRYPTION_KEY', 'KONTEXT_FORWARD_SHARED_KEY', 'KONTEXT_AUTH_TOKENS'];
    for (const m of compose.matchAll(/(?<!\$)\$\{([A-Z_]+)(:?[-?])?/g)) {
      if (secrets.includes(m[1]!) || /PASSWORD|KEY|TOKEN/.test(m[1]!)) assert.equal(m[2], ':?', `${m[1]} must be required, not defaulted`);
    }
    for (const m of compose.matchAll(/- ([A-Z_]*(?:PASSWORD|SHARED_KEY|TOKENS|ENCRYPTIONKEY))=(.*)/g)) {
      assert.match(m[2]!, /^\$\{[A-Z_]+:\?/, `${m[1]} comes from a required variable`);
    }
    assert.doesNotMatch(compose, /kontext-shared-key/);
    const gen = readFileSync(path.join(ROOT, 'scripts/compose-secrets.sh'), 'utf8');
    for (const s of secrets) assert.match(gen, new RegExp(`echo "${s}=`), `compose-secrets.sh generates ${s}`);
    assert.match(readFileSync(path.join(ROOT, '.gitignore'), 'utf8'), /^\.env$/m, '.env is never committed');
  });

  test('kontext in compose authenticates the forward input and probes the health port', () => {
    const k = service('kontext');
    assert.match(k, /KONTEXT_FORWARD_SHARED_KEY=\$\{KONTEXT_FORWARD_SHARED_KEY:\?/);
    assert.match(k, /KONTEXT_HEALTH_PORT=(\d+)/);
    assert.match(k, new RegExp(`127\\.0\\.0\\.1:${/KONTEXT_HEALTH_PORT=(\d+)/.exec(k)![1]}/readyz`));
    assert.ok(!ports('kontext').some((p) => p.endsWith(':8081')), 'the health port is not published');
  });

  test('the Kubernetes Deployment probes the health port', () => {
    const k8s = readFileSync(path.join(ROOT, 'plugin/kubernetes/kontext.yaml'), 'utf8');
    assert.match(k8s, /KONTEXT_HEALTH_PORT, value: "8081"/);
    assert.match(k8s, /readinessProbe:\n\s+httpGet: \{ path: \/readyz, port: health \}/);
    assert.match(k8s, /livenessProbe:\n\s+httpGet: \{ path: \/healthz, port: health \}/);
    assert.match(k8s, /containerPort: 8081/);
    assert.match(k8s, /KONTEXT_FORWARD_SHARED_KEY/);
  });
});

describe('HTTP: /metrics and introspection as configured', () => {
  const es = new Client({ node: 'http://127.0.0.1:1' }); // introspection and /metrics never reach it
  const TOKEN = 'sekret';

  async function serve(metricsPublic: boolean) {
    const graphql = createGraphqlHandler({ es, indexPrefix: 'x', auth: { tokens: [TOKEN] } });
    const app = createHttpApp({ graphql, ready: () => true, metricsAuth: metricsPublic ? undefined : createAuthenticator({ tokens: [TOKEN] }) });
    const s = await startHttpServer(app, '127.0.0.1', 0);
    return { s, graphql };
  }
  const gql = (url: string, query: string, token = TOKEN) => fetch(`${url}/graphql`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }),
  });

  test('/metrics needs the bearer token by default, and is public with --metrics-public', async () => {
    const { s, graphql } = await serve(false);
    try {
      assert.equal((await fetch(`${s.url}/metrics`)).status, 401);
      assert.equal((await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
      const ok = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /kontext_http_auth_failures_total\{route="\/metrics"\} 2/);
    } finally { graphql.close(); await s.close(); }
    const pub = await serve(true);
    try {
      assert.equal((await fetch(`${pub.s.url}/metrics`)).status, 200);
    } finally { pub.graphql.close(); await pub.s.close(); }
    assert.ok(loadConfig({}, {}).metricsPublic === false, 'private by default');
  });

  test('auth failures are logged with the remote address and the reason, never the token', async () => {
    const { s, graphql } = await serve(false);
    setLogLevel('warn');
    try {
      const { lines } = await captureLogs(async () => {
        await gql(s.url, '{ __typename }', 'guessed-token-value');
        await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer another-guess' } });
      });
      const fails = lines.filter((l) => l.msg === 'authentication failed');
      assert.deepEqual(fails.map((l) => l.route), ['/graphql', '/metrics']);
      for (const l of fails) {
        assert.match(String(l.remote), /127\.0\.0\.1/);
        assert.equal(l.reason, 'invalid bearer token');
      }
      assert.ok(!JSON.stringify(lines).includes('guess'), 'no token in the log');
    } finally { setLogLevel('error'); graphql.close(); await s.close(); }
  });

  test('GraphQL: one introspection query is answered, 140 aliased __schema fields are refused before execution', async () => {
    const { s, graphql } = await serve(false);
    try {
      const one = await gql(s.url, '{ __schema { types { name } } }');
      assert.equal(one.status, 200);
      assert.ok(((await one.json()) as any).data.__schema.types.length > 5);
      const q = '{ ' + Array.from({ length: 140 }, (_, i) => `s${i}: __schema { types { name fields { name } } }`).join(' ') + ' }';
      const many = await gql(s.url, q);
      const body = await many.text();
      assert.ok(body.length < 2000, `a short refusal, not megabytes (${body.length} bytes)`);
      assert.match(body, /QUERY_TOO_COMPLEX/);
      assert.match(body, /too many root fields: 140/);
      assert.equal((await gql(s.url, '{ __typename }', 'wrong')).status, 401);
    } finally { graphql.close(); await s.close(); }
  });
});

describe('health off the main event loop', () => {
  test('probes are answered while the main loop is blocked; /readyz reports the stall with its reason', async () => {
    const board = new HealthBoard();
    board.start();
    board.set('starting', false);
    const health = await startHealthServer(board, '127.0.0.1', 0);
    try {
      assert.equal((await fetch(`${health.url}/readyz`)).status, 200);
      // a separate process probes while this thread is blocked (it could not answer itself)
      const probe = spawn(process.execPath, ['-e', `
        const u = ${JSON.stringify(health.url)};
        const at = async (ms) => { await new Promise(r => setTimeout(r, ms)); const t = Date.now();
          const h = await fetch(u + '/healthz', { signal: AbortSignal.timeout(1500) }); const r = await fetch(u + '/readyz', { signal: AbortSignal.timeout(1500) });
          return { h: h.status, r: r.status, text: await r.text(), ms: Date.now() - t }; };
        (async () => { const early = await at(1000); const late = await at(${LOOP_STALL_READY_MS + 500}); console.log(JSON.stringify({ early, late })); })()
          .catch(e => { console.log(JSON.stringify({ error: e.message })); });
      `], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      probe.stdout.on('data', (d) => { out += String(d); });
      await new Promise((r) => setTimeout(r, 300)); // the probe process is up
      const until = Date.now() + LOOP_STALL_READY_MS + 2500;
      while (Date.now() < until) { /* the main loop is blocked */ }
      await new Promise((r) => probe.on('exit', r));
      const res = JSON.parse(out) as { early: { h: number; r: number; text: string; ms: number }; late: { h: number; r: number; text: string }; error?: string };
      assert.equal(res.error, undefined);
      assert.equal(res.early.h, 200, '/healthz answered while blocked');
      assert.equal(res.early.r, 200, 'a short block does not flip readiness');
      assert.equal(res.late.h, 200, 'still alive: a busy loop is not a dead process');
      assert.equal(res.late.r, 503);
      assert.match(res.late.text, /main event loop stalled for \d+ s/);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await fetch(`${health.url}/readyz`)).status, 200, 'ready again once the loop runs');
    } finally {
      board.stop();
      await health.close();
    }
  });

  test('/readyz names the reasons: Elasticsearch unreachable, the writer failing or stalled, shutting down', async () => {
    let now = 1_000_000;
    const board = new HealthBoard(() => now);
    let stored: () => void = () => {};
    const writer = { healthy: true, backlogDocs: 0, onStored: (cb: () => void) => { stored = cb; return () => {}; } };
    let esUp = true;
    const stop = monitorReadiness(board, { pingEs: () => (esUp ? Promise.resolve() : Promise.reject(new Error('down'))), writer }, () => now);
    try {
      board.set('starting', false);
      const tick = async (ms: number) => { now += ms; await new Promise((r) => setTimeout(r, 300)); board.beat(); };
      await tick(0);
      assert.deepEqual(board.readiness(), { ready: true, reasons: [] });
      writer.healthy = false;
      await tick(0);
      assert.deepEqual(board.readiness().reasons, ['writer: Elasticsearch refuses writes (retrying)']);
      writer.healthy = true;
      writer.backlogDocs = 5;
      await tick(1000);
      await tick(61_000);
      assert.deepEqual(board.readiness().reasons, ['writer: events waiting but nothing stored recently']);
      stored();
      await tick(0);
      assert.equal(board.readiness().ready, true, 'progress clears the stall');
      writer.backlogDocs = 0;
      esUp = false;
      await tick(6000); await tick(6000); await tick(6000); await tick(6000);
      assert.deepEqual(board.readiness().reasons, ['Elasticsearch unreachable']);
      esUp = true;
      await tick(6000);
      await tick(0);
      assert.equal(board.readiness().ready, true);
      board.set('stopping', true);
      assert.deepEqual(board.readiness().reasons, ['shutting down']);
    } finally { stop(); }
  });
});
