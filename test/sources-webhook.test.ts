/** Audit webhook router: 200 only after settlement, 400/401/405/413/415/503 with clear messages. */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { createWebhookRouter, jsonDepth, type WebhookOptions } from '../src/sources/webhook/index.ts';
import { auditEvent, quietLogs, sleep, TestDownstream } from './sources-helpers.ts';
import { Normalizer } from '../src/normalize/index.ts';
import type { Downstream, Receipt } from '../src/types/pipeline.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
before(async () => { logs = await quietLogs(); });
after(() => logs.restore());

const TOKEN = 'test-token-123';

async function serve(ds: TestDownstream, opts: Partial<WebhookOptions> = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use('/webhook/audit', createWebhookRouter({ downstream: ds, auth: { tokens: [TOKEN] }, ...opts }));
  const server: Server = await new Promise((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)); });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook/audit`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const eventList = (n: number) => ({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: Array.from({ length: n }, () => auditEvent()) });
const post = (url: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers } });

describe('audit webhook', () => {
  test('200 only after every event of the batch was settled', async () => {
    const ds = new TestDownstream('manual');
    const s = await serve(ds);
    try {
      const list = eventList(3);
      let done = false;
      const p = post(s.url, JSON.stringify(list)).then((r) => { done = true; return r; });
      await ds.waitForRecords(3);
      await sleep(100);
      assert.equal(done, false, 'answered before the events were stored');
      ds.settleAll();
      const res = await p;
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { received: 3, accepted: 3, duplicates: 0, rejected: 0 });
      assert.deepEqual(ds.records, list.items);
    } finally { await s.close(); }
  });

  test('gzip and deflate Content-Encoding', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds);
    try {
      const a = await post(s.url, zlib.gzipSync(JSON.stringify(eventList(2))), { 'content-encoding': 'gzip' });
      assert.equal(a.status, 200);
      const b = await post(s.url, zlib.deflateSync(JSON.stringify(eventList(1))), { 'content-encoding': 'deflate' });
      assert.equal(b.status, 200);
      assert.equal(ds.records.length, 3);
    } finally { await s.close(); }
  });

  test('400 with a clear message for bad JSON, a non-EventList, broken gzip', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds);
    try {
      const a = await post(s.url, '{"kind": "EventList", "items": [');
      assert.equal(a.status, 400);
      assert.match((await a.json() as { error: string }).error, /^invalid JSON: /);
      const b = await post(s.url, JSON.stringify({ kind: 'PodList', items: [] }));
      assert.equal(b.status, 400);
      assert.match((await b.json() as { error: string }).error, /expected an audit.k8s.io\/v1 EventList/);
      const c = await post(s.url, Buffer.from('not gzip'), { 'content-encoding': 'gzip' });
      assert.equal(c.status, 400);
      assert.equal(ds.records.length, 0);
    } finally { await s.close(); }
  });

  test('401 without or with a wrong bearer token', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds);
    try {
      const a = await fetch(s.url, { method: 'POST', body: JSON.stringify(eventList(1)) });
      assert.equal(a.status, 401);
      assert.match(a.headers.get('www-authenticate') ?? '', /Bearer/);
      const b = await post(s.url, JSON.stringify(eventList(1)), { authorization: 'Bearer nope' });
      assert.equal(b.status, 401);
      assert.match((await b.json() as { error: string }).error, /invalid bearer token/);
      assert.equal(ds.records.length, 0);
    } finally { await s.close(); }
  });

  test('no auth when explicitly disabled', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds, { auth: { noAuth: true } });
    try {
      const a = await fetch(s.url, { method: 'POST', body: JSON.stringify(eventList(1)) });
      assert.equal(a.status, 200);
    } finally { await s.close(); }
  });

  test('503 (Retry-After) when saturated, when the batch fails, when it is not stored in time', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds, { settleTimeout: 150 });
    try {
      ds.saturated = true;
      const a = await post(s.url, JSON.stringify(eventList(1)));
      assert.equal(a.status, 503);
      assert.equal(a.headers.get('retry-after'), '1');
      assert.equal(ds.records.length, 0, 'nothing taken while saturated');
      ds.saturated = false;

      ds.mode = 'fail';
      const b = await post(s.url, JSON.stringify(eventList(2)));
      assert.equal(b.status, 503);
      assert.match((await b.json() as { error: string }).error, /could not be stored: elasticsearch unavailable/);

      ds.mode = 'manual';
      const c = await post(s.url, JSON.stringify(eventList(1)));
      assert.equal(c.status, 503);
      assert.match((await c.json() as { error: string }).error, /not stored within 150 ms/);
    } finally { await s.close(); }
  });

  test('413 over the body limit (declared or streamed, before and after inflating)', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds, { maxBodyBytes: 2000 });
    try {
      const a = await post(s.url, JSON.stringify(eventList(5)));
      assert.equal(a.status, 413);
      const big = zlib.gzipSync(JSON.stringify({ kind: 'EventList', items: [], pad: 'x'.repeat(100_000) }));
      assert.ok(big.length < 2000);
      const b = await post(s.url, big, { 'content-encoding': 'gzip' });
      assert.equal(b.status, 413);
      assert.match((await b.json() as { error: string }).error, /decompressed body exceeds/);
    } finally { await s.close(); }
  });

  test('413 (not 500) for a chunked body over the limit, and the server goes on', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds, { maxBodyBytes: 64 * 1024 });
    try {
      const { port } = new URL(s.url);
      // a raw chunked request: no Content-Length, the limit is found while reading
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const sock = net.connect(Number(port), '127.0.0.1', () => {
          sock.write(`POST /webhook/audit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
          const chunk = 'x'.repeat(16 * 1024);
          for (let i = 0; i < 16; i++) sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        });
        let text = '';
        sock.on('data', (d) => { text += String(d); });
        sock.on('error', () => {});
        sock.on('close', () => {
          const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
          if (!status) reject(new Error(`no response: ${JSON.stringify(text.slice(0, 200))}`));
          else resolve({ status, body: text });
        });
      });
      assert.equal(res.status, 413);
      assert.match(res.body, /body exceeds the limit of 65536 bytes/);
      const ok = await post(s.url, JSON.stringify(eventList(1)));
      assert.equal(ok.status, 200);
    } finally { await s.close(); }
  });

  test('413 for a gzip body past the decompression ratio', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds, { maxDecompressionRatio: 10 });
    try {
      const bomb = zlib.gzipSync(JSON.stringify({ kind: 'EventList', items: [], pad: ' '.repeat(3_000_000) }));
      const r = await post(s.url, bomb, { 'content-encoding': 'gzip' });
      assert.equal(r.status, 413);
      assert.match((await r.json() as { error: string }).error, /max-decompression-ratio/);
    } finally { await s.close(); }
  });

  test('400 for JSON nested deeper than the limit (before parsing), strings with brackets do not count', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds, { maxDepth: 50 });
    try {
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      const r = await post(s.url, deep);
      assert.equal(r.status, 400);
      assert.match((await r.json() as { error: string }).error, /nested deeper than 50 levels/);
      assert.equal(ds.recordCount, 0);
      const list = eventList(1);
      (list.items[0] as unknown as Record<string, unknown>).note = '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{ \\" [[[[';
      assert.equal((await post(s.url, JSON.stringify(list))).status, 200);
    } finally { await s.close(); }
    assert.equal(jsonDepth(Buffer.from('{"a":[1,{"b":[]}],"c":"[[["}'), 100), 4);
  });

  test('accepted counts only valid audit events; the others are reported as rejected with their reason', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds);
    try {
      const list = { kind: 'EventList', items: [auditEvent(), 'not an event', { kind: 'Event' }, auditEvent()] };
      const r = await post(s.url, JSON.stringify(list));
      assert.equal(r.status, 200);
      const body = await r.json() as { received: number; accepted: number; rejected: number; errors: Array<{ index: number; reason: string }> };
      assert.equal(body.received, 4);
      assert.equal(body.accepted, 2);
      assert.equal(body.rejected, 2);
      assert.deepEqual(body.errors.map((e) => e.index), [1, 2]);
      assert.match(body.errors[1]!.reason, /auditID/);
    } finally { await s.close(); }
  });

  test('events normalize drops as copies of earlier ones are counted as duplicates, not accepted', async () => {
    // normalize for real; an event counts as stored as soon as it is released
    const normalize = new Normalizer({ reorderWait: 0, reorderHorizon: 0 });
    const ds: Downstream = {
      saturated: false,
      onDrain(cb) { queueMicrotask(cb); },
      push(records: unknown[], receipt?: Receipt) {
        normalize.push(records, receipt);
        for (const e of normalize.drain(true)) e.receipt?.settle();
      },
    };
    const s = await serve(ds as unknown as TestDownstream);
    try {
      const list = eventList(3);
      const first = await post(s.url, JSON.stringify(list));
      assert.deepEqual(await first.json(), { received: 3, accepted: 3, duplicates: 0, rejected: 0 });
      // the apiserver retries the batch, plus one new event and one copy inside the batch
      const fresh = auditEvent();
      const again = await post(s.url, JSON.stringify({ ...list, items: [...list.items, fresh, fresh] }));
      assert.equal(again.status, 200);
      assert.deepEqual(await again.json(), { received: 5, accepted: 1, duplicates: 4, rejected: 0 });
    } finally { await s.close(); }
  });

  test('415 unsupported encoding, 405 other methods, 200 for an empty batch', async () => {
    const ds = new TestDownstream('immediate');
    const s = await serve(ds);
    try {
      assert.equal((await post(s.url, 'x', { 'content-encoding': 'br' })).status, 415);
      assert.equal((await fetch(s.url)).status, 405);
      const e = await post(s.url, JSON.stringify(eventList(0)));
      assert.equal(e.status, 200);
    } finally { await s.close(); }
  });
});
