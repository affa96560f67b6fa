/**
 * Forward input at the byte level: Fluent Bit payload fixtures, the Fluent Bit handshake with
 * a raw (non-UTF-8) salt, every event mode and entry form, bad input of every kind, limits,
 * slowloris, backpressure, and a seeded fuzz of random / truncated / corrupted frames.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { createNormalizer } from '../src/normalize/index.ts';
import { ForwardServer, type ForwardServerOptions } from '../src/sources/forward/index.ts';
import { encodeAck, FrameScanner } from '../src/sources/forward/msgpack.ts';
import { EventTime, extensionCodec } from '../src/sources/forward/protocol.ts';
import { ingestRejected } from '../src/sources/metrics.ts';
import { buildFixtures, DIR, fluentBitPing, readAuditLog, TAG, type FixtureSpec } from './fixtures/fluent-bit/make-fixtures.ts';
import { auditEvent, quietLogs, sleep, TestDownstream, until } from './sources-helpers.ts';
import { prng } from '../src/util/prng.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
before(async () => { logs = await quietLogs(); });
after(() => logs.restore());

const KEY = 'fixture-shared-key';

/** A forward peer speaking raw bytes. */
class RawPeer {
  private buf = Buffer.alloc(0);
  private readonly scanner = new FrameScanner();
  readonly frames: unknown[] = [];
  readonly rawFrames: Buffer[] = [];
  closed = false;
  readonly done: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const n = this.scanner.scan(this.buf, 0, this.buf.length);
        if (!n) break;
        const f = this.buf.subarray(0, n);
        this.rawFrames.push(Buffer.from(f));
        this.frames.push(decode(f, { extensionCodec }));
        this.buf = this.buf.subarray(n);
      }
    });
    socket.on('error', () => {});
    this.done = new Promise((r) => socket.on('close', () => { this.closed = true; r(); }));
  }

  static connect(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  write(b: Uint8Array): void { if (!this.socket.destroyed) this.socket.write(b); }

  async frame(i: number, timeoutMs = 3000): Promise<unknown> {
    await until(() => this.frames.length > i || this.closed, timeoutMs, `frame ${i}`);
    if (this.frames.length <= i) throw new Error(`connection closed before frame ${i}`);
    return this.frames[i];
  }

  async closedWithin(ms = 3000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error('connection not closed')), ms); });
    try { await Promise.race([this.done, timeout]); } finally { clearTimeout(t); }
  }

  destroy(): void { this.socket.destroy(); }
}

async function startServer(ds: TestDownstream, opts: ForwardServerOptions = {}): Promise<{ server: ForwardServer; port: number }> {
  const server = new ForwardServer(ds, { host: '127.0.0.1', port: 0, hostname: 'kontext-test', idleTimeout: 5000, ...opts });
  const { port } = await server.listen();
  return { server, port };
}

const pack = (v: unknown): Buffer => { const u = encode(v, { extensionCodec }); return Buffer.from(u.buffer, u.byteOffset, u.byteLength); };
const manifest = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8')) as FixtureSpec[];
const rejectedCount = (reason: string) => ingestRejected.get({ source: 'forward', reason });

describe('Fluent Bit payload fixtures', () => {
  test('the committed fixtures are what the generator builds (uncompressed ones byte for byte)', () => {
    for (const f of buildFixtures()) {
      const committed = readFileSync(path.join(DIR, f.spec.file));
      if (f.spec.mode === 'CompressedPackedForward') assert.equal(committed.subarray(0, 16).toString('hex'), f.bytes.subarray(0, 16).toString('hex'), f.spec.file);
      else assert.ok(committed.equals(f.bytes), `${f.spec.file} differs from the generator`);
    }
  });

  for (const spec of manifest) {
    test(`${spec.file}: records delivered${spec.chunk ? ', ack echoes the chunk id' : ''}`, async () => {
      const ds = new TestDownstream('immediate');
      const { server, port } = await startServer(ds);
      const peer = await RawPeer.connect(port);
      try {
        peer.write(readFileSync(path.join(DIR, spec.file)));
        await ds.waitForRecords(spec.auditIDs.length);
        if (spec.chunk) {
          await peer.frame(0);
          assert.deepEqual(peer.frames[0], { ack: spec.chunk });
          assert.ok(peer.rawFrames[0]!.equals(encodeAck({ kind: 'str', bytes: Buffer.from(spec.chunk) })));
        }
        assert.equal(ds.units.length, 1);
        const records = ds.records as Record<string, unknown>[];
        assert.equal(records.length, spec.auditIDs.length, 'group markers are not records');
        // normalize finds the events in every form and keeps the final stage
        const n = createNormalizer({ lateness: 0 });
        n.push(records);
        const out = n.drain(true);
        assert.deepEqual(out.map((e) => `${e.audit.auditID} ${e.audit.stage}`), [
          `${spec.auditIDs[1]} ResponseComplete`, `${spec.auditIDs[2]} ResponseComplete`,
        ]);
        if (spec.wrapped) assert.equal(typeof records[0]!.log, 'string');
        else assert.deepEqual(records, readAuditLog().map((l) => l.record));
      } finally {
        peer.destroy();
        await server.close({ graceMs: 0 });
      }
    });
  }

  test('a chunk sent twice (retry after a lost ack) is acked twice; normalize drops the copy', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    try {
      const bytes = readFileSync(path.join(DIR, 'fb4-forward-ack.bin'));
      peer.write(bytes);
      peer.write(bytes);
      await peer.frame(1);
      const n = createNormalizer({ lateness: 0 });
      for (const u of ds.units) n.push(u.records);
      assert.equal(n.drain(true).length, 2);
      assert.equal(n.stats().duplicates, 3);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });
});

describe('shared-key handshake as Fluent Bit does it', () => {
  const salt = Buffer.from([0xff, 0xfe, 0x80, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0x01]);

  test('HELO, PING with a raw non-UTF-8 salt in a str, PONG with the server digest, then data and ack', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { sharedKey: KEY });
    const peer = await RawPeer.connect(port);
    try {
      const helo = await peer.frame(0) as [string, { nonce: Uint8Array; auth: unknown; keepalive: boolean }];
      assert.equal(helo[0], 'HELO');
      assert.ok(helo[1].nonce instanceof Uint8Array && helo[1].nonce.length === 16, 'nonce is 16 bytes of bin');
      assert.equal(helo[1].auth, '');
      assert.equal(helo[1].keepalive, true);
      peer.write(fluentBitPing({ hostname: 'fluent-bit-node-1', salt, nonce: helo[1].nonce, sharedKey: KEY }));
      const pong = await peer.frame(1) as [string, boolean, string, string, string];
      assert.deepEqual(pong.slice(0, 4), ['PONG', true, '', 'kontext-test']);
      const expected = createHash('sha512').update(salt).update('kontext-test').update(helo[1].nonce).update(KEY).digest('hex');
      assert.equal(pong[4], expected);
      peer.write(readFileSync(path.join(DIR, 'fb4-forward-ack-gzip.bin')));
      assert.deepEqual(await peer.frame(2), { ack: manifest.find((m) => m.file === 'fb4-forward-ack-gzip.bin')!.chunk });
      assert.equal(ds.records.length, 3);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('user/password: HELO carries an auth salt (bin), PING with the password digest passes', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { sharedKey: KEY, users: 'fluentbit:pa:ss' });
    const peer = await RawPeer.connect(port);
    try {
      const helo = await peer.frame(0) as [string, { nonce: Uint8Array; auth: Uint8Array }];
      assert.ok(helo[1].auth instanceof Uint8Array && helo[1].auth.length === 16);
      peer.write(fluentBitPing({ hostname: 'fb', salt, nonce: helo[1].nonce, sharedKey: KEY, username: 'fluentbit', password: 'pa:ss', authSalt: helo[1].auth }));
      const pong = await peer.frame(1) as unknown[];
      assert.equal(pong[1], true);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  const failures: { name: string; ping: (nonce: Uint8Array, auth: Uint8Array) => Buffer; reason: RegExp; users?: string }[] = [
    { name: 'wrong shared key', ping: (nonce) => fluentBitPing({ hostname: 'fb', salt, nonce, sharedKey: 'other-key' }), reason: /shared_key mismatch/ },
    { name: 'digest over a different nonce', ping: () => fluentBitPing({ hostname: 'fb', salt, nonce: Buffer.alloc(16), sharedKey: KEY }), reason: /shared_key mismatch/ },
    { name: 'same hostname as the server', ping: (nonce) => fluentBitPing({ hostname: 'kontext-test', salt, nonce, sharedKey: KEY }), reason: /same hostname/ },
    { name: 'unknown user', users: 'a:b', ping: (nonce, auth) => fluentBitPing({ hostname: 'fb', salt, nonce, sharedKey: KEY, username: 'mallory', password: 'b', authSalt: auth }), reason: /username\/password mismatch/ },
    { name: 'wrong password', users: 'a:b', ping: (nonce, auth) => fluentBitPing({ hostname: 'fb', salt, nonce, sharedKey: KEY, username: 'a', password: 'c', authSalt: auth }), reason: /username\/password mismatch/ },
    { name: 'no credentials when users are required', users: 'a:b', ping: (nonce) => fluentBitPing({ hostname: 'fb', salt, nonce, sharedKey: KEY }), reason: /username\/password mismatch/ },
  ];
  for (const f of failures) {
    test(`refused: ${f.name} → PONG false with the reason, connection closed`, async () => {
      const ds = new TestDownstream('immediate');
      const { server, port } = await startServer(ds, { sharedKey: KEY, users: f.users });
      const peer = await RawPeer.connect(port);
      const before = rejectedCount('auth-failed');
      try {
        const helo = await peer.frame(0) as [string, { nonce: Uint8Array; auth: Uint8Array }];
        peer.write(f.ping(helo[1].nonce, helo[1].auth));
        const pong = await peer.frame(1) as unknown[];
        assert.equal(pong[0], 'PONG');
        assert.equal(pong[1], false);
        assert.match(String(pong[2]), f.reason);
        await peer.closedWithin();
        assert.equal(rejectedCount('auth-failed'), before + 1);
        // the connection is gone: data after a failed handshake is never delivered
        assert.equal(ds.records.length, 0);
      } finally {
        peer.destroy();
        await server.close({ graceMs: 0 });
      }
    });
  }

  test('refused: events before the handshake (no PING) close the connection', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { sharedKey: KEY });
    const peer = await RawPeer.connect(port);
    try {
      await peer.frame(0);
      peer.write(readFileSync(path.join(DIR, 'fb4-forward-ack.bin')));
      await peer.closedWithin();
      assert.equal(peer.frames.length, 1, 'no PONG, no ack');
      assert.equal(ds.records.length, 0);
      assert.ok(logs.find(/expected PING/));
    } finally {
      await server.close({ graceMs: 0 });
    }
  });

  test('refused: no PING within the idle timeout', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { sharedKey: KEY, idleTimeout: 150 });
    const peer = await RawPeer.connect(port);
    try {
      await peer.closedWithin(2000);
      assert.ok(logs.find(/no PING within/));
    } finally {
      await server.close({ graceMs: 0 });
    }
  });
});

describe('event modes and entry forms', () => {
  const ev = () => auditEvent() as unknown as Record<string, unknown>;

  test('Message mode with EventTime, integer and float time; option chunk as bin is echoed as bin', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    try {
      const a = ev(); const b = ev(); const c = ev();
      peer.write(pack([TAG, new EventTime(1767261600, 5), a]));
      peer.write(pack([TAG, 1767261600, b, { chunk: 'c-1' }]));
      peer.write(pack([TAG, 1767261600.25, c, { chunk: Buffer.from([1, 2, 3]) }]));
      await peer.frame(1);
      assert.deepEqual(peer.frames[0], { ack: 'c-1' });
      assert.deepEqual(Buffer.from((peer.frames[1] as { ack: Uint8Array }).ack), Buffer.from([1, 2, 3]));
      assert.equal(peer.rawFrames[1]![5], 0xc4, 'bin');
      assert.deepEqual(ds.records, [a, b, c]);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('Forward mode with [[time, metadata], record] entries and group markers (int and EventTime)', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    try {
      const a = ev(); const b = ev();
      peer.write(pack([TAG, [
        [[-1, { g: 1 }], { attrs: true }],
        [[new EventTime(1767261600, 0), {}], a],
        [[new EventTime(0xfffffffe, 0), {}], {}],
        [[new EventTime(0xffffffff, 0), {}], {}],
        [[1767261601, { k: 'v' }], b],
        [[-2, {}], {}],
      ], { chunk: 'fw', size: 6 }]));
      await peer.frame(0);
      assert.deepEqual(peer.frames[0], { ack: 'fw' });
      assert.deepEqual(ds.records, [a, b]);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('PackedForward entries sent as a str (older Fluentd), and compressed "text"', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    try {
      const a = ev(); const b = ev();
      const entries = Buffer.concat([pack([1767261600, a]), pack([new EventTime(1767261600, 1), b])]);
      const asStr = Buffer.concat([Buffer.from([0x93]), pack(TAG), Buffer.from([0xdb]), Buffer.alloc(4), entries, pack({ chunk: 's', compressed: 'text' })]);
      asStr.writeUInt32BE(entries.length, 1 + pack(TAG).length + 1);
      peer.write(asStr);
      await peer.frame(0);
      assert.deepEqual(ds.records, [a, b]);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('bin values in records (Fluentd in_tail without a parser) stay intact after the connection buffer is reused', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    try {
      const line = JSON.stringify(auditEvent());
      peer.write(pack([TAG, 1, { message: Buffer.from(line) }, { chunk: 'a' }]));
      await peer.frame(0);
      for (let i = 1; i <= 40; i++) { // one at a time: each lands in the same reused buffer
        peer.write(pack([TAG, 1, { message: Buffer.alloc(line.length, 0x41) }, { chunk: `b${i}` }]));
        await peer.frame(i);
      }
      assert.equal(Buffer.from((ds.records[0] as { message: Uint8Array }).message).toString(), line);
      const n = createNormalizer({ lateness: 0 });
      n.push([ds.records[0]]);
      assert.equal(n.drain(true).length, 1);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('a chunk with only group markers is acked at once', async () => {
    const ds = new TestDownstream('manual');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    try {
      peer.write(pack([TAG, [[[-1, {}], {}], [[-2, {}], {}]], { chunk: 'empty' }]));
      assert.deepEqual(await peer.frame(0), { ack: 'empty' });
      assert.equal(ds.units.length, 0);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('acks follow settlement, not arrival order; a failed chunk closes without ack', async () => {
    const ds = new TestDownstream('manual');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    try {
      peer.write(pack([TAG, 1, ev(), { chunk: 'one' }]));
      peer.write(pack([TAG, 1, ev(), { chunk: 'two' }]));
      await ds.waitForRecords(2);
      await sleep(50);
      assert.equal(peer.frames.length, 0);
      ds.units[1]!.receipt!.settle();
      assert.deepEqual(await peer.frame(0), { ack: 'two' });
      ds.units[0]!.receipt!.fail(new Error('bulk rejected'));
      await peer.closedWithin();
      assert.equal(peer.frames.length, 1, 'no ack for the failed chunk');
    } finally {
      await server.close({ graceMs: 0 });
    }
  });
});

describe('bad input closes only the offending connection', () => {
  const good = () => pack([TAG, 1767261600, auditEvent(), { chunk: 'ok' }]);
  const gz = (b: Buffer) => zlib.gzipSync(b);

  const cases: { name: string; bytes: () => Buffer; reason: string; opts?: ForwardServerOptions }[] = [
    { name: 'never-used msgpack byte 0xc1', bytes: () => Buffer.from([0x93, 0xc1]), reason: 'malformed-msgpack' },
    { name: 'not an array', bytes: () => pack({ hello: 'world' }), reason: 'invalid-message' },
    { name: 'tag is a number', bytes: () => pack([42, 1, {}]), reason: 'invalid-message' },
    { name: 'record is a string', bytes: () => pack([TAG, 1, 'hello']), reason: 'invalid-message' },
    { name: 'record is an array', bytes: () => pack([TAG, [[1, [1, 2]]]]), reason: 'invalid-message' },
    { name: 'time is a string', bytes: () => pack([TAG, [['yesterday', {}]]]), reason: 'invalid-message' },
    { name: 'entry with three elements', bytes: () => pack([TAG, [[1, {}, {}]]]), reason: 'invalid-message' },
    { name: 'option is a string', bytes: () => pack([TAG, 1, {}, 'opt']), reason: 'invalid-message' },
    { name: 'chunk is a number', bytes: () => pack([TAG, 1, {}, { chunk: 7 }]), reason: 'invalid-message' },
    { name: 'EventTime of 4 bytes', bytes: () => Buffer.concat([Buffer.from([0x93]), pack(TAG), Buffer.from([0xd6, 0x00, 0, 0, 0, 1]), pack({})]), reason: 'invalid-message' },
    { name: 'unsupported compression', bytes: () => pack([TAG, Buffer.from('x'), { compressed: 'zstd' }]), reason: 'unsupported-compression' },
    { name: 'compressed entries that are not gzip', bytes: () => pack([TAG, Buffer.from('not gzip at all'), { compressed: 'gzip' }]), reason: 'decompress-failed' },
    { name: 'packed entries truncated', bytes: () => pack([TAG, pack([1, { a: 1 }]).subarray(0, 5)]), reason: 'malformed-msgpack' },
    { name: '__proto__ key in a record', bytes: () => Buffer.concat([Buffer.from([0x93]), pack(TAG), pack(1), Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x01])]), reason: 'malformed-msgpack' },
    { name: 'nesting deeper than the limit', bytes: () => Buffer.concat([Buffer.from([0x93]), pack(TAG), pack(1), Buffer.alloc(100, 0x91), Buffer.from([0x80])]), reason: 'too-deep', opts: { maxDepth: 32 } },
    { name: 'declared size over the limit (rejected before the bytes arrive)', bytes: () => Buffer.from([0x93, 0xa1, 0x74, 0xc6, 0x10, 0, 0, 0]), reason: 'oversized', opts: { maxMessageBytes: 4096 } },
    { name: 'array count over the limit', bytes: () => Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff]), reason: 'oversized', opts: { maxMessageBytes: 4096 } },
    { name: 'message over the limit', bytes: () => pack([TAG, 1, { big: 'x'.repeat(10_000) }]), reason: 'oversized', opts: { maxMessageBytes: 4096 } },
    { name: 'gzip bomb of tiny entries over the inflated limit', bytes: () => pack([TAG, gz(Buffer.alloc(1_200_000, pack([1, {}]))), { compressed: 'gzip' }]), reason: 'oversized', opts: { maxDecompressedBytes: 1_000_000, maxMessageEntries: 10_000_000 } },
    { name: 'gzip bomb over the decompression ratio', bytes: () => pack([TAG, gz(Buffer.alloc(3_000_000, pack([1, {}]))), { compressed: 'gzip' }]), reason: 'decompression-ratio', opts: { maxDecompressionRatio: 20, maxMessageEntries: 10_000_000 } },
    { name: 'gzip bomb of more tiny entries than a message may hold', bytes: () => pack([TAG, gz(Buffer.alloc(300_000, pack([1, {}]))), { compressed: 'gzip' }]), reason: 'too-many-entries', opts: { maxMessageEntries: 50_000 } },
    { name: 'gzip bomb of zeros (not entries)', bytes: () => pack([TAG, gz(Buffer.alloc(5_000_000)), { compressed: 'gzip' }]), reason: 'invalid-message' },
  ];

  for (const c of cases) {
    test(`${c.name}: logged, counted (${c.reason}), connection closed, others unaffected`, async () => {
      const ds = new TestDownstream('immediate');
      const { server, port } = await startServer(ds, c.opts);
      const bystander = await RawPeer.connect(port);
      const bad = await RawPeer.connect(port);
      const before = rejectedCount(c.reason);
      const logCount = logs.lines.length;
      try {
        bad.write(c.bytes());
        await bad.closedWithin();
        assert.equal(rejectedCount(c.reason), before + 1, `metric reason ${c.reason}`);
        const line = logs.lines.slice(logCount).find((l) => l.reason === c.reason);
        assert.ok(line, 'a log line names the reason');
        assert.equal(line.level, 'warn');
        assert.match(String(line.msg), /closing connection/);
        bystander.write(good());
        assert.deepEqual(await bystander.frame(0), { ack: 'ok' });
        assert.equal(bystander.closed, false);
      } finally {
        bystander.destroy(); bad.destroy();
        await server.close({ graceMs: 0 });
      }
    });
  }

  test('connection ending in the middle of a message: counted as truncated', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    const before = rejectedCount('truncated');
    try {
      peer.socket.end(good().subarray(0, 20));
      await peer.closedWithin();
      assert.equal(rejectedCount('truncated'), before + 1);
    } finally {
      await server.close({ graceMs: 0 });
    }
  });

  test('server-wide budget for partial messages: the connection that would exceed it is refused', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { maxMessageBytes: 8000, maxBufferedBytes: 10_000 });
    const a = await RawPeer.connect(port);
    const b = await RawPeer.connect(port);
    const before = rejectedCount('buffer-full');
    try {
      const frame = pack([TAG, 1, { ...auditEvent(), pad: 'z'.repeat(5500) }, { chunk: 'big' }]);
      a.write(frame.subarray(0, 6000));
      await sleep(50);
      b.write(frame.subarray(0, 6000));
      await b.closedWithin();
      assert.equal(rejectedCount('buffer-full'), before + 1);
      a.write(frame.subarray(6000));
      assert.deepEqual(await a.frame(0), { ack: 'big' });
      assert.equal(server.bufferedTotal, 0);
    } finally {
      a.destroy(); b.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('max connections: with every slot held by a peer that sent a valid message, the extra connection is refused with a log line', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { maxConnections: 2 });
    const a = await RawPeer.connect(port);
    const b = await RawPeer.connect(port);
    a.write(good()); b.write(good());
    assert.deepEqual(await a.frame(0), { ack: 'ok' });
    assert.deepEqual(await b.frame(0), { ack: 'ok' });
    const before = rejectedCount('max-connections');
    try {
      const c = await RawPeer.connect(port);
      await c.closedWithin();
      assert.equal(rejectedCount('max-connections'), before + 1);
      a.write(good());
      assert.deepEqual(await a.frame(1), { ack: 'ok' });
    } finally {
      a.destroy(); b.destroy();
      await server.close({ graceMs: 0 });
    }
  });
});

describe('timeouts', () => {
  test('slowloris: a message trickling in byte by byte is cut off after the idle timeout', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { idleTimeout: 200 });
    const peer = await RawPeer.connect(port);
    const before = rejectedCount('slow-frame');
    const bytes = pack([TAG, 1, { pad: 'x'.repeat(200) }]);
    const started = Date.now();
    try {
      for (let i = 0; i < bytes.length && !peer.closed; i++) {
        peer.write(bytes.subarray(i, i + 1));
        await sleep(20);
      }
      assert.ok(peer.closed, 'closed while still sending');
      assert.ok(Date.now() - started < 1500);
      assert.equal(rejectedCount('slow-frame'), before + 1);
      assert.equal(ds.records.length, 0);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('idle connections close after the idle timeout, but not while a chunk awaits its ack', async () => {
    const ds = new TestDownstream('manual');
    const { server, port } = await startServer(ds, { idleTimeout: 150 });
    const idle = await RawPeer.connect(port);
    const waiting = await RawPeer.connect(port);
    try {
      waiting.write(pack([TAG, 1, auditEvent(), { chunk: 'slow-es' }]));
      await idle.closedWithin(2000);
      await sleep(300);
      assert.equal(waiting.closed, false, 'kept open while its chunk is pending');
      ds.settleAll();
      assert.deepEqual(await waiting.frame(0), { ack: 'slow-es' });
      await waiting.closedWithin(2000);
    } finally {
      idle.destroy(); waiting.destroy();
      await server.close({ graceMs: 0 });
    }
  });
});

describe('backpressure', () => {
  test('reading stops while the downstream is saturated and resumes on drain', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { idleTimeout: 200 });
    const peer = await RawPeer.connect(port);
    try {
      ds.saturated = true;
      const frames = Array.from({ length: 5 }, (_, i) => pack([TAG, 1, auditEvent(), { chunk: `c${i}` }]));
      peer.write(Buffer.concat(frames));
      await ds.waitForRecords(1);
      await sleep(400); // longer than the idle timeout: a paused connection is not the peer's fault
      assert.equal(ds.records.length, 1, 'only the message that saturated it was handed over');
      assert.equal(ds.drainWaiters, 1);
      assert.equal(peer.closed, false);
      ds.saturated = false;
      await ds.waitForRecords(5);
      await peer.frame(4);
      assert.deepEqual(peer.frames.map((f) => (f as { ack: string }).ack), ['c0', 'c1', 'c2', 'c3', 'c4']);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });

  test('while paused the server does not buffer what the peer keeps sending', async () => {
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds);
    const peer = await RawPeer.connect(port);
    try {
      ds.saturated = true;
      const one = pack([TAG, 1, { pad: 'y'.repeat(1000) }]);
      peer.write(one);
      await ds.waitForRecords(1);
      const big = Buffer.concat(Array.from({ length: 8000 }, () => one)); // ~8 MB
      peer.write(big);
      await sleep(300);
      const conns = (server as unknown as { conns: Set<{ buffered: number }> }).conns;
      const buffered = [...conns].reduce((n, c) => n + c.buffered, 0);
      assert.ok(buffered < 1024 * 1024, `server buffered ${buffered} bytes while paused`);
      assert.ok(peer.socket.writableLength > 1024 * 1024, 'the rest waits at the sender');
      ds.saturated = false;
      await ds.waitForRecords(8001, 10_000);
    } finally {
      peer.destroy();
      await server.close({ graceMs: 0 });
    }
  });
});

describe('fuzz', () => {

  test('random, truncated and corrupted frames never crash the server; a good peer keeps working', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20260101);
    const rnd = prng(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    const fixtures = manifest.map((m) => readFileSync(path.join(DIR, m.file)));
    const valid = (): Buffer => {
      const e = auditEvent() as unknown as Record<string, unknown>;
      switch (int(6)) {
        case 0: return pack([TAG, int(2) ? new EventTime(1767261600, int(1e9)) : 1767261600, e, { chunk: `f${int(1e6)}` }]);
        case 1: return pack([TAG, [[1767261600, e], [[1767261600, {}], e]], { chunk: 'x', size: 2 }]);
        case 2: return pack([TAG, pack([1, e]), { chunk: 'y' }]);
        case 3: return pack([TAG, zlib.gzipSync(pack([1, e])), { compressed: 'gzip', chunk: 'z' }]);
        default: return fixtures[int(fixtures.length)]!;
      }
    };
    const mutate = (b: Buffer): Buffer => {
      const out = Buffer.from(b);
      switch (int(5)) {
        case 0: return out.subarray(0, int(out.length)); // truncated
        case 1: { for (let i = 0, n = 1 + int(8); i < n; i++) out[int(out.length)] = int(256); return out; } // bit rot
        case 2: return Buffer.from(Array.from({ length: 1 + int(300) }, () => int(256))); // garbage
        case 3: return Buffer.concat([out.subarray(0, int(out.length)), valid().subarray(int(40))]); // spliced
        default: { const i = int(out.length); return Buffer.concat([out.subarray(0, i), Buffer.from([int(256)]), out.subarray(i)]); } // inserted byte
      }
    };
    const ds = new TestDownstream('immediate');
    const { server, port } = await startServer(ds, { maxMessageBytes: 256 * 1024, maxDecompressedBytes: 1024 * 1024, idleTimeout: 1000 });
    const good = await RawPeer.connect(port);
    let goodAcks = 0;
    try {
      const rounds = Number(process.env.FUZZ_ROUNDS ?? 15);
      for (let round = 0; round < rounds; round++) {
        const peers = await Promise.all(Array.from({ length: 20 }, () => RawPeer.connect(port)));
        for (const p of peers) {
          const frames = Array.from({ length: 1 + int(3) }, () => (int(3) ? mutate(valid()) : valid()));
          // split writes at random points, then half-close: the server must finish or refuse, never hang
          const all = Buffer.concat(frames);
          const cut = int(all.length + 1);
          p.write(all.subarray(0, cut));
          p.socket.end(all.subarray(cut));
        }
        await Promise.all(peers.map((p) => p.closedWithin(5000)));
        good.write(pack([TAG, 1767261600, auditEvent(), { chunk: `good-${round}` }]));
        await good.frame(goodAcks);
        assert.deepEqual(good.frames[goodAcks], { ack: `good-${round}` }, `seed ${seed}, round ${round}`);
        goodAcks++;
      }
      for (const r of ds.records) assert.equal(typeof r, 'object', `seed ${seed}: only maps reach the pipeline`);
      await until(() => server.connectionCount === 1, 2000, 'fuzz connections closed');
      assert.equal(server.bufferedTotal, 0, 'no bytes left accounted to closed connections');
    } finally {
      good.destroy();
      await server.close({ graceMs: 0 });
    }
  });
});
