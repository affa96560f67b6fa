/**
 * The pipeline's own duties: receipts settle only once the sink stored the events,
 * backpressure while too much is in flight or the sink is unhealthy, idle release on the
 * wall clock, and a complete flush. Stages are the real ones; the sink is a controllable
 * stand-in (the Elasticsearch writer has its own tests, and e2e.test.ts runs it all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pipeline } from '../src/pipeline/pipeline.ts';
import { Normalizer } from '../src/normalize/index.ts';
import { createLabeler } from '../src/label/index.ts';
import { createClusterer } from '../src/cluster/index.ts';
import type { ContextSink, ContextWrite, WriteResult } from '../src/cluster/types.ts';
import type { ContextDoc } from '../src/types/context.ts';
import { UnitReceipt } from '../src/sources/receipt.ts';
import { simulate } from '../src/simulate/index.ts';
import { setLogLevel } from '../src/util/log.ts';

setLogLevel('error');

class FakeSink implements ContextSink {
  healthy = true;
  hold = false;
  backlog = 0;
  backlogDocs = 0;
  stored = new Map<string, ContextDoc>();
  private queue: { batch: ContextWrite[]; resolve: (r: WriteResult) => void }[] = [];
  private subs = new Set<(docs: ContextDoc[]) => void>();
  write(batch: ContextWrite[]): Promise<WriteResult> {
    this.backlog += batch.reduce((n, w) => n + w.newEvents, 0);
    this.backlogDocs += batch.length;
    return new Promise((resolve) => { this.queue.push({ batch, resolve }); this.pump(); });
  }
  release(): void { this.hold = false; this.healthy = true; this.pump(); }
  private pump(): void {
    if (this.hold) return;
    for (const { batch, resolve } of this.queue.splice(0)) {
      for (const w of batch) {
        this.stored.set(w.doc.id, w.doc);
        for (const r of w.receipts) r.receipt.settle(r.n);
        this.backlog -= w.newEvents;
        this.backlogDocs--;
      }
      for (const s of this.subs) s(batch.map((w) => w.doc));
      resolve({ stored: batch.length, rejected: 0 });
    }
  }
  onStored(cb: (docs: ContextDoc[]) => void): () => void { this.subs.add(cb); return () => this.subs.delete(cb); }
  async close(): Promise<void> { this.release(); }
}

async function build(sink: FakeSink, maxInFlight = 100_000) {
  const label = await createLabeler({ modelDir: undefined });
  return new Pipeline(
    { normalize: new Normalizer({ lateness: 500 }), label, cluster: createClusterer({ idleMs: 5000 }), sink },
    { flushInterval: 20, maxInFlight, idleRelease: 30 },
  );
}

const events = [...simulate({ seed: 5, durationMs: 60_000, users: 2 })];

test('receipts settle only after the sink stored the events; flushAll stores everything', async () => {
  const sink = new FakeSink();
  sink.hold = true;
  const p = await build(sink);
  const receipts = [];
  for (let i = 0; i < events.length; i += 250) {
    const r = new UnitReceipt(Math.min(250, events.length - i));
    p.push(events.slice(i, i + 250), r);
    receipts.push(r);
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(receipts.every((r) => r.state === 'pending'), 'nothing settles while the sink holds');
  assert.ok(p.inFlight > 0);
  sink.release();
  await p.flushAll();
  await Promise.all(receipts.map((r) => r.done));
  const members = [...sink.stored.values()].reduce((n, d) => n + d.members.length, 0);
  assert.equal(members, events.length, 'every event is a member of exactly one stored context');
  assert.equal(p.inFlight, 0);
  await p.stop();
});

test('backpressure: saturated above max in flight or while the sink is unhealthy; drain fires after', async () => {
  const sink = new FakeSink();
  sink.hold = true;
  const p = await build(sink, 500);
  p.push(events.slice(0, 800), new UnitReceipt(800));
  assert.equal(p.saturated, true);
  let drained = false;
  p.onDrain(() => { drained = true; });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(drained, false);
  sink.release();
  await p.flushAll();
  assert.equal(p.saturated, false);
  assert.equal(drained, true);
  sink.healthy = false;
  assert.equal(p.saturated, true, 'an unhealthy sink pauses sources');
  sink.healthy = true;
  await p.stop();
});

test('a quiet input is released and its contexts close on the wall clock', async () => {
  const sink = new FakeSink();
  const p = await build(sink);
  const closed: ContextDoc[] = [];
  p.subscribeClosed((d) => closed.push(d));
  const first = events.slice(0, 40);
  const r = new UnitReceipt(first.length);
  p.push(first, r);
  const keepAlive = setInterval(() => {}, 50); // the pipeline's own timer does not hold the process
  await r.done; // released and stored without any newer event arriving
  clearInterval(keepAlive);
  assert.ok(sink.stored.size > 0);
  assert.ok(p.watermark()! >= Date.parse(first.at(-1)!.requestReceivedTimestamp));
  await p.stop();
  assert.ok(closed.length > 0, 'stop closes and publishes every context');
  assert.ok(closed.every((d) => d.state === 'closed'));
  p.push(events.slice(40, 41), new UnitReceipt(1));
});
