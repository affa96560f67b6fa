/** Normalize: unwrap every record form, validate, dedupe, keep the final stage, reorder, bounded memory, receipts. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createNormalizer, parseAuditTime, unwrapRecord, validateEvent } from '../src/normalize/index.ts';
import { UnitReceipt } from '../src/sources/receipt.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import { counter } from '../src/util/metrics.ts';
import { auditEvent, quietLogs } from './sources-helpers.ts';

let logs: Awaited<ReturnType<typeof quietLogs>>;
before(async () => { logs = await quietLogs(); });
after(() => logs.restore());

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z'); // microseconds, as the apiserver writes
const at = (ms: number, o: Partial<AuditEvent> = {}) => auditEvent({ requestReceivedTimestamp: iso(ms), stageTimestamp: iso(ms), ...o });
const ids = (evs: { audit: AuditEvent }[]) => evs.map((e) => e.audit.auditID);

describe('time', () => {
  test('RFC 3339 with microseconds and offsets', () => {
    assert.equal(parseAuditTime('2026-01-01T10:00:00.123456Z'), T0 + 123.456);
    assert.equal(parseAuditTime('2026-01-01T10:00:00Z'), T0);
    assert.equal(parseAuditTime('2026-01-01T12:00:00.5+02:00'), T0 + 500);
    assert.equal(parseAuditTime('2026-01-01T09:30:00-00:30'), T0);
    for (const bad of ['2026-01-01', 'yesterday', '2026-13-01T00:00:00Z', 1767261600, undefined]) assert.ok(Number.isNaN(parseAuditTime(bad)), String(bad));
  });
});

describe('unwrap', () => {
  const ev = auditEvent();
  const line = JSON.stringify(ev);
  const cases: [string, unknown][] = [
    ['the event itself', ev],
    ['an EventList', { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [ev] }],
    ['Fluent Bit tail without parser: {log: json}', { log: line }],
    ['syslog style: {message: json}', { message: line, host: 'cp-1' }],
    ['msgpack bin in log', { log: new Uint8Array(Buffer.from(line)) }],
    ['JSON text', line],
    ['kubernetes-enriched, event under some key', { stream: 'stdout', kubernetes: { pod_name: 'kube-apiserver-cp-1' }, audit_payload: ev }],
    ['kubernetes-enriched, event JSON under some key', { kubernetes: { pod_name: 'x' }, payload_json: line }],
    ['nested wrapper', { log: JSON.stringify({ message: line }) }],
  ];
  for (const [name, rec] of cases) {
    test(name, () => {
      const c = unwrapRecord(rec);
      assert.equal(c.length, 1);
      assert.ok('event' in c[0]!, JSON.stringify(c[0]));
      assert.deepEqual(c[0].event, ev);
    });
  }

  test('merged fields (kubernetes filter Merge_Log): shipper fields removed, event intact, original untouched', () => {
    const merged = { ...ev, stream: 'stdout', time: '2026-01-01T10:00:00Z', logtag: 'F', kubernetes: { pod_name: 'kube-apiserver' } };
    const c = unwrapRecord(merged)[0]!;
    assert.ok('event' in c);
    assert.deepEqual(c.event, ev);
    assert.ok('kubernetes' in merged);
  });

  test('an array of events and EventList items', () => {
    assert.equal(unwrapRecord([ev, { log: line }]).length, 2);
    const c = unwrapRecord({ kind: 'EventList', items: [ev, 42] });
    assert.ok('reject' in c[1]! && /item 1/.test(c[1].reject));
  });

  const bad: [string, unknown, RegExp][] = [
    ['no event', { foo: 1, bar: 'x' }, /not an audit event: an object with keys foo, bar/],
    ['a number', 42, /not an audit event: a number/],
    ['broken JSON in log', { log: '{"auditID": ' }, /not an audit event: .*log: invalid JSON/],
    ['plain text log line', { log: 'I0101 10:00:00 started' }, /not an audit event/],
    ['broken JSON text', '{"kind":', /invalid JSON/],
  ];
  for (const [name, rec, re] of bad) {
    test(`rejects ${name}`, () => {
      const c = unwrapRecord(rec);
      assert.ok(c.every((x) => 'reject' in x));
      assert.match((c[0] as { reject: string }).reject, re);
    });
  }
});

describe('validate', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['missing auditID', { auditID: undefined }, /missing auditID/],
    ['empty auditID', { auditID: '' }, /auditID must be a non-empty string/],
    ['bad stage', { stage: 'Done' }, /invalid stage "Done"/],
    ['missing requestReceivedTimestamp', { requestReceivedTimestamp: undefined }, /missing requestReceivedTimestamp .*Time_Keep On/],
    ['bad requestReceivedTimestamp', { requestReceivedTimestamp: '01/01/2026' }, /invalid requestReceivedTimestamp/],
    ['verb not a string', { verb: 7 }, /verb must be a string/],
    ['missing requestURI', { requestURI: undefined }, /missing requestURI/],
    ['user not an object', { user: 'alice' }, /user must be an object/],
    ['other kind', { kind: 'Pod' }, /kind is "Pod"/],
    ['v1beta1', { apiVersion: 'audit.k8s.io/v1beta1' }, /apiVersion "audit.k8s.io\/v1beta1" is not supported/],
    ['bad level', { level: 'Everything' }, /invalid level/],
  ];
  for (const [name, patch, re] of cases) {
    test(name, () => {
      const e = { ...auditEvent(), ...patch };
      for (const k of Object.keys(patch)) if (patch[k] === undefined) delete (e as Record<string, unknown>)[k];
      const v = validateEvent(e);
      assert.equal(v.ok, false);
      assert.match((v as { reason: string }).reason, re);
    });
  }
  test('failed authentication events (empty user) are kept', () => {
    assert.equal(validateEvent(auditEvent({ user: {} as AuditEvent['user'] })).ok, true);
  });
});

describe('normalize stage', () => {
  test('rejected records settle their receipt share, with a metric and a debug log', () => {
    const n = createNormalizer();
    const r = new UnitReceipt(3);
    const rejected = counter('kontext_normalize_rejected_total', '');
    const before = rejected.get({ reason: 'not-an-event' }) + rejected.get({ reason: 'missing-field' });
    n.push([{ hello: 'world' }, { ...auditEvent(), auditID: undefined }, auditEvent()], r);
    assert.equal(r.outstanding, 1);
    assert.equal(n.stats().rejected, 2);
    assert.equal(n.stats().deadLettered, 1, 'the invalid event is a dead letter; the record without an event is not');
    assert.equal(rejected.get({ reason: 'not-an-event' }) + rejected.get({ reason: 'missing-field' }), before + 2);
    const out = n.drain(true);
    assert.equal(out.length, 1);
    out[0]!.receipt!.settle();
    assert.equal(r.state, 'done');
  });

  test('a duplicate (same auditID and stage) is dropped and settles when the original is stored', () => {
    const n = createNormalizer({ reorderHorizon: 0 });
    const e = at(T0);
    const r1 = new UnitReceipt(1); const r2 = new UnitReceipt(1);
    n.push([e], r1);
    n.push([structuredClone(e)], r2);
    assert.equal(r2.state, 'pending', 'not acked before the original is stored');
    const out = n.drain(true);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.audit, e);
    // a copy re-sent while the original is on its way to the store waits too
    const r3 = new UnitReceipt(1);
    n.push([structuredClone(e)], r3);
    assert.equal(n.drain(true).length, 0);
    assert.deepEqual([r1.state, r2.state, r3.state], ['pending', 'pending', 'pending']);
    out[0]!.receipt!.settle();
    assert.deepEqual([r1.state, r2.state, r3.state], ['done', 'done', 'done']);
    // once stored, a copy is acked at once
    const r4 = new UnitReceipt(1);
    n.push([structuredClone(e)], r4);
    assert.equal(r4.state, 'done');
    assert.equal(n.drain(true).length, 0);
    assert.equal(n.stats().duplicates, 3);
  });

  test('when the original fails, its waiting copies fail and a re-sent unit is processed and stored', () => {
    const n = createNormalizer({ reorderHorizon: 0 });
    const e = at(T0);
    const r1 = new UnitReceipt(1); const r2 = new UnitReceipt(1);
    n.push([e], r1);
    const [first] = n.drain(true);
    n.push([structuredClone(e)], r2);
    first!.receipt!.fail(new Error('bulk rejected'));
    assert.deepEqual([r1.state, r2.state], ['failed', 'failed']);
    assert.equal(n.unstored, 0, 'the auditID is forgotten');
    const r3 = new UnitReceipt(1);
    n.push([structuredClone(e)], r3);
    const again = n.drain(true);
    assert.equal(again.length, 1, 'the re-sent copy goes downstream again');
    again[0]!.receipt!.settle();
    assert.equal(r3.state, 'done');
  });

  test('only the final stage is kept, whatever the arrival order', () => {
    const n = createNormalizer({ reorderHorizon: 1000 });
    const a = at(T0, { stage: 'RequestReceived', auditID: 'a' });
    const aDone = at(T0, { stage: 'ResponseComplete', auditID: 'a' });
    const b = at(T0 + 1, { stage: 'ResponseComplete', auditID: 'b' });
    const bEarly = at(T0 + 1, { stage: 'RequestReceived', auditID: 'b' });
    const c = at(T0 + 2, { stage: 'ResponseStarted', auditID: 'c' });
    const cPanic = at(T0 + 2, { stage: 'Panic', auditID: 'c' });
    const rs = [a, aDone, b, bEarly, c, cPanic].map(() => new UnitReceipt(1));
    [a, aDone, b, bEarly, c, cPanic].forEach((e, i) => n.push([e], rs[i]));
    assert.ok(rs.every((r) => r.state === 'pending'), 'superseded stages wait for the kept one');
    const out = n.drain(true);
    assert.deepEqual(out.map((e) => `${e.audit.auditID}:${e.audit.stage}`), ['a:ResponseComplete', 'b:ResponseComplete', 'c:Panic']);
    assert.deepEqual(out[0]!.audit, aDone, 'the event passes through unchanged (held as its JSON text)');
    for (const e of out) e.receipt!.settle();
    assert.ok(rs.every((r) => r.state === 'done'), 'all settle once the kept stages are stored');
  });

  test('a long-running watch seen only at ResponseStarted is released when it ages out; its late ResponseComplete is dropped', () => {
    const n = createNormalizer({ reorderHorizon: 1000 });
    const watch = at(T0, { stage: 'ResponseStarted', verb: 'watch', auditID: 'watch-1' });
    n.push([watch]);
    assert.equal(n.drain().length, 0, 'held within the window');
    n.push([at(T0 + 5000)]);
    const out = n.drain();
    assert.deepEqual(out.map((e) => `${e.audit.auditID}:${e.audit.stage}`), ['watch-1:ResponseStarted']);
    const r = new UnitReceipt(1);
    n.push([at(T0, { stage: 'ResponseComplete', verb: 'watch', auditID: 'watch-1' })], r);
    assert.equal(r.state, 'pending', 'waits for the released stage to be stored');
    out[0]!.receipt!.settle();
    assert.equal(r.state, 'done');
    assert.ok(!ids(n.drain(true)).includes('watch-1'), 'the late stage is not released again');
    assert.equal(n.stats().afterRelease, 1);
  });

  test('events are put in requestReceivedTimestamp order within the reorder horizon', () => {
    const n = createNormalizer({ reorderHorizon: 1000 });
    const e = [at(T0 + 300), at(T0), at(T0 + 900), at(T0 + 100), at(T0 + 2500), at(T0 + 1200)];
    n.push(e);
    // newest 2500, watermark 1500: everything up to 1200 goes, in order
    const first = n.drain();
    assert.deepEqual(first.map((x) => x.time - T0), [0, 100, 300, 900, 1200]);
    assert.equal(n.pending, 1);
    // late: older than what was released; released at the next drain, counted
    n.push([at(T0 + 50)]);
    assert.equal(n.stats().late, 1);
    assert.deepEqual(n.drain().map((x) => x.time - T0), [50]);
    assert.deepEqual(n.drain(true).map((x) => x.time - T0), [2500]);
  });

  test('microseconds order events within one millisecond', () => {
    const n = createNormalizer({ reorderHorizon: 0 });
    const x = auditEvent({ requestReceivedTimestamp: '2026-01-01T10:00:00.000900Z' });
    const y = auditEvent({ requestReceivedTimestamp: '2026-01-01T10:00:00.000100Z' });
    n.push([x, y]);
    assert.deepEqual(ids(n.drain(true)), [y.auditID, x.auditID]);
  });

  test('memory is bounded: at most maxPending events held, the oldest go early', () => {
    const n = createNormalizer({ reorderHorizon: 3_600_000, maxPending: 10 });
    for (let i = 0; i < 100; i++) {
      n.push([at(T0 + i * 10)]);
      n.drain();
      assert.ok(n.pending <= 10);
    }
    assert.equal(n.stats().forced, 90);
  });

  test('dedupe memory is bounded by dedupeCapacity', () => {
    const n = createNormalizer({ reorderHorizon: 0, dedupeCapacity: 5 });
    const evs = Array.from({ length: 10 }, (_, i) => at(T0 + i));
    n.push(evs);
    const out = n.drain(true);
    assert.equal(out.length, 10);
    for (const e of out) e.receipt!.settle();
    n.push([structuredClone(evs[9]!)]);
    assert.equal(n.drain(true).length, 0, 'recent auditID still remembered');
    n.push([structuredClone(evs[0]!)]);
    assert.equal(n.drain(true).length, 1, 'the oldest was forgotten');
  });

  test('an EventList record settles its share once all its events settled; a failure fails the unit', () => {
    const n = createNormalizer({ reorderHorizon: 0 });
    const ok = new UnitReceipt(2);
    n.push([{ kind: 'EventList', items: [at(T0), at(T0 + 1), at(T0 + 2)] }, at(T0 + 3)], ok);
    const out = n.drain(true);
    assert.equal(out.length, 4);
    for (const e of out.slice(0, 3)) e.receipt!.settle();
    assert.equal(ok.outstanding, 1, 'the list counts as one record');
    out[3]!.receipt!.settle();
    assert.equal(ok.state, 'done');

    const bad = new UnitReceipt(1);
    n.push([{ kind: 'EventList', items: [at(T0 + 10), at(T0 + 11)] }], bad);
    const out2 = n.drain(true);
    out2[0]!.receipt!.settle();
    out2[1]!.receipt!.fail(new Error('es down'));
    assert.equal(bad.state, 'failed');
  });

  test('ground truth annotations pass through untouched', () => {
    const n = createNormalizer({ reorderHorizon: 0 });
    const e = at(T0, { annotations: { 'sim.kontext.io/label': 'create apps/deployments', 'sim.kontext.io/context': 'ctx-42' } });
    n.push([{ log: JSON.stringify(e) }]);
    const [out] = n.drain(true);
    assert.deepEqual(out!.audit.annotations, e.annotations);
  });
});

describe('reorder: live and catching up', () => {
  test('live (event time ≈ wall clock): an event goes once what arrived after it has waited reorder-wait', () => {
    let now = T0 + 1000;
    const n = createNormalizer({ reorderWait: 2000, now: () => now });
    n.push([at(T0 + 500), at(T0 + 200)]);
    assert.equal(n.drain().length, 0, 'waiting for older events');
    now += 1000;
    n.push([at(T0 + 100)]); // a chunk delivered late, within the wait
    now += 1100;
    assert.deepEqual(n.drain().map((e) => e.time - T0), [100, 200, 500], 'put in place');
    assert.equal(n.stats().late, 0);
  });

  test('catching up (a backlog hours behind the wall clock): order over the horizon, everything goes once arrivals stop', () => {
    let now = T0 + 6 * 3_600_000;
    const n = createNormalizer({ reorderWait: 2000, reorderHorizon: 3_600_000, now: () => now });
    // chunks 40 minutes of event time apart, delivered newest first, seconds apart in wall time
    for (const m of [40, 0, 20]) { n.push([at(T0 + m * 60_000), at(T0 + m * 60_000 + 1)]); now += 1500; n.drain(); }
    assert.equal(n.pending, 6, 'held: still arriving');
    now += 2000;
    assert.deepEqual(n.drain().map((e) => Math.round((e.time - T0) / 60_000)), [0, 0, 20, 20, 40, 40]);
    assert.equal(n.stats().late, 0);
  });
});

describe('byte bound', () => {
  test('the pipeline pauses sources once normalize holds max-buffer bytes; the oldest go early past it', async () => {
    const { Pipeline } = await import('../src/pipeline/pipeline.ts');
    const { createLabeler } = await import('../src/label/index.ts');
    const { createClusterer } = await import('../src/cluster/index.ts');
    const n = createNormalizer({ maxBytes: 20_000, reorderWait: 60_000 });
    const sink = {
      healthy: true, backlog: 0, backlogDocs: 0,
      async write(b: { receipts: { receipt: { settle(n: number): void }; n: number }[] }[]) { for (const w of b) for (const r of w.receipts) r.receipt.settle(r.n); return { stored: b.length, rejected: 0 }; },
      onStored: () => () => {}, async close() {},
    };
    const p = new Pipeline({ normalize: n, label: await createLabeler({}), cluster: createClusterer({}), sink: sink as never }, { flushInterval: 1000, maxInFlight: 100_000 });
    try {
      let drained = false;
      for (let i = 0; i < 200 && !p.saturated; i++) p.push([at(T0 + i)]);
      assert.equal(p.saturated, true, 'saturated by bytes, far below max-in-flight');
      assert.ok(n.pendingBytes >= 20_000 && n.pending < 200);
      p.onDrain(() => { drained = true; });
      assert.equal(drained, false);
      const out = n.drain();
      assert.ok(out.length > 0 && n.pendingBytes <= 20_000, 'past the bound the oldest are released early');
      assert.ok(n.stats().forced > 0);
      for (const e of out) e.receipt?.settle();
      await p.flushAll();
      assert.equal(p.saturated, false);
      assert.equal(drained, true, 'sources resume');
    } finally {
      await p.stop();
    }
  });
});
