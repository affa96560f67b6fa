/**
 * TLS to Elasticsearch through a TLS-terminating proxy on loopback in front of the test
 * Elasticsearch (which has no TLS of its own): certificates from openssl, a CA kontext must
 * trust, one it must refuse with a clear error, the CA fingerprint right and wrong, and the
 * labs-only insecure mode, warned about.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { esUrl } from './helpers/es.ts';
import { createEsClient, esClientOptions, waitForEs } from '../src/store/es-client.ts';
import { loadConfig } from '../src/config/config.ts';
import { setLogSink } from '../src/util/log.ts';

const logLines: string[] = [];
setLogSink((l) => { logLines.push(l); });

let dir: string;
let server: tls.Server;
let url: string;
const sockets = new Set<net.Socket>();

function openssl(...args: string[]): string {
  return execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

function fingerprint(name: string): string {
  return /=([0-9A-F:]+)/.exec(openssl('x509', '-in', `${name}.crt`, '-noout', '-fingerprint', '-sha256'))![1]!;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-tls-'));
  makeCa('trusted-ca');
  makeCa('other-ca');
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'es.key', '-out', 'es.csr');
  openssl('x509', '-req', '-in', 'es.csr', '-CA', 'trusted-ca.crt', '-CAkey', 'trusted-ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'es.crt');
  const target = new URL(esUrl());
  // the chain as Elasticsearch sends it: its certificate, then the CA's
  server = tls.createServer({ key: readFileSync(path.join(dir, 'es.key')), cert: readFileSync(path.join(dir, 'es.crt'), 'utf8') + readFileSync(path.join(dir, 'trusted-ca.crt'), 'utf8') }, (c) => {
    const up = net.connect(Number(target.port), target.hostname);
    sockets.add(c); sockets.add(up);
    c.pipe(up); up.pipe(c);
    const end = () => { c.destroy(); up.destroy(); sockets.delete(c); sockets.delete(up); };
    c.on('error', end); up.on('error', end); c.on('close', end); up.on('close', end);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

async function reach(cfg: Parameters<typeof createEsClient>[0]): Promise<string> {
  const client = createEsClient(cfg, { maxRetries: 0, requestTimeout: 10_000 });
  try {
    await waitForEs(client, 15_000);
    const h = await client.cluster.health();
    return h.status;
  } finally {
    await client.close();
  }
}

test('a CA file it must trust: connected through TLS', async () => {
  assert.match(await reach({ elasticsearchUrl: url, elasticsearchCa: path.join(dir, 'trusted-ca.crt') }), /^(green|yellow)$/);
});

test('a CA it must refuse: a clear error naming the remedy, fast (not retried until the timeout)', async () => {
  const t0 = Date.now();
  await assert.rejects(reach({ elasticsearchUrl: url, elasticsearchCa: path.join(dir, 'other-ca.crt') }),
    (e: Error) => /Elasticsearch not reachable: .*not trusted: give its CA with --elasticsearch-ca or --elasticsearch-ca-fingerprint/.test(e.message));
  assert.ok(Date.now() - t0 < 10_000);
  // no CA at all: the system CAs do not know it either
  await assert.rejects(reach({ elasticsearchUrl: url }), /not trusted/);
});

test('kontext serve with a CA it must refuse: stops with one clear line, exit code 2', async () => {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const proc = spawn(process.execPath, [path.join(root, 'bin/kontext.js'), 'serve', '--no-auth', '--http-host', '127.0.0.1', '--http-port', '0', '--forward-host', '127.0.0.1', '--forward-port', '0',
    '--elasticsearch-url', url, '--elasticsearch-ca', path.join(dir, 'other-ca.crt'), '--index-prefix', 'tls-refused'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  proc.stdout.resume();
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  clearTimeout(timer);
  assert.equal(code, 2, err);
  const line = err.split('\n').find((l) => l.startsWith('kontext serve: '));
  assert.match(line ?? '', /^kontext serve: Elasticsearch not reachable: .*not trusted: give its CA with --elasticsearch-ca/);
  assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
});

test('CA fingerprint: right connects, wrong is refused', async () => {
  const fp = fingerprint('trusted-ca');
  assert.match(await reach({ elasticsearchUrl: url, elasticsearchCaFingerprint: fp }), /^(green|yellow)$/);
  // lowercase without colons, as some tools print it
  assert.match(await reach({ elasticsearchUrl: url, elasticsearchCaFingerprint: fp.replace(/:/g, '').toLowerCase() }), /^(green|yellow)$/);
  await assert.rejects(reach({ elasticsearchUrl: url, elasticsearchCaFingerprint: fingerprint('other-ca') }), /does not contain the CA of --elasticsearch-ca-fingerprint/);
});

test('insecure (labs only): connects without verification and says so loudly', async () => {
  logLines.length = 0;
  assert.match(await reach({ elasticsearchUrl: url, elasticsearchTlsInsecure: true }), /^(green|yellow)$/);
  const warn = logLines.find((l) => l.includes('INSECURE'));
  assert.ok(warn, 'warned');
  assert.equal(JSON.parse(warn!).level, 'warn');
});

test('connection options: cloud id, clear configuration errors', () => {
  const cloudId = 'kontext:' + Buffer.from('eu-west-1.aws.found.io$abc123$def456').toString('base64');
  const o = esClientOptions({ elasticsearchCloudId: cloudId, elasticsearchApiKey: 'k' });
  assert.deepEqual(o.cloud, { id: cloudId });
  assert.equal(o.node, undefined);
  assert.throws(() => esClientOptions({ elasticsearchUrl: url, elasticsearchCa: path.join(dir, 'missing.crt') }), /--elasticsearch-ca: cannot read .*ENOENT/);
  assert.throws(() => loadConfig({ 'elasticsearch-ca-fingerprint': 'abc' }, {}), /--elasticsearch-ca-fingerprint: expected a SHA-256 fingerprint/);
  assert.throws(() => loadConfig({ 'elasticsearch-cloud-id': cloudId, 'elasticsearch-url': 'http://x:9200' }, {}), /exclude each other/);
  assert.throws(() => loadConfig({ 'index-replicas': 'two' }, {}), /--index-replicas/);
});
