/**
 * Forward connection slots: TLS handshakes that never finish, idle floods and one noisy peer
 * never lock out a valid peer; every failure path frees its slot; client certificates (mTLS).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ForwardServer, type ForwardServerOptions } from '../src/sources/forward/index.ts';
import { ingestRejected } from '../src/sources/metrics.ts';
import { setLogLevel } from '../src/util/log.ts';
import { ForwardClient, pack } from './helpers/forward-client.ts';
import { auditEvent, sleep, TestDownstream, until } from './sources-helpers.ts';

setLogLevel('error');
const rejected = (reason: string) => ingestRejected.get({ source: 'forward', reason });
const good = (chunk: string) => pack(['kube.audit', [[1, auditEvent()]], { chunk }]);

async function start(opts: ForwardServerOptions): Promise<{ server: ForwardServer; port: number }> {
  const server = new ForwardServer(new TestDownstream('immediate'), { host: '127.0.0.1', port: 0, hostname: 'kontext-test', ...opts });
  const { port } = await server.listen();
  return { server, port };
}

/** idle TCP connections from another loopback address (they never send a byte) */
async function flood(port: number, n: number, localAddress = '127.0.0.2'): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
      s.on('error', () => {});
      s.once('error', reject);
    }));
  }
  return out;
}

/** CA, server and client certificates (openssl), or undefined without openssl */
function pki(): { ca: Buffer; cert: Buffer; key: Buffer; clientCert: Buffer; clientKey: Buffer; otherCert: Buffer; otherKey: Buffer } | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'kontext-pki-'));
  const f = (n: string) => path.join(dir, n);
  const ossl = (...a: string[]) => execFileSync('openssl', a, { stdio: 'ignore', cwd: dir });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=kontext test CA');
    ossl('req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '1', '-subj', '/CN=other CA');
    writeFileSync(f('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    const leaf = (name: string, ca: string) => {
      ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', 'san.ext');
    };
    leaf('server', 'ca'); leaf('client', 'ca'); leaf('other', 'other-ca');
    const r = (n: string) => readFileSync(f(n));
    return { ca: r('ca.pem'), cert: r('server.pem'), key: r('server.key'), clientCert: r('client.pem'), clientKey: r('client.key'), otherCert: r('other.pem'), otherKey: r('other.key') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const certs = pki();

describe('forward connection slots', () => {
  test('an idle flood filling every slot does not lock out a valid peer: the oldest unproven connection is evicted', async () => {
    const { server, port } = await start({ maxConnections: 8, idleTimeout: 60_000 });
    const before = rejected('evicted');
    const idle = await flood(port, 8);
    try {
      await until(() => server.slotCount === 8, 3000, '8 slots taken');
      const peer = await ForwardClient.connect(port);
      peer.write(good('valid'));
      await peer.ack('valid', 3000);
      assert.equal(rejected('evicted'), before + 1);
      assert.ok(server.slotCount <= 8);
      // a proven peer is never evicted: the flood goes on, the peer stays
      const more = await flood(port, 4);
      await sleep(100);
      peer.write(good('again'));
      await peer.ack('again', 3000);
      assert.equal(peer.closed, false);
      more.forEach((s) => s.destroy());
      peer.destroy();
    } finally {
      idle.forEach((s) => s.destroy());
      await server.close({ graceMs: 0 });
    }
  });

  test('max-connections-per-peer: one address cannot take every slot; other addresses still get in', async () => {
    const { server, port } = await start({ maxConnections: 100, maxConnectionsPerPeer: 3 });
    const before = rejected('max-connections-per-peer');
    const mine = await flood(port, 3);
    try {
      const [extra] = await flood(port, 1);
      await until(() => extra!.destroyed || extra!.readyState === 'closed', 3000, 'the 4th connection of 127.0.0.2 closed');
      assert.equal(rejected('max-connections-per-peer'), before + 1);
      const peer = await ForwardClient.connect(port);
      peer.write(good('ok'));
      await peer.ack('ok', 3000);
      peer.destroy();
    } finally {
      mine.forEach((s) => s.destroy());
      await server.close({ graceMs: 0 });
    }
  });

  test('TLS: handshakes that time out free their slots (no CLOSE-WAIT leak), a valid TLS peer is served during and after', { skip: !certs && 'openssl not available' }, async () => {
    const { server, port } = await start({ tls: { cert: certs!.cert, key: certs!.key }, maxConnections: 20, handshakeTimeout: 300 });
    const before = rejected('tls');
    const stalled = await flood(port, 20);
    try {
      await until(() => server.slotCount === 20, 3000, '20 slots taken');
      // during: every slot is held by a stalled handshake, the valid peer evicts one
      const peer = await ForwardClient.connect(port, { tls: { ca: certs!.ca } });
      peer.write(good('tls-during'));
      await peer.ack('tls-during', 3000);
      peer.destroy();
      // after: the handshake timeout closed them all and gave their slots back
      await until(() => stalled.every((s) => s.readyState === 'closed' || s.destroyed || s.readableEnded), 5000, 'stalled sockets closed by kontext');
      await until(() => server.slotCount === 0, 3000, 'every slot free');
      assert.ok(rejected('tls') + rejected('evicted') > before);
      const again = await ForwardClient.connect(port, { tls: { ca: certs!.ca } });
      again.write(good('tls-after'));
      await again.ack('tls-after', 3000);
      again.destroy();
    } finally {
      stalled.forEach((s) => s.destroy());
      await server.close({ graceMs: 0 });
    }
  });

  test('mTLS (--forward-tls-ca): a peer without a client certificate, or with one from another CA, is refused; a signed one is served', { skip: !certs && 'openssl not available' }, async () => {
    const { server, port } = await start({ tls: { cert: certs!.cert, key: certs!.key, ca: certs!.ca } });
    const before = rejected('tls');
    try {
      for (const tlsOpts of [{ ca: certs!.ca }, { ca: certs!.ca, cert: certs!.otherCert, key: certs!.otherKey }]) {
        let refused = false;
        try {
          const c = await ForwardClient.connect(port, { tls: tlsOpts });
          c.write(good('nope'));
          await c.closedWithin(3000);
          refused = !c.hasAck('nope');
          c.destroy();
        } catch { refused = true; }
        assert.ok(refused, 'refused without a valid client certificate');
      }
      await until(() => rejected('tls') >= before + 2, 3000, 'two TLS rejections counted');
      await until(() => server.slotCount === 0, 3000, 'refused sockets freed their slots');
      const ok = await ForwardClient.connect(port, { tls: { ca: certs!.ca, cert: certs!.clientCert, key: certs!.clientKey } });
      ok.write(good('mtls'));
      await ok.ack('mtls', 3000);
      ok.destroy();
    } finally {
      await server.close({ graceMs: 0 });
    }
  });

  test('shared-key handshake stalls (HELO, never a PING) time out after the handshake timeout and free their slots', async () => {
    const { server, port } = await start({ sharedKey: 'k', maxConnections: 4, handshakeTimeout: 200, idleTimeout: 60_000 });
    const before = rejected('handshake-timeout');
    const stalled = await flood(port, 4);
    try {
      await until(() => rejected('handshake-timeout') >= before + 4, 3000, 'handshake timeouts');
      await until(() => server.slotCount === 0, 3000, 'slots free');
      const peer = await ForwardClient.connect(port, { sharedKey: 'k' });
      peer.write(good('after-stall'));
      await peer.ack('after-stall', 3000);
      peer.destroy();
    } finally {
      stalled.forEach((s) => s.destroy());
      await server.close({ graceMs: 0 });
    }
  });
});
