/**
 * docker-compose.yml checked by structure (it cannot run here): Elasticsearch and Kibana 9 on
 * one version, security and TLS on as Elastic's compose example does it (a certs service makes
 * the CA and the certificate, Elasticsearch serves HTTPS with them, Kibana and kontext trust
 * the CA), every kontext variable a real option, the start-up order. And the client: the
 * 8.x client speaks REST compatibility version 8, which Elasticsearch 8.19 and 9.x accept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig, OPTIONS } from '../src/config/config.ts';
import { createEsClient } from '../src/store/es-client.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));
const svc = (name: string) => { assert.ok(compose.services[name], `service ${name}`); return compose.services[name]; };
const env = (name: string): Record<string, string> => Object.fromEntries((svc(name).environment as string[]).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
/** container path → named volume, for a service's mounts */
const mounts = (name: string): Map<string, string> => new Map((svc(name).volumes ?? []).map((v: string) => { const [vol, target] = v.split(':'); return [target!, vol!] as [string, string]; }));

test('Elasticsearch and Kibana 9, one version', () => {
  const es = /^docker\.elastic\.co\/elasticsearch\/elasticsearch:(9\.\d+\.\d+)$/.exec(svc('elasticsearch').image)?.[1];
  const kb = /^docker\.elastic\.co\/kibana\/kibana:(9\.\d+\.\d+)$/.exec(svc('kibana').image)?.[1];
  assert.ok(es, 'Elasticsearch 9.x');
  assert.equal(kb, es, 'Kibana on the Elasticsearch version');
  for (const s of ['certs', 'es-setup']) assert.equal(svc(s).image, svc('elasticsearch').image);
});

test('security and TLS on, with certificates the certs service creates', () => {
  const e = env('elasticsearch');
  assert.equal(e['xpack.security.enabled'], 'true');
  assert.equal(e['xpack.security.http.ssl.enabled'], 'true');
  assert.equal(e['xpack.security.transport.ssl.enabled'], 'true');
  const certs = svc('certs').command as string;
  const vol = mounts('certs').get('/usr/share/elasticsearch/config/certs');
  assert.ok(vol, 'certs writes into a volume');
  assert.ok((svc('elasticsearch').volumes as string[]).includes(`${vol}:/usr/share/elasticsearch/config/certs:ro`), 'Elasticsearch reads the certificates read-only');
  for (const k of ['key', 'certificate', 'certificate_authorities']) {
    const file = e[`xpack.security.http.ssl.${k}`]!;
    assert.match(file, /^certs\//);
    const base = path.basename(file);
    assert.ok(certs.includes(base.replace(/\.(crt|key)$/, '')), `${file} is made by the certs service`);
  }
  assert.match(certs, /elasticsearch-certutil ca .*--pem/);
  assert.match(certs, /elasticsearch-certutil cert .*--ca-cert config\/certs\/ca\/ca\.crt/);
  assert.match(certs, /dns: \[elasticsearch, localhost\]/, 'the certificate names the host kontext and Kibana use');
  assert.equal(svc('elasticsearch').depends_on.certs.condition, 'service_completed_successfully');
  assert.match(svc('elasticsearch').healthcheck.test[1], /--cacert .*https:\/\/localhost:9200/);
  assert.deepEqual(svc('elasticsearch').ports ?? [], [], 'Elasticsearch publishes nothing');
});

test('Kibana and kontext reach Elasticsearch over https and trust its CA', () => {
  const k = env('kibana');
  assert.equal(k.ELASTICSEARCH_HOSTS, 'https://elasticsearch:9200');
  assert.equal(k.ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES, 'config/certs/ca/ca.crt');
  assert.ok((svc('kibana').volumes as string[]).some((v) => v.startsWith('certs:/usr/share/kibana/config/certs')));
  const kx = env('kontext');
  assert.equal(new URL(kx.ELASTICSEARCH_URL!).protocol, 'https:');
  assert.equal(new URL(kx.ELASTICSEARCH_URL!).hostname, 'elasticsearch');
  const ca = kx.ELASTICSEARCH_CA!;
  const mount = (svc('kontext').volumes as string[]).find((v) => v.startsWith('certs:'));
  assert.ok(mount && ca.startsWith(mount.split(':')[1]! + '/'), `kontext's CA ${ca} is on the certs volume`);
  assert.equal(ca.slice(mount!.split(':')[1]!.length), '/ca/ca.crt');
  // every variable kontext gets is one of its options, and together they are a valid configuration
  const known = new Set<string>(OPTIONS.map((o) => o.env));
  for (const name of Object.keys(kx)) assert.ok(known.has(name), `${name} is a kontext option`);
  const filled = Object.fromEntries(Object.entries(kx).map(([n, v]) => [n, v.replace(/\$\{[A-Z_]+:\?[^}]*\}/g, 'x'.repeat(24))]));
  const cfg = loadConfig({}, filled);
  assert.equal(cfg.elasticsearchCa, '/certs/ca/ca.crt');
  assert.equal(cfg.elasticsearchTlsInsecure, false);
  assert.equal(svc('kontext').depends_on.elasticsearch.condition, 'service_healthy');
  assert.equal(svc('kibana').depends_on['es-setup'].condition, 'service_completed_successfully');
});

test('the Elasticsearch client speaks REST compatibility version 8 (accepted by 8.19 and 9.x)', async () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.match(pkg.dependencies['@elastic/elasticsearch'], /^\^8\./, 'a 9.x client would send compatible-with=9, which 8.19 refuses');
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
    res.end(JSON.stringify({ cluster_name: 'c', status: 'green' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = createEsClient({ elasticsearchUrl: `http://127.0.0.1:${(server.address() as any).port}` });
  try {
    await client.cluster.health();
    assert.match(String(seen[0]!.accept), /application\/vnd\.elasticsearch\+json; compatible-with=8/);
  } finally {
    await client.close();
    server.close();
  }
});
