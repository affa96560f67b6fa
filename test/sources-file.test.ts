/** File replay: JSONL, gzip by magic bytes, JSON documents, bad lines, blocks and receipts, backpressure, progress. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { replayFile } from '../src/sources/file/index.ts';
import { auditEvent, quietLogs, sleep, TestDownstream } from './sources-helpers.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
let dir: string;
before(async () => { logs = await quietLogs(); dir = mkdtempSync(path.join(tmpdir(), 'kontext-replay-')); });
after(() => { logs.restore(); rmSync(dir, { recursive: true, force: true }); });

const file = (name: string, content: string | Buffer) => { const p = path.join(dir, name); writeFileSync(p, content); return p; };
const jsonl = (evs: unknown[]) => evs.map((e) => JSON.stringify(e)).join('\n') + '\n';

describe('file replay', () => {
  test('JSON Lines with bad lines: good events pushed in blocks, bad lines counted with line numbers', async () => {
    const evs = Array.from({ length: 25 }, () => auditEvent());
    const lines = evs.map((e) => JSON.stringify(e));
    lines.splice(3, 0, '{"kind": "Event", "auditID": ');                  // line 4: broken JSON
    lines.splice(7, 0, '');                                               // line 8: empty, skipped
    lines.splice(10, 0, JSON.stringify({ hello: 'world' }));             // line 11: not an event
    lines.splice(15, 0, JSON.stringify({ ...auditEvent(), stage: 'Nope' })); // line 16: invalid stage
    const p = file('audit.log', lines.join('\r\n'));                      // CRLF, no final newline
    const ds = new TestDownstream('immediate');
    const r = await replayFile(p, ds, { blockSize: 10 });
    assert.equal(r.format, 'jsonl');
    assert.equal(r.compressed, false);
    assert.equal(r.records, 25);
    assert.equal(r.badLines, 3);
    assert.deepEqual(r.badLineSamples.map((b) => b.line), [4, 11, 16]);
    assert.match(r.badLineSamples[0]!.reason, /invalid JSON/);
    assert.match(r.badLineSamples[1]!.reason, /not an audit event/);
    assert.match(r.badLineSamples[2]!.reason, /invalid stage "Nope"/);
    assert.equal(r.blocks, 3);
    assert.deepEqual(ds.units.map((u) => u.records.length), [10, 10, 5]);
    assert.deepEqual(ds.records, evs);
    assert.deepEqual(await r.settled, { blocks: 3, acked: 3, failed: 0, errors: [] });
    assert.ok(logs.lines.some((l) => String(l.msg).includes('audit.log:4: invalid JSON')));
  });

  test('gzip is detected by its magic bytes, not the file name', async () => {
    const evs = Array.from({ length: 5 }, () => auditEvent());
    const p = file('audit-rotated.log', zlib.gzipSync(jsonl(evs)));
    const ds = new TestDownstream('immediate');
    const r = await replayFile(p, ds);
    assert.equal(r.compressed, true);
    assert.equal(r.records, 5);
    assert.deepEqual(ds.records, evs);
  });

  test('a truncated .gz replays what it holds and reports the cut', async () => {
    const evs = Array.from({ length: 200 }, () => auditEvent());
    const gz = zlib.gzipSync(jsonl(evs));
    const p = file('cut.log.gz', gz.subarray(0, Math.floor(gz.length * 0.6)));
    const ds = new TestDownstream('immediate');
    const r = await replayFile(p, ds);
    assert.ok(r.records > 0 && r.records < 200, `${r.records} events`);
    assert.match(r.badLineSamples.at(-1)!.reason, /gzip stream ends early/);
  });

  test('a JSON array file and a pretty-printed EventList file', async () => {
    const evs = Array.from({ length: 4 }, () => auditEvent());
    const ds = new TestDownstream('immediate');
    const a = await replayFile(file('events.json', JSON.stringify(evs)), ds);
    assert.equal(a.format, 'json');
    assert.equal(a.records, 4);
    const b = await replayFile(file('list.json', JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [...evs, { nope: 1 }] }, null, 2)), ds);
    assert.equal(b.format, 'json');
    assert.equal(b.records, 4);
    assert.deepEqual(b.badLineSamples.map((x) => x.line), [5]);
    await assert.rejects(replayFile(file('broken.json', '[\n{"a": 1},\n'), ds), /neither JSON Lines nor a valid JSON document/);
  });

  test('an EventList per line and wrapped records', async () => {
    const evs = Array.from({ length: 3 }, () => auditEvent());
    const p = file('mixed.log', [
      JSON.stringify({ kind: 'EventList', items: [evs[0], evs[1]] }),
      JSON.stringify({ log: JSON.stringify(evs[2]), stream: 'stdout' }),
    ].join('\n'));
    const ds = new TestDownstream('immediate');
    const r = await replayFile(p, ds);
    assert.equal(r.records, 3);
    assert.deepEqual(ds.records, evs);
  });

  test('a line longer than the limit is reported and skipped', async () => {
    const ev = auditEvent();
    const p = file('long.log', [JSON.stringify(auditEvent({ requestObject: { pad: 'x'.repeat(5000) } })), JSON.stringify(ev)].join('\n') + '\n');
    const ds = new TestDownstream('immediate');
    const r = await replayFile(p, ds, { maxLineBytes: 1000 });
    assert.equal(r.records, 1);
    assert.deepEqual(r.badLineSamples, [{ line: 1, reason: 'line longer than 1000 bytes' }]);
    assert.deepEqual(ds.records, [ev]);
  });

  test('reading pauses while the downstream is saturated', async () => {
    const evs = Array.from({ length: 50 }, () => auditEvent());
    const p = file('bp.log', jsonl(evs));
    const ds = new TestDownstream('immediate');
    ds.saturated = true;
    const run = replayFile(p, ds, { blockSize: 10 });
    await ds.waitForRecords(10);
    await sleep(100);
    assert.equal(ds.recordCount, 10, 'one block, then waiting for drain');
    ds.saturated = false;
    const r = await run;
    assert.equal(r.records, 50);
  });

  test('failed blocks are reported with their line range', async () => {
    const p = file('fail.log', jsonl(Array.from({ length: 6 }, () => auditEvent())));
    const ds = new TestDownstream('manual');
    const r = await replayFile(p, ds, { blockSize: 3 });
    ds.units[0]!.receipt!.settle(3);
    ds.units[1]!.receipt!.fail(new Error('bulk write rejected'));
    const s = await r.settled;
    assert.equal(s.acked, 1);
    assert.deepEqual(s.errors, [{ firstLine: 4, lastLine: 6, error: 'bulk write rejected' }]);
  });

  test('a progress bar by bytes', async () => {
    const p = file('progress.log', jsonl(Array.from({ length: 20 }, () => auditEvent())));
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => { text += d.toString(); });
    const r = await replayFile(p, new TestDownstream('immediate'), { progress: true, progressStream: out as unknown as NodeJS.WriteStream });
    assert.match(text, /ingest progress\.log .*100\.0% .*bytes .*20 events/);
    assert.ok(r.bytes > 0);
  });

  test('a missing file is a clear error', async () => {
    await assert.rejects(replayFile(path.join(dir, 'nope.log'), new TestDownstream()), /ENOENT/);
  });
});
