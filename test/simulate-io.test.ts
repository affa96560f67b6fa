import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeMulti, decodeMultiStream, encode } from '@msgpack/msgpack';
import { simulate } from '../src/simulate/index.ts';
import { writeJsonl } from '../src/simulate/sinks.ts';
import { EventTime, ForwardSink, forwardCodec, parseHostPort } from '../src/simulate/forward-sink.ts';
import { parseMicro } from '../src/simulate/time.ts';
import { command, parseMix } from '../src/cli/commands/simulate.ts';
import { parseArgs, UsageError } from '../src/cli/args.ts';
import type { AuditEvent } from '../src/types/audit.ts';

const EVENTS = [...simulate({ seed: 21, durationMs: 45_000 })];
const dir = mkdtempSync(path.join(tmpdir(), 'kontext-sim-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const readLines = (buf: Buffer) => buf.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent);

test('JSONL and gzip output round-trip', async () => {
  const plain = path.join(dir, 'a.jsonl');
  const gz = path.join(dir, 'a.jsonl.gz');
  const r1 = await writeJsonl(EVENTS, plain);
  const r2 = await writeJsonl(EVENTS, gz);
  assert.equal(r1.events, EVENTS.length);
  assert.equal(r2.bytes, r1.bytes);
  assert.deepEqual(readLines(readFileSync(plain)), EVENTS);
  const zipped = readFileSync(gz);
  assert.equal(zipped[0], 0x1f); assert.equal(zipped[1], 0x8b);
  assert.ok(zipped.length < r1.bytes / 4, 'gzip compresses');
  assert.deepEqual(readLines(gunzipSync(zipped)), EVENTS);
});

interface Received { tag: string; time: EventTime; record: AuditEvent }

/**
 * A tiny forward server: optional shared-key handshake, decodes PackedForward chunks, acks
 * them (optionally dropping the first chunk's connection to force a resend).
 */
async function forwardServer(opts: { sharedKey?: string; dropFirst?: boolean; rejectKey?: boolean } = {}) {
  const received: Received[] = [];
  const chunks: string[] = [];
  let dropped = false;
  const server = createServer(async (sock: Socket) => {
    const nonce = randomBytes(16);
    if (opts.sharedKey !== undefined) sock.write(encode(['HELO', { nonce, auth: '', keepalive: true }]));
    let authed = opts.sharedKey === undefined;
    try {
      for await (const msg of decodeMultiStream(sock, { extensionCodec: forwardCodec })) {
        const m = msg as unknown[];
        if (!authed) {
          assert.equal(m[0], 'PING');
          const [, host, salt, digest] = m as [string, string, string, string];
          const key = opts.rejectKey ? 'other-key' : opts.sharedKey!;
          const expect = createHash('sha512').update(salt).update(host).update(nonce).update(key).digest('hex');
          const ok = digest === expect;
          const pong = createHash('sha512').update(salt).update('test-server').update(nonce).update(opts.sharedKey!).digest('hex');
          sock.write(encode(['PONG', ok, ok ? '' : 'shared key mismatch', 'test-server', pong]));
          if (!ok) { sock.end(); return; }
          authed = true;
          continue;
        }
        const [tag, entries, option] = m as [string, Uint8Array, { chunk: string; size: number }];
        assert.ok(entries instanceof Uint8Array, 'PackedForward entries are a bin');
        const decoded = [...decodeMulti(entries, { extensionCodec: forwardCodec })] as [EventTime, AuditEvent][];
        assert.equal(decoded.length, option.size);
        if (opts.dropFirst && !dropped) { dropped = true; sock.destroy(); return; }
        for (const [time, record] of decoded) received.push({ tag, time, record });
        chunks.push(option.chunk);
        sock.write(encode({ ack: option.chunk }));
      }
    } catch { sock.destroy(); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { port, received, chunks, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('forward sink sends acked PackedForward chunks with EventTime', async () => {
  const srv = await forwardServer();
  try {
    const sink = new ForwardSink({ host: '127.0.0.1', port: srv.port, chunkEvents: 200, tag: 'kube.audit' });
    const r = await sink.write(EVENTS);
    sink.close();
    assert.equal(r.events, EVENTS.length);
    assert.equal(r.chunks, Math.ceil(EVENTS.length / 200));
    assert.equal(srv.received.length, EVENTS.length);
    assert.equal(new Set(srv.chunks).size, srv.chunks.length, 'unique chunk ids');
    assert.deepEqual(srv.received.map((x) => x.record), EVENTS);
    for (const x of srv.received.slice(0, 50)) {
      assert.equal(x.tag, 'kube.audit');
      assert.ok(x.time instanceof EventTime);
      assert.equal(x.time.sec * 1e6 + Math.round(x.time.nsec / 1000), parseMicro(x.record.stageTimestamp));
    }
  } finally { await srv.close(); }
});

test('forward sink: shared-key handshake, resend of an unacknowledged chunk, refused key', async () => {
  const srv = await forwardServer({ sharedKey: 's3cret', dropFirst: true });
  try {
    const sink = new ForwardSink({ host: '127.0.0.1', port: srv.port, sharedKey: 's3cret', chunkEvents: 300, ackTimeoutMs: 2000, selfHostname: 'sim-test' });
    await sink.write(EVENTS);
    sink.close();
    assert.deepEqual(srv.received.map((x) => x.record.auditID), EVENTS.map((e) => e.auditID), 'every event delivered once after the resend');
  } finally { await srv.close(); }
  const bad = await forwardServer({ sharedKey: 's3cret', rejectKey: true });
  try {
    const sink = new ForwardSink({ host: '127.0.0.1', port: bad.port, sharedKey: 's3cret', ackTimeoutMs: 1000, retries: 2 });
    await assert.rejects(sink.write(EVENTS.slice(0, 10)), /authentication refused|not acknowledged/);
    sink.close();
  } finally { await bad.close(); }
});

test('CLI: writes a gzip file, validates flags', async () => {
  const out = path.join(dir, 'cli.jsonl.gz');
  const code = await command.run(parseArgs(['--seed', '3', '--duration', '30s', '--rate', '20', '--mix', 'deployment-create=3,pod-exec', '--out', out, '--quiet'], new Set(['list', 'quiet'])));
  assert.equal(code, 0);
  const evs = readLines(gunzipSync(readFileSync(out)));
  assert.ok(evs.length > 50);
  const again = [...simulate({ seed: 3, durationMs: 30_000, actionsPerMinute: 20, mix: { 'deployment-create': 3, 'pod-exec': 1 } })];
  assert.deepEqual(evs, again);
  assert.deepEqual(parseMix('pod-create=2, pod-logs'), { 'pod-create': 2, 'pod-logs': 1 });
  assert.throws(() => parseMix('pod-create=x'), UsageError);
  assert.throws(() => parseMix('bogus=1'), /unknown scenario "bogus"/);
  const run = (argv: string[]) => command.run(parseArgs(argv, new Set(['list', 'quiet'])));
  await assert.rejects(run(['--duration', 'soon']), /--duration/);
  await assert.rejects(run(['--background-share', '1.5']), /--background-share/);
  await assert.rejects(run(['--stages', 'some']), /--stages/);
  await assert.rejects(run(['--users', '0']), /--users/);
  await assert.rejects(run(['--out', 'a', '--forward', 'b:1']), /exclusive/);
  await assert.rejects(run(['--forward', 'nohost']), /HOST:PORT/);
  await assert.rejects(run(['--shared-key', 'k']), /needs --forward/);
  assert.deepEqual(parseHostPort('[::1]:24224'), { host: '::1', port: 24224 });
});
