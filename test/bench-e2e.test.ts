/**
 * The end-to-end benchmark's tools: its forward peer gets every chunk acked by a real forward
 * input (acks only once the downstream settled), the raw path stores every event once in a
 * real Elasticsearch, the live re-timing keeps order and stage durations, and the profile
 * summary reads a real V8 profile.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { simulate } from '../src/simulate/index.ts';
import { encodeChunks, metricTotal, percentile, replay, retimed, topFrames, cpuSeconds } from '../src/bench/e2e.ts';
import http from 'node:http';
import { putRawTemplate, rawDownstream } from '../src/bench/raw-forward.ts';
import { ForwardServer } from '../src/sources/forward/index.ts';
import { createEsClient } from '../src/store/es-client.ts';
import type { Downstream, Receipt } from '../src/types/pipeline.ts';
import { quietLogs } from './sources-helpers.ts';
import net from 'node:net';
import { decode, encode } from '@msgpack/msgpack';
import { FrameScanner } from '../src/sources/forward/msgpack.ts';
import { extensionCodec } from '../src/sources/forward/protocol.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
before(async () => { logs = await quietLogs(); });
after(() => logs.restore());

const events = [...simulate({ seed: 5, durationMs: 60_000 })];

test('the bench peer gets every chunk acked, and only after the downstream settled it', async () => {
  const held: Array<{ n: number; r?: Receipt }> = [];
  let records = 0;
  const down: Downstream = {
    saturated: false,
    onDrain(cb) { cb(); },
    push(rs, r) { records += rs.length; held.push({ n: rs.length, r }); },
  };
  const server = new ForwardServer(down, { host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  try {
    const chunks = encodeChunks(events, 100);
    assert.equal(chunks.length, Math.ceil(events.length / 100));
    let resolved = false;
    const done = replay(port, chunks, chunks.length, 30_000).then((r) => { resolved = true; return r; });
    const deadline = Date.now() + 20_000;
    while (records < events.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(records, events.length, 'every record reached the downstream');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(resolved, false, 'no chunk is acked before its records are settled');
    for (const h of held) h.r?.settle(h.n);
    const r = await done;
    assert.ok(r.seconds > 0);
    assert.deepEqual([r.duplicateAcks, r.unknownAcks], [0, 0], 'the forward input acks each chunk once');
  } finally {
    await server.close({ graceMs: 0 });
  }
});

test('the bench peer counts a chunk once however often it is acked, and finishes only when every chunk is acked', async () => {
  // a peer that acks the first chunk at once, again with every later chunk, plus an id never sent, and the rest only on release
  const chunks = encodeChunks(events.slice(0, 400), 100);
  let release: () => void = () => {};
  const released = new Promise<void>((r) => { release = r; });
  const server = net.createServer((sock) => {
    const scanner = new FrameScanner();
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const n = scanner.scan(buf, 0, buf.length);
        if (!n) break;
        const [, , opt] = decode(buf.subarray(0, n), { extensionCodec }) as [string, Uint8Array, { chunk: string }];
        buf = buf.subarray(n);
        const ack = (id: string) => sock.write(encode({ ack: id }));
        if (opt.chunk === 'c0') { ack('c0'); ack('c0'); continue; }
        ack('c0'); ack('never-sent');
        void released.then(() => ack(opt.chunk));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    let resolved = false;
    const done = replay((server.address() as net.AddressInfo).port, chunks, 2, 30_000).then((r) => { resolved = true; return r; });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(resolved, false, 'duplicate acks of one chunk do not finish the replay nor free window slots');
    release();
    const r = await done;
    assert.equal(r.duplicateAcks, 1 + (chunks.length - 1));
    assert.equal(r.unknownAcks, chunks.length - 1);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('the raw path stores every event once, with the keyword template', async () => {
  const url = process.env.ELASTICSEARCH_URL;
  assert.ok(url, 'npm test provides ELASTICSEARCH_URL');
  const client = createEsClient({ elasticsearchUrl: url });
  const index = `bench-raw-test-${process.pid}`;
  await putRawTemplate(client, index);
  const down = rawDownstream(client, index);
  const server = new ForwardServer(down, { host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  try {
    await replay(port, encodeChunks(events, 200), 8, 60_000);
    await client.indices.refresh({ index });
    assert.equal((await client.count({ index })).count, new Set(events.map((e) => e.auditID)).size);
    assert.equal(down.failed, 0);
    const mapping = await client.indices.getMapping({ index });
    const props = Object.values(mapping)[0]!.mappings.properties as Record<string, { type?: string }>;
    assert.equal(props.requestObject?.type, 'flattened');
    assert.equal(props.verb?.type, 'keyword');
  } finally {
    await server.close({ graceMs: 0 });
    await client.indices.delete({ index }, { ignore: [404] });
    await client.indices.deleteIndexTemplate({ name: `${index}-template` }, { ignore: [404] });
    await client.close();
  }
});

test('live write amplification reads a counter summed over its label sets from a Prometheus page', async () => {
  const page = '# HELP kontext_store_bytes_sent_total x\nkontext_store_bytes_sent_total{index="a"} 100\nkontext_store_bytes_sent_total{index="b"} 23\nkontext_store_bytes_sent_total_other 5\n';
  const srv = http.createServer((_q, res) => { res.end(page); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    assert.equal(await metricTotal(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/metrics`, 'kontext_store_bytes_sent_total'), 123);
  } finally { await new Promise((r) => srv.close(r)); }
});

test('live re-timing: event times follow the rate from the start, order and stage durations kept', () => {
  const start = Date.parse('2030-01-01T00:00:00Z');
  const out = retimed(events.slice(0, 50), start, 1000);
  assert.equal(Date.parse(out[0]!.requestReceivedTimestamp), start);
  assert.equal(Date.parse(out[49]!.requestReceivedTimestamp), start + 49);
  for (let i = 0; i < 50; i++) {
    const a = events[i]!; const b = out[i]!;
    assert.equal(b.auditID, a.auditID);
    assert.equal(Date.parse(b.stageTimestamp) - Date.parse(b.requestReceivedTimestamp), Date.parse(a.stageTimestamp) - Date.parse(a.requestReceivedTimestamp));
  }
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(percentile([5, 1, 4, 2, 3], 95), 5);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('profile summary: self time by function and module of a real --cpu-prof run', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-prof-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '-e', 'function spin(){let x=0;for(let i=0;i<3e7;i++)x+=i%7;return x} spin()'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const f = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'))!;
    const { rows, modules, busyMs } = topFrames(path.join(dir, f), 10);
    assert.ok(busyMs > 0);
    assert.ok(rows.some((x) => x.fn === 'spin'), JSON.stringify(rows.slice(0, 5)));
    assert.ok(modules.length > 0);
    assert.ok(cpuSeconds(process.pid) > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
