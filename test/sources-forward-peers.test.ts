/**
 * Forward input against real forward clients: @fluent-org/logger (Message, Forward,
 * PackedForward, CompressedPackedForward; ack; shared key + user auth; TLS) and fluent-logger
 * (Message, PackedForward, CompressedPackedForward; ack; shared key + user auth; TLS).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventTime, FluentClient, type EventModes, type FluentClientOptions } from '@fluent-org/logger';
import fluentLogger from 'fluent-logger';
import { ForwardServer, type ForwardServerOptions } from '../src/sources/forward/index.ts';
import { auditEvent, quietLogs, selfSignedCert, sleep, TestDownstream, until } from './sources-helpers.ts';

const SHARED_KEY = 'kontext-test-shared-key';
const tlsCert = selfSignedCert();

let logs: Awaited<ReturnType<typeof quietLogs>>;
before(async () => { logs = await quietLogs(); });
after(() => logs.restore());

async function startServer(ds: TestDownstream, opts: ForwardServerOptions = {}): Promise<{ server: ForwardServer; port: number }> {
  const server = new ForwardServer(ds, { host: '127.0.0.1', port: 0, hostname: 'kontext-test', idleTimeout: 10_000, ...opts });
  const { port } = await server.listen();
  return { server, port };
}

function orgClient(port: number, opts: FluentClientOptions = {}): FluentClient {
  return new FluentClient('kontext', {
    socket: { host: '127.0.0.1', port, timeout: -1, reconnect: { delay: 20, minDelay: 20, maxDelay: 100, backoff: 1 } },
    ack: { ackTimeout: 3000 },
    ...opts,
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`${what} timed out`)), ms); })]).finally(() => clearTimeout(t));
}

describe('forward input with @fluent-org/logger', () => {
  const modes: EventModes[] = ['Message', 'Forward', 'PackedForward', 'CompressedPackedForward'];
  for (const eventMode of modes) {
    test(`${eventMode} mode with ack: every record arrives, every emit is acked`, async () => {
      const ds = new TestDownstream('immediate');
      const { server, port } = await startServer(ds);
      const client = orgClient(port, { eventMode });
      try {
        const events = [auditEvent(), auditEvent({ verb: 'delete' }), auditEvent({ stage: 'RequestReceived' })];
        await withTimeout(Promise.all([
          client.emit('audit', events[0] as unknown as Record<string, unknown>, new EventTime(1767261600, 123456789)),
          client.emit('audit', events[1] as unknown as Record<string, unknown>, 1767261600),
          client.emit('audit', events[2] as unknown as Record<string, unknown>),
        ]), 5000, 'acks');
        assert.deepEqual(ds.records, events);
      } finally {
        await client.shutdown();
        await server.close({ graceMs: 100 });
      }
    });
  }

  test('shared key and user/password handshake (PackedForward, ack)', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { sharedKey: SHARED_KEY, users: 'fluent:s3cret,other:x' });
    const client = orgClient(port, { eventMode: 'PackedForward', security: { clientHostname: 'peer.test', sharedKey: SHARED_KEY, username: 'fluent', password: 's3cret' } });
    try {
      const ev = auditEvent();
      await withTimeout(client.emit('audit', ev as unknown as Record<string, unknown>), 5000, 'ack');
      assert.deepEqual(ds.records, [ev]);
    } finally {
      await client.shutdown();
      await server.close({ graceMs: 100 });
    }
  });

  test('TLS with shared key (CompressedPackedForward, ack)', { skip: tlsCert ? false : 'openssl not available' }, async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { sharedKey: SHARED_KEY, tls: tlsCert! });
    const client = orgClient(port, {
      eventMode: 'CompressedPackedForward',
      security: { clientHostname: 'peer.test', sharedKey: SHARED_KEY },
      socket: { host: '127.0.0.1', port, timeout: -1, tls: { ca: tlsCert!.cert, servername: 'localhost' } },
    });
    try {
      const evs = [auditEvent(), auditEvent()];
      await withTimeout(Promise.all(evs.map((e) => client.emit('audit', e as unknown as Record<string, unknown>))), 5000, 'acks');
      assert.deepEqual(ds.records, evs);
    } finally {
      await client.shutdown();
      await server.close({ graceMs: 100 });
    }
  });

  test('the ack waits until the downstream settled the chunk', async () => {
    const ds = new TestDownstream('manual');
    const { server, port } = await startServer(ds);
    const client = orgClient(port, { eventMode: 'Forward' });
    try {
      let acked = false;
      const p = client.emit('audit', auditEvent() as unknown as Record<string, unknown>).then(() => { acked = true; });
      await ds.waitForRecords(1);
      await sleep(150);
      assert.equal(acked, false, 'acked before the records were settled');
      ds.settleAll();
      await withTimeout(p, 3000, 'ack');
      assert.equal(acked, true);
    } finally {
      await client.shutdown();
      await server.close({ graceMs: 100 });
    }
  });

  test('a failed chunk is never acked: the connection closes and the client re-sends it', async () => {
    const ds = new TestDownstream('fail');
    const { server, port } = await startServer(ds);
    const client = orgClient(port, {
      eventMode: 'PackedForward',
      ack: { ackTimeout: 300 },
      eventRetry: { attempts: 10, delay: 30, minDelay: 30, maxDelay: 100, backoff: 1 },
    });
    try {
      const ev = auditEvent();
      const p = client.emit('audit', ev as unknown as Record<string, unknown>);
      await ds.waitForRecords(1);
      ds.mode = 'immediate'; // Elasticsearch is back
      await withTimeout(p, 8000, 'retried ack');
      assert.ok(ds.units.length >= 2, 'the chunk was sent again');
      assert.deepEqual(ds.units.at(-1)!.records, [ev]);
      assert.ok(logs.find(/could not store a forward chunk/), 'failure logged');
    } finally {
      await client.shutdown();
      await server.close({ graceMs: 100 });
    }
  });

  test('wrong shared key: PONG false, connection closed, nothing delivered', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { sharedKey: SHARED_KEY });
    const errors: Error[] = [];
    const client = orgClient(port, {
      eventMode: 'Message',
      security: { clientHostname: 'peer.test', sharedKey: 'wrong-key' },
      socket: { host: '127.0.0.1', port, timeout: -1, disableReconnect: true },
      onSocketError: (e: Error) => errors.push(e),
    } as FluentClientOptions);
    try {
      await client.connect().catch(() => {});
      await until(() => errors.length > 0 || logs.find(/handshake failed/) !== undefined, 3000, 'handshake failure');
      assert.ok(logs.find(/handshake failed/));
      assert.equal(ds.records.length, 0);
    } finally {
      await client.shutdown().catch(() => {});
      await server.close({ graceMs: 100 });
    }
  });
});

type Sender = ReturnType<typeof fluentLogger.createFluentSender>;

function flSender(port: number, opts: Record<string, unknown>): Sender {
  return fluentLogger.createFluentSender('kontext', {
    host: '127.0.0.1', port, timeout: 3.0, reconnectInterval: 100, requireAckResponse: true, ackResponseTimeout: 3000,
    internalLogger: { info: () => {}, error: () => {} },
    ...opts,
  } as Parameters<typeof fluentLogger.createFluentSender>[1]);
}

function emitP(s: Sender, data: unknown, time?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error) => (err ? reject(err) : resolve());
    if (time === undefined) s.emit('audit', data, cb);
    else s.emit('audit', data, time, cb);
  });
}

/** A kontext forward server and a fluent-logger sender connected to it, both closed afterwards. */
async function withFluentLogger(mode: ConstructorParameters<typeof TestDownstream>[0], serverOpts: ForwardServerOptions, senderOpts: Record<string, unknown>, body: (ds: TestDownstream, s: Sender) => Promise<void>): Promise<void> {
  const ds = new TestDownstream(mode);
  const { server, port } = await startServer(ds, serverOpts);
  const s = flSender(port, senderOpts);
  try {
    await body(ds, s);
  } finally {
    s.end(null as unknown as string, null, () => {});
    await server.close({ graceMs: 100 });
  }
}

describe('forward input with fluent-logger', () => {
  for (const eventMode of ['Message', 'PackedForward', 'CompressedPackedForward']) {
    test(`${eventMode} mode with requireAckResponse`, () => withFluentLogger('immediate', {}, { eventMode, flushInterval: 5 }, async (ds, s) => {
      const evs = [auditEvent(), auditEvent()];
      await withTimeout(emitP(s, evs[0]), 5000, 'ack 1');
      await withTimeout(emitP(s, evs[1], 1767261600), 5000, 'ack 2');
      assert.deepEqual(ds.records, evs);
    }));
  }

  test('shared key with username/password (Message, ack)', () => withFluentLogger('immediate', { sharedKey: SHARED_KEY, users: { fluent: 'pw' } },
    { security: { clientHostname: 'peer.test', sharedKey: SHARED_KEY, username: 'fluent', password: 'pw' } }, async (ds, s) => {
      const ev = auditEvent();
      await withTimeout(emitP(s, ev), 5000, 'ack');
      assert.deepEqual(ds.records, [ev]);
    }));

  test('wrong password: handshake refused, nothing delivered', () => withFluentLogger('immediate', { sharedKey: SHARED_KEY, users: { fluent: 'pw' } },
    { enableReconnect: false, security: { clientHostname: 'peer.test', sharedKey: SHARED_KEY, username: 'fluent', password: 'nope' } }, async (ds, s) => {
      const errors: Error[] = [];
      (s as unknown as NodeJS.EventEmitter).on('error', (e: Error) => errors.push(e));
      s.emit('audit', auditEvent(), () => {});
      await until(() => errors.length > 0, 3000, 'handshake error');
      assert.match(errors[0]!.message, /username\/password mismatch/);
      assert.equal(ds.records.length, 0);
    }));

  test('TLS (PackedForward, ack)', { skip: tlsCert ? false : 'openssl not available' }, () => withFluentLogger('immediate', { tls: tlsCert! },
    { eventMode: 'PackedForward', flushInterval: 5, tls: true, tlsOptions: { ca: tlsCert!.cert, servername: 'localhost' } }, async (ds, s) => {
      const ev = auditEvent();
      await withTimeout(emitP(s, ev), 5000, 'ack');
      assert.deepEqual(ds.records, [ev]);
    }));

  test('a failed chunk gets no ack', () => withFluentLogger('fail', {}, { ackResponseTimeout: 400, enableReconnect: false }, async (ds, s) => {
    (s as unknown as NodeJS.EventEmitter).on('error', () => {});
    await assert.rejects(emitP(s, auditEvent()), /ack response timeout|socket|ECONNRESET|closed/i);
    assert.equal(ds.units.length, 1);
  }));
});

describe('forward input over TLS: bad clients', () => {
  test('a plain-text client on the TLS port is refused and counted', { skip: tlsCert ? false : 'openssl not available' }, async () => {
    const { ingestRejected } = await import('../src/sources/metrics.ts');
    const net = await import('node:net');
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { tls: tlsCert! });
    const before = ingestRejected.get({ source: 'forward', reason: 'tls' });
    try {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.write(Buffer.from([0x93, 0xa1, 0x74, 0x01, 0x80]));
      await new Promise((r) => s.on('close', r));
      await until(() => ingestRejected.get({ source: 'forward', reason: 'tls' }) === before + 1, 2000, 'tls rejection counted');
      assert.equal(ds.records.length, 0);
    } finally {
      await server.close({ graceMs: 0 });
    }
  });
});
